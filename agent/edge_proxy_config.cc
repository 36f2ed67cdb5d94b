#include "agent/edge_proxy_config.h"

#include <arpa/inet.h>

#include <cstdlib>
#include <set>
#include <sstream>

#include "agent/runtime.h"

namespace axion::agent::proxy {

namespace {

// "12345" -> 12345 if all digits and within [1, 65535]; 0 otherwise.
std::uint16_t parse_port(const std::string& text) {
  if (text.empty() || text.size() > 5) return 0;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value >= 1 && value <= 65535 ? static_cast<std::uint16_t>(value) : 0;
}

// Quotes a value for an error message without letting control characters through.
std::string shown(const std::string& value) {
  std::string out = "'";
  for (char c : value.substr(0, 80)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      static const char* hex = "0123456789abcdef";
      out += "\\x";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  return out + (value.size() > 80 ? "...'" : "'");
}

Result<Backend> validate_backend(const axion::v1::ProxyBackend& in, const std::string& field) {
  Backend b;
  if (!is_dns_label(in.instance_id())) {
    return invalid_field(field + ".instance_id",
                         field + ".instance_id " + shown(in.instance_id()) +
                             " is not a DNS label (1-63 of a-z, 0-9 and '-', starting and ending "
                             "with a letter or digit)");
  }
  b.instance_id = in.instance_id();
  const std::string& address = in.address();
  const auto colon = address.rfind(':');
  const std::string host = colon == std::string::npos ? address : address.substr(0, colon);
  if (colon == std::string::npos || !(host == "localhost" || is_ipv4_literal(host))) {
    return invalid_field(field + ".address",
                         field + ".address " + shown(address) +
                             " must be \"host:port\" with an IPv4 literal or localhost as host");
  }
  b.host = host == "localhost" ? "127.0.0.1" : host;
  b.port = parse_port(address.substr(colon + 1));
  if (b.port == 0) {
    return invalid_field(field + ".address",
                         field + ".address " + shown(address) + " has no valid port (1-65535)");
  }
  if (in.weight() > kMaxWeight) {
    return invalid_field(field + ".weight", field + ".weight " + std::to_string(in.weight()) +
                                                " is out of range (0-256; 0 drains the backend)");
  }
  b.weight = in.weight();
  return b;
}

void render_route(std::ostringstream& out, const Route& r, const std::string& bind_address) {
  const char* mode = r.mode == ProxyMode::kHttp ? "http" : "tcp";
  out << "\nfrontend " << frontend_name(r.service) << "\n"
      << "    mode " << mode << "\n"
      << "    bind " << bind_address << ":" << r.listen_port << "\n"
      << "    default_backend " << backend_name(r.service) << "\n";
  if (r.mode == ProxyMode::kHttp) {
    // After a reload the old worker keeps a client's idle keep-alive connection open and
    // answers its next request with "Connection: close", instead of closing it while that
    // request may be on its way (which the client would see as a failed request).
    out << "    option idle-close-on-response\n";
  }
  out << "\nbackend " << backend_name(r.service) << "\n"
      << "    mode " << mode << "\n"
      << "    balance roundrobin\n";
  if (r.mode == ProxyMode::kHttp) {
    // A request that found a server connection closed under it (a backend restarting, an idle
    // keep-alive connection timing out) is sent again, but only if repeating it is harmless.
    out << "    retry-on conn-failure empty-response\n"
        << "    http-request disable-l7-retry if !METH_GET\n";
  }
  for (const Backend& b : r.backends) {
    out << "    server " << b.instance_id << " " << b.address() << " weight " << b.weight
        << " check inter 500ms\n";
  }
}

// What a reload is needed for: everything but weights and addresses.
struct Shape {
  std::uint16_t listen_port;
  ProxyMode mode;
  std::vector<std::string> servers;
  bool operator==(const Shape&) const = default;
};

std::map<std::string, Shape> shape_of(const ProxyTable& table) {
  std::map<std::string, Shape> out;
  for (const auto& [service, route] : table) {
    Shape s{route.listen_port, route.mode, {}};
    for (const Backend& b : route.backends) s.servers.push_back(b.instance_id);
    out.emplace(service, std::move(s));
  }
  return out;
}

}  // namespace

bool is_ipv4_literal(const std::string& value) {
  in_addr parsed{};
  // inet_pton takes exactly the dotted quad (no shorthand, no hex, no trailing text).
  return !value.empty() && value.size() <= 15 && inet_pton(AF_INET, value.c_str(), &parsed) == 1;
}

bool is_safe_config_path(const std::string& path) {
  if (path.empty() || path.front() != '/') return false;
  for (char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
    if (c == '"' || c == '\'' || c == '#' || c == '\\' || c == '$') return false;
  }
  return true;
}

Result<Route> validate_proxy_spec(const axion::v1::ProxySpec& spec) {
  Route r;
  if (!is_dns_label(spec.service())) {
    return invalid_field("spec.proxy.service",
                         "spec.proxy.service " + shown(spec.service()) +
                             " is not a DNS label (1-63 of a-z, 0-9 and '-', starting and ending "
                             "with a letter or digit)");
  }
  r.service = spec.service();
  if (spec.listen_port() < 1 || spec.listen_port() > 65535) {
    return invalid_field("spec.proxy.listen_port", "spec.proxy.listen_port " +
                                                       std::to_string(spec.listen_port()) +
                                                       " is out of range (1-65535)");
  }
  r.listen_port = static_cast<std::uint16_t>(spec.listen_port());
  switch (spec.protocol()) {
    case axion::v1::PORT_PROTOCOL_HTTP:
      r.mode = ProxyMode::kHttp;
      break;
    case axion::v1::PORT_PROTOCOL_TCP:
    case axion::v1::PORT_PROTOCOL_UNSPECIFIED:
      r.mode = ProxyMode::kTcp;
      break;
    default:
      return invalid_field("spec.proxy.protocol",
                           "spec.proxy.protocol " + axion::v1::PortProtocol_Name(spec.protocol()) +
                               " is not supported by the edge proxy (HAProxy proxies HTTP and "
                               "TCP only)");
  }
  if (spec.backends().empty()) {
    return invalid_field("spec.proxy.backends",
                         "spec.proxy.backends is empty: give at least one backend (weight 0 "
                         "drains one)");
  }
  std::set<std::string> seen;
  for (int i = 0; i < spec.backends_size(); ++i) {
    const std::string field = "spec.proxy.backends[" + std::to_string(i) + "]";
    auto backend = validate_backend(spec.backends(i), field);
    if (!backend.ok()) return backend.status();
    if (!seen.insert(backend->instance_id).second) {
      return invalid_field(field + ".instance_id", field + ".instance_id '" + backend->instance_id +
                                                       "' appears twice in the backends");
    }
    r.backends.push_back(std::move(*backend));
  }
  return r;
}

Status check_fits(const ProxyTable& table, const Route& route) {
  for (const auto& [service, other] : table) {
    if (service != route.service && other.listen_port == route.listen_port) {
      return failed_precondition(
          "listen port " + std::to_string(route.listen_port) + " is already used by service '" +
          service + "' on this proxy: choose another port for '" + route.service + "'");
    }
  }
  return ok_status();
}

Status check_render_options(const RenderOptions& options) {
  if (!is_safe_config_path(options.admin_socket)) {
    return invalid_argument("the proxy state directory gives the admin socket path " +
                            shown(options.admin_socket) +
                            ", which cannot go into haproxy.cfg: use an absolute path without "
                            "spaces, quotes, '#', '$' or '\\'");
  }
  if (!is_ipv4_literal(options.bind_address)) {
    return invalid_argument("proxy bind address " + shown(options.bind_address) +
                            " is not an IPv4 literal");
  }
  return ok_status();
}

std::string frontend_name(const std::string& service) { return "fe_" + service; }
std::string backend_name(const std::string& service) { return "be_" + service; }

std::string render_haproxy_config(const ProxyTable& table, const RenderOptions& options) {
  std::ostringstream out;
  out << "# Written by axion-agent (edge proxy) from its desired table; edits are overwritten.\n"
      << "global\n"
      << "    master-worker\n"
      // expose-fd listeners: a reloaded worker takes the listening sockets over from the old
      // one, so no connection is refused during a reload.
      << "    stats socket " << options.admin_socket
      << " mode 600 level admin expose-fd listeners\n"
      // Old workers finish their connections after a reload, but not forever.
      << "    hard-stop-after 30s\n"
      << "\ndefaults\n"
      << "    mode http\n"
      << "    timeout connect 5s\n"
      << "    timeout client 60s\n"
      << "    timeout server 60s\n"
      << "    timeout http-request 10s\n"
      << "    timeout http-keep-alive 10s\n"
      << "    timeout check 2s\n"
      // A connection refused by one server (it just stopped) is retried on another.
      << "    option redispatch\n"
      << "    retries 3\n";
  for (const auto& [service, route] : table) render_route(out, route, options.bind_address);
  return out.str();
}

bool needs_reload(const ProxyTable& loaded, const ProxyTable& desired) {
  return shape_of(loaded) != shape_of(desired);
}

std::vector<ServerState> parse_servers_state(const std::string& text) {
  std::vector<ServerState> out;
  std::vector<std::string> columns;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string w; words >> w;) fields.push_back(w);
    if (!fields.empty() && fields[0] == "#") {
      columns.assign(fields.begin() + 1, fields.end());
      continue;
    }
    if (columns.empty() || fields.size() < columns.size()) continue;
    ServerState s;
    for (std::size_t i = 0; i < columns.size(); ++i) {
      const std::string& c = columns[i];
      if (c == "be_name") s.backend = fields[i];
      if (c == "srv_name") s.server = fields[i];
      if (c == "srv_addr") s.host = fields[i];
      if (c == "srv_port") s.port = static_cast<std::uint16_t>(std::atoi(fields[i].c_str()));
      if (c == "srv_uweight") s.weight = static_cast<std::uint32_t>(std::atoi(fields[i].c_str()));
    }
    if (!s.backend.empty() && !s.server.empty()) out.push_back(std::move(s));
  }
  return out;
}

