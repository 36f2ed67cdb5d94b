#include "agent/edge_proxy_stats.h"

#include <charconv>
#include <cstdio>
#include <map>
#include <sstream>

#include "agent/edge_proxy_config.h"

namespace axion::agent::proxy {

namespace {

std::vector<std::string> split_csv(const std::string& line) {
  std::vector<std::string> out;
  std::string field;
  for (char ch : line) {
    if (ch == ',') {
      out.push_back(std::move(field));
      field.clear();
    } else {
      field += ch;
    }
  }
  out.push_back(std::move(field));
  return out;
}

std::uint64_t number(const std::vector<std::string>& row, int column) {
  if (column < 0 || static_cast<std::size_t>(column) >= row.size()) return 0;
  const std::string& v = row[static_cast<std::size_t>(column)];
  std::uint64_t n = 0;
  std::from_chars(v.data(), v.data() + v.size(), n);
  return n;
}

bool filled(const std::vector<std::string>& row, int column) {
  return column >= 0 && static_cast<std::size_t>(column) < row.size() &&
         !row[static_cast<std::size_t>(column)].empty();
}

std::string percent(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", rate * 100);
  return buf;
}

}  // namespace

std::vector<ServerCounters> parse_stat_csv(const std::string& text) {
  std::vector<ServerCounters> out;
  std::map<std::string, int> col;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("# ", 0) == 0) {
      col.clear();
      const auto names = split_csv(line.substr(2));
      for (std::size_t i = 0; i < names.size(); ++i) col[names[i]] = static_cast<int>(i);
      continue;
    }
    if (line.empty() || col.empty()) continue;
    const auto at = [&](const char* name) {
      const auto it = col.find(name);
      return it == col.end() ? -1 : it->second;
    };
    const auto row = split_csv(line);
    if (row.size() < col.size() || row[1] == "FRONTEND" || row[1] == "BACKEND" || row[0].empty())
      continue;
    ServerCounters c;
    c.backend = row[0];
    c.server = row[1];
    const std::uint64_t errors = number(row, at("econ")) + number(row, at("eresp"));
    if (filled(row, at("hrsp_2xx"))) {
      std::uint64_t responses = 0;
      for (const char* h :
           {"hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other"})
        responses += number(row, at(h));
      c.requests = responses + errors;
      c.failed = number(row, at("hrsp_5xx")) + errors;
    } else {
      c.requests = number(row, at("stot"));
      c.failed = errors;
    }
    if (c.failed > c.requests) c.requests = c.failed;
    out.push_back(std::move(c));
  }
  return out;
}

Result<TrafficReport> report_traffic(const std::vector<ServerCounters>& counters,
                                     const std::string& service,
                                     const std::vector<std::string>& instances) {
  const std::string backend = backend_name(service);
  std::map<std::string, const ServerCounters*> servers;
  for (const auto& c : counters)
    if (c.backend == backend) servers[c.server] = &c;
  if (servers.empty()) {
    return not_found("the edge proxy routes no traffic of service '" + service + "' (no backend " +
                     backend + ")");
  }
  TrafficReport r;
  std::string each;
  for (const auto& id : instances) {
    const auto it = servers.find(id);
    each += (each.empty() ? "" : ", ") + id + " ";
    if (it == servers.end()) {
      each += "not in the proxy";
      continue;
    }
    r.requests += it->second->requests;
    r.failed += it->second->failed;
    each += std::to_string(it->second->failed) + "/" + std::to_string(it->second->requests);
  }
  r.error_rate = r.requests == 0 ? 0 : static_cast<double>(r.failed) / r.requests;
  r.detail = service + ": " + std::to_string(r.failed) + " of " + std::to_string(r.requests) +
             " requests failed (" + percent(r.error_rate) + "): " + each;
  return r;
}

}  // namespace axion::agent::proxy
