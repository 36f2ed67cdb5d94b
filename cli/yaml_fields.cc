#include "cli/yaml_fields.h"

#include <charconv>
#include <map>

namespace axion::cli {

[[noreturn]] void fail(const YAML::Node& at, const std::string& path, std::string what) {
  throw FieldError{at.Mark(), path, std::move(what)};
}

std::string scalar(const YAML::Node& n, const std::string& path) {
  if (!n.IsScalar()) fail(n, path, "must be a single value");
  return n.Scalar();
}

std::uint64_t number(const YAML::Node& n, const std::string& path, std::uint64_t lo,
                     std::uint64_t hi) {
  const std::string s = scalar(n, path);
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) {
    fail(n, path, "must be a whole number, got '" + s + "'");
  }
  if (v < lo || v > hi) {
    fail(n, path, "must be " + std::to_string(lo) + ".." + std::to_string(hi) + ", got " + s);
  }
  return v;
}

bool boolean(const YAML::Node& n, const std::string& path) {
  const std::string s = scalar(n, path);
  if (s == "true" || s == "yes") return true;
  if (s == "false" || s == "no") return false;
  fail(n, path, "must be true or false, got '" + s + "'");
}

std::vector<std::string> strings(const YAML::Node& n, const std::string& path) {
  if (!n.IsSequence()) fail(n, path, "must be a list, e.g. [server, --port, \"8080\"]");
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n.size(); ++i) {
    out.push_back(scalar(n[i], path + "[" + std::to_string(i) + "]"));
  }
  return out;
}

void string_map(const YAML::Node& n, const std::string& path,
                google::protobuf::Map<std::string, std::string>* out) {
  if (!n.IsMap()) fail(n, path, "must be a mapping of names to values");
  for (const auto& kv : n) {
    const std::string key = scalar(kv.first, path);
    (*out)[key] = scalar(kv.second, path + "." + key);
  }
}

// Refuses keys this format does not have (a typo must not silently drop a setting).
void only_keys(const YAML::Node& n, const std::string& path, const std::set<std::string>& known) {
  if (!n.IsMap()) fail(n, path, "must be a mapping");
  for (const auto& kv : n) {
    const std::string key = scalar(kv.first, path);
    if (known.count(key)) continue;
    std::string list;
    for (const auto& k : known) list += (list.empty() ? "" : ", ") + k;
    fail(kv.first, path.empty() ? key : path + "." + key, "unknown key; expected one of " + list);
  }
}

// "2s", "500ms", "1m", "1h".
google::protobuf::Duration duration(const YAML::Node& n, const std::string& path) {
  const std::string s = scalar(n, path);
  std::size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  const std::string unit = s.substr(digits);
  const std::map<std::string, std::int64_t> ms_per = {
      {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}};
  const auto it = ms_per.find(unit);
  if (digits == 0 || digits > 9 || it == ms_per.end()) {
    fail(n, path, "must be a duration such as 500ms, 2s, 1m or 1h, got '" + s + "'");
  }
  const std::int64_t ms = std::stoll(s.substr(0, digits)) * it->second;
  google::protobuf::Duration d;
  d.set_seconds(ms / 1000);
  d.set_nanos(static_cast<std::int32_t>((ms % 1000) * 1000000));
  return d;
}

// "250m" (thousandths), "0.5", "2" cores.
std::uint32_t cpu_millis(const YAML::Node& n, const std::string& path) {
  const std::string s = scalar(n, path);
  if (!s.empty() && s.back() == 'm') {
    return static_cast<std::uint32_t>(
        number(YAML::Node(s.substr(0, s.size() - 1)), path, 1, 1000000));
  }
  double cores = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), cores);
  if (ec != std::errc() || end != s.data() + s.size() || cores <= 0 || cores > 1000) {
    fail(n, path, "must be cores (0.5, 2) or thousandths (250m), got '" + s + "'");
  }
  return static_cast<std::uint32_t>(cores * 1000 + 0.5);
}

// "128Mi", "1Gi", or a number of MiB.
std::uint64_t mebibytes(const YAML::Node& n, const std::string& path) {
  const std::string s = scalar(n, path);
  std::uint64_t factor = 1;
  std::string digits = s;
  if (s.size() > 2 && s.ends_with("Mi")) {
    digits = s.substr(0, s.size() - 2);
  } else if (s.size() > 2 && s.ends_with("Gi")) {
    digits = s.substr(0, s.size() - 2);
    factor = 1024;
  } else if (s.size() > 2 && s.ends_with("Ti")) {
    digits = s.substr(0, s.size() - 2);
    factor = 1024 * 1024;
  }
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size() || v == 0) {
    fail(n, path, "must be a size such as 128Mi, 2Gi or a number of MiB, got '" + s + "'");
  }
  return v * factor;
}

}  // namespace axion::cli