int parse_info_pid(const std::string& text) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("Pid: ", 0) == 0) return std::atoi(line.c_str() + 5);
  }
  return 0;
}

std::string describe_change(const ProxyTable& before, const ProxyTable& after) {
  std::vector<std::string> parts;
  const auto describe_backend = [](const Backend& b) {
    return b.instance_id + " (" + b.address() + ", weight " + std::to_string(b.weight) + ")";
  };
  for (const auto& [service, route] : before) {
    if (!after.count(service)) parts.push_back(service + ": removed");
  }
  for (const auto& [service, route] : after) {
    const auto old = before.find(service);
    std::vector<std::string> changes;
    if (old == before.end()) {
      std::string servers;
      for (const Backend& b : route.backends) {
        servers += (servers.empty() ? "" : ", ") + describe_backend(b);
      }
      parts.push_back(service + ": added on port " + std::to_string(route.listen_port) + " -> " +
                      servers);
      continue;
    }
    if (old->second.listen_port != route.listen_port) {
      changes.push_back("listen port " + std::to_string(old->second.listen_port) + "->" +
                        std::to_string(route.listen_port));
    }
    if (old->second.mode != route.mode) {
      changes.push_back(std::string("mode ") + (route.mode == ProxyMode::kHttp ? "http" : "tcp"));
    }
    for (const Backend& b : old->second.backends) {
      bool kept = false;
      for (const Backend& n : route.backends) kept = kept || n.instance_id == b.instance_id;
      if (!kept) changes.push_back("removed server " + b.instance_id);
    }
    for (const Backend& b : route.backends) {
      const Backend* prior = nullptr;
      for (const Backend& o : old->second.backends) {
        if (o.instance_id == b.instance_id) prior = &o;
      }
      if (!prior) {
        changes.push_back("added server " + describe_backend(b));
        continue;
      }
      if (prior->address() != b.address()) {
        changes.push_back(b.instance_id + " address " + prior->address() + "->" + b.address());
      }
      if (prior->weight != b.weight) {
        changes.push_back(b.instance_id + " weight " + std::to_string(prior->weight) + "->" +
                          std::to_string(b.weight));
      }
    }
    if (changes.empty()) continue;
    std::string text = service + ": ";
    for (std::size_t i = 0; i < changes.size(); ++i) text += (i ? "; " : "") + changes[i];
    parts.push_back(std::move(text));
  }
  if (parts.empty()) return "no change";
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? "; " : "") + parts[i];
  return out;
}

