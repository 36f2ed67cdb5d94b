// parse_prometheus(): a strict reader of the Prometheus text exposition format for tests. It
// accepts only what a scraper may rely on: every sample belongs to a family declared by a TYPE
// line before it (histogram samples as <name>_bucket / _sum / _count), a family's lines are
// contiguous and declared once, label values use only the \\ \" \n escapes, no series repeats,
// and each histogram series' buckets have increasing `le`, are cumulative, end at le="+Inf"
// and that bucket equals its _count (with a _sum). Any breach is an error naming the line.
#pragma once

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace axion::testing {

struct PromSample {
  std::string name;  // as written, e.g. axion_log_append_seconds_bucket
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct PromPage {
  std::string error;                         // empty = the page is valid
  std::map<std::string, std::string> types;  // family -> counter | gauge | histogram | ...
  std::vector<PromSample> samples;

  // Sum of the samples named `name` whose labels include every pair of `match`.
  double sum(const std::string& name, const std::map<std::string, std::string>& match = {}) const {
    double total = 0;
    for (const auto& s : samples) {
      if (s.name != name) continue;
      bool ok = true;
      for (const auto& [k, v] : match) ok = ok && s.labels.count(k) && s.labels.at(k) == v;
      if (ok) total += s.value;
    }
    return total;
  }
  bool has(const std::string& name) const {
    for (const auto& s : samples)
      if (s.name == name) return true;
    return false;
  }
};

namespace prom_detail {

inline bool valid_name(const std::string& n) {
  if (n.empty()) return false;
  for (std::size_t i = 0; i < n.size(); ++i) {
    const char c = n[i];
    if (!(std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
          (i > 0 && std::isdigit(static_cast<unsigned char>(c)))))
      return false;
  }
  return true;
}

inline bool parse_value(const std::string& text, double& out) {
  if (text == "+Inf") return out = INFINITY, true;
  if (text == "-Inf") return out = -INFINITY, true;
  if (text == "NaN") return out = NAN, true;
  char* end = nullptr;
  out = std::strtod(text.c_str(), &end);
  return !text.empty() && end == text.c_str() + text.size() && std::isfinite(out);
}

// `rest` is "name{labels} value" or "name value"; fills `s`, or returns an error.
inline std::string parse_sample(const std::string& line, PromSample& s) {
  std::size_t i = 0;
  while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
  s.name = line.substr(0, i);
  if (!valid_name(s.name)) return "bad metric name";
  if (i < line.size() && line[i] == '{') {
    ++i;
    while (i < line.size() && line[i] != '}') {
      const std::size_t eq = line.find('=', i);
      if (eq == std::string::npos) return "label without '='";
      const std::string key = line.substr(i, eq - i);
      if (!valid_name(key) || key.find(':') != std::string::npos) return "bad label name";
      if (eq + 1 >= line.size() || line[eq + 1] != '"') return "label value not quoted";
      std::string value;
      std::size_t j = eq + 2;
      for (; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\n') return "raw line feed in a label value";
        if (line[j] != '\\') {
          value.push_back(line[j]);
          continue;
        }
        if (++j >= line.size()) return "dangling escape";
        if (line[j] == '\\' || line[j] == '"') {
          value.push_back(line[j]);
        } else if (line[j] == 'n') {
          value.push_back('\n');
        } else {
          return "bad escape in a label value";
        }
      }
      if (j >= line.size()) return "unterminated label value";
      if (!s.labels.emplace(key, value).second) return "label repeated";
      i = j + 1;
      if (i < line.size() && line[i] == ',') ++i;
    }
    if (i >= line.size()) return "unterminated labels";
    ++i;
  }
  if (i >= line.size() || line[i] != ' ') return "no value";
  if (!parse_value(line.substr(i + 1), s.value)) return "bad value (or a timestamp)";
  return "";
}

}  // namespace prom_detail

inline PromPage parse_prometheus(const std::string& text) {
  PromPage page;
  std::istringstream in(text);
  std::string line, current;  // the family whose lines are being read
  std::set<std::string> closed, helped, series;
  int n = 0;
  auto fail = [&](const std::string& why) {
    page.error = "line " + std::to_string(n) + ": " + why + ": " + line;
    return page;
  };
  auto enter = [&](const std::string& family) {
    if (family == current) return true;
    if (closed.count(family)) return false;  // its lines are not contiguous
    if (!current.empty()) closed.insert(current);
    current = family;
    return true;
  };
  while (std::getline(in, line)) {
    ++n;
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      const bool help = line[2] == 'H';
      const std::string rest = line.substr(7);
      const std::string name = rest.substr(0, rest.find(' '));
      if (!prom_detail::valid_name(name) || name.size() == rest.size()) return fail("bad header");
      if (!enter(name)) return fail("family declared again after other families");
      if (help) {
        if (!helped.insert(name).second) return fail("second HELP");
      } else {
        if (page.types.count(name)) return fail("second TYPE");
        const std::string type = rest.substr(name.size() + 1);
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
            type != "untyped")
          return fail("unknown type");
        page.types[name] = type;
      }
      continue;
    }
    if (line.empty() || line[0] == '#') return fail("not a sample, HELP or TYPE line");
    PromSample s;
    if (auto why = prom_detail::parse_sample(line, s); !why.empty()) return fail(why);
    std::string family = s.name;
    if (!page.types.count(family)) {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string sfx = suffix;
        if (s.name.size() > sfx.size() &&
            s.name.compare(s.name.size() - sfx.size(), sfx.size(), sfx) == 0) {
          const std::string base = s.name.substr(0, s.name.size() - sfx.size());
          if (page.types.count(base) && page.types[base] == "histogram") family = base;
        }
      }
    }
    if (!page.types.count(family)) return fail("sample of no family declared with TYPE");
    if (family != current) return fail("sample outside its family's block");
    if (s.labels.count("le") && (family == s.name || s.name != family + "_bucket"))
      return fail("le on a sample that is not a bucket");
    std::ostringstream key;
    key << s.name;
    for (const auto& [k, v] : s.labels) key << '\x1f' << k << '=' << v;
    if (!series.insert(key.str()).second) return fail("series repeated");
    page.samples.push_back(std::move(s));
  }

  // Histograms: per series (labels without le), buckets by le, then +Inf == _count, _sum.
  for (const auto& [family, type] : page.types) {
    if (type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<std::pair<double, double>>> buckets;
    std::map<std::map<std::string, std::string>, double> counts, sums;
    for (const auto& s : page.samples) {
      auto labels = s.labels;
      if (s.name == family + "_bucket") {
        if (!labels.count("le")) return page.error = family + ": bucket without le", page;
        double le = 0;
        if (!prom_detail::parse_value(labels["le"], le))
          return page.error = family + ": bad le", page;
        labels.erase("le");
        buckets[labels].push_back({le, s.value});
      } else if (s.name == family + "_count") {
        counts[labels] = s.value;
      } else if (s.name == family + "_sum") {
        sums[labels] = s.value;
      }
    }
    for (const auto& [labels, list] : buckets) {
      for (std::size_t i = 1; i < list.size(); ++i) {
        if (!(list[i - 1].first < list[i].first))
          return page.error = family + ": le not increasing", page;
        if (list[i - 1].second > list[i].second)
          return page.error = family + ": buckets not cumulative", page;
      }
      if (list.empty() || !std::isinf(list.back().first))
        return page.error = family + ": no le=\"+Inf\" bucket last", page;
      if (!counts.count(labels) || counts[labels] != list.back().second)
        return page.error = family + ": +Inf bucket differs from _count", page;
      if (!sums.count(labels)) return page.error = family + ": no _sum", page;
    }
    if (buckets.size() != counts.size())
      return page.error = family + ": _count without buckets", page;
  }
  return page;
}

}  // namespace axion::testing