std::string mismatch(const ProxyTable& desired, const std::vector<ServerState>& running) {
  std::vector<std::string> problems;
  std::set<std::string> wanted;
  for (const auto& [service, route] : desired) {
    for (const Backend& b : route.backends) {
      const std::string name = backend_name(service) + "/" + b.instance_id;
      wanted.insert(name);
      const ServerState* found = nullptr;
      for (const ServerState& s : running) {
        if (s.backend == backend_name(service) && s.server == b.instance_id) found = &s;
      }
      if (!found) {
        problems.push_back(name + ": not configured");
        continue;
      }
      if (found->host != b.host || found->port != b.port) {
        problems.push_back(name + ": address " + found->host + ":" + std::to_string(found->port) +
                           ", want " + b.address());
      }
      if (found->weight != b.weight) {
        problems.push_back(name + ": weight " + std::to_string(found->weight) + ", want " +
                           std::to_string(b.weight));
      }
    }
  }
  for (const ServerState& s : running) {
    const std::string name = s.backend + "/" + s.server;
    if (!wanted.count(name)) problems.push_back(name + ": configured but not desired");
  }
  std::string out;
  for (std::size_t i = 0; i < problems.size(); ++i) out += (i ? "; " : "") + problems[i];
  return out;
}

}  // namespace axion::agent::proxy
