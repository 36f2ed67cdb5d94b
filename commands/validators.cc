// Implementation of the shared input checks (see validators.h). Character classes are spelled
// out rather than taken from <cctype>, whose answers depend on the process locale.
#include "commands/validators.h"

#include <array>
#include <cstdio>
#include <optional>
#include <vector>

namespace axion::commands {

namespace {

bool lower(char c) { return c >= 'a' && c <= 'z'; }
bool upper(char c) { return c >= 'A' && c <= 'Z'; }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool alnum(char c) { return lower(c) || upper(c) || digit(c); }
bool hex(char c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
bool control(unsigned char c) { return c < 0x20 || c == 0x7f; }

std::string str(std::string_view s) { return std::string(s); }

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t pos = s.find(sep, start);
    if (pos == std::string_view::npos) {
      parts.push_back(s.substr(start));
      return parts;
    }
    parts.push_back(s.substr(start, pos - start));
    start = pos + 1;
  }
}

bool is_label_key(std::string_view k) {
  if (k.empty() || k.size() > kMaxLabelKey || !alnum(k.front()) || !alnum(k.back())) return false;
  for (char c : k) {
    if (!alnum(c) && c != '.' && c != '_' && c != '/' && c != '-') return false;
  }
  return true;
}

// The 16 bytes of an IPv6 literal as 8 groups, or nothing if it is not one.
std::optional<std::array<std::uint16_t, 8>> parse_ipv6(std::string_view s) {
  if (s.size() < 2 || s.size() > 45) return std::nullopt;
  const std::size_t gap = s.find("::");
  if (gap != std::string_view::npos && s.find("::", gap + 1) != std::string_view::npos) {
    return std::nullopt;  // "::" at most once
  }
  // Parses one side of the "::" into groups; an IPv4 tail counts as two groups.
  auto parse_side = [](std::string_view side, bool last,
                       std::vector<std::uint16_t>& out) -> bool {
    if (side.empty()) return true;
    const auto parts = split(side, ':');
    for (std::size_t i = 0; i < parts.size(); ++i) {
      const std::string_view p = parts[i];
      if (last && i + 1 == parts.size() && p.find('.') != std::string_view::npos) {
        if (!is_ipv4(p)) return false;
        unsigned a, b, c, d;
        if (std::sscanf(str(p).c_str(), "%u.%u.%u.%u", &a, &b, &c, &d) != 4) return false;
        out.push_back(static_cast<std::uint16_t>(a << 8 | b));
        out.push_back(static_cast<std::uint16_t>(c << 8 | d));
        continue;
      }
      if (p.empty() || p.size() > 4) return false;
      unsigned v = 0;
      for (char c : p) {
        if (!hex(c)) return false;
        v = v * 16 + static_cast<unsigned>(digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
      }
      out.push_back(static_cast<std::uint16_t>(v));
    }
    return true;
  };
  std::vector<std::uint16_t> head, tail;
  if (gap == std::string_view::npos) {
    if (!parse_side(s, true, head) || head.size() != 8) return std::nullopt;
  } else {
    if (!parse_side(s.substr(0, gap), false, head) || !parse_side(s.substr(gap + 2), true, tail)) {
      return std::nullopt;
    }
    if (head.size() + tail.size() > 7) return std::nullopt;  // "::" stands for >= 1 group
  }
  std::array<std::uint16_t, 8> groups{};
  for (std::size_t i = 0; i < head.size(); ++i) groups[i] = head[i];
  for (std::size_t i = 0; i < tail.size(); ++i) groups[8 - tail.size() + i] = tail[i];
  return groups;
}

}  // namespace

std::string in_quotes(std::string_view value) {
  constexpr std::size_t kShown = 64;
  std::string out = "\"";
  for (std::size_t i = 0; i < value.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (control(c)) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += value.size() > kShown ? "\"..." : "\"";
  return out;
}

bool is_dns_label(std::string_view v) {
  if (v.empty() || v.size() > 63) return false;
  auto ok_end = [](char c) { return lower(c) || digit(c); };
  if (!ok_end(v.front()) || !ok_end(v.back())) return false;
  for (char c : v) {
    if (!lower(c) && !digit(c) && c != '-') return false;
  }
  return true;
}

Status validate_dns_label(std::string_view field, std::string_view what, std::string_view value) {
  if (is_dns_label(value)) return ok_status();
  return invalid_field(str(field), str(what) + " " + in_quotes(value) +
                                       " is invalid: use 1..63 lowercase letters, digits and "
                                       "'-', starting and ending with a letter or digit");
}

Status validate_labels(std::string_view field,
                       const google::protobuf::Map<std::string, std::string>& labels) {
  if (labels.size() > kMaxLabels) {
    return invalid_field(str(field), "too many labels: " + std::to_string(labels.size()) +
                                         " (at most " + std::to_string(kMaxLabels) + ")");
  }
  for (const auto& [key, value] : labels) {
    if (!is_label_key(key)) {
      return invalid_field(str(field), "label key " + in_quotes(key) +
                                           " is invalid: use 1..63 of letters, digits, '.', '_', "
                                           "'/' and '-', starting and ending with a letter or "
                                           "digit");
    }
    const std::string value_field = str(field) + "[" + key + "]";
    AXION_RETURN_IF_ERROR(validate_text(value_field, value, kMaxLabelValue));
    if (value.find_first_of("\n\t") != std::string::npos) {
      return invalid_field(value_field, "label value " + in_quotes(value) +
                                            " must be a single line without tabs");
    }
  }
  return ok_status();
}

Status validate_text(std::string_view field, std::string_view value, std::size_t max_bytes,
                     bool required) {
  if (required && value.empty()) return invalid_field(str(field), str(field) + " is required");
  if (value.size() > max_bytes) {
    return invalid_field(str(field), str(field) + " is " + std::to_string(value.size()) +
                                         " bytes; at most " + std::to_string(max_bytes) +
                                         " are allowed");
  }
  for (unsigned char c : value) {
    if (control(c) && c != '\n' && c != '\t') {
      return invalid_field(str(field), str(field) + " " + in_quotes(value) +
                                           " contains a control character");
    }
  }
  return ok_status();
}

bool is_id(std::string_view v) {
  if (v.empty() || v.size() > kMaxId || v.front() == '-') return false;
  for (char c : v) {
    if (!alnum(c) && c != '.' && c != '_' && c != ':' && c != '-') return false;
  }
  return true;
}

Status validate_id(std::string_view field, std::string_view value) {
  if (value.empty()) return invalid_field(str(field), str(field) + " is required");
  if (is_id(value)) return ok_status();
  return invalid_field(str(field), str(field) + " " + in_quotes(value) +
                                       " is not an id: use 1..128 of letters, digits, '.', '_', "
                                       "':' and '-', not starting with '-'");
}

Status validate_version(std::string_view field, std::string_view value) {
  bool ok = !value.empty() && value.size() <= 64 && alnum(value.front());
  for (char c : value) ok = ok && (alnum(c) || c == '.' || c == '_' || c == '+' || c == '-');
  if (ok) return ok_status();
  return invalid_field(str(field), str(field) + " " + in_quotes(value) +
                                       " is not a version: use 1..64 of letters, digits, '.', "
                                       "'_', '+' and '-', starting with a letter or digit");
}

bool is_ipv4(std::string_view v) {
  const auto parts = split(v, '.');
  if (parts.size() != 4) return false;
  for (std::string_view p : parts) {
    if (p.empty() || p.size() > 3 || (p.size() > 1 && p.front() == '0')) return false;
    int n = 0;
    for (char c : p) {
      if (!digit(c)) return false;
      n = n * 10 + (c - '0');
    }
    if (n > 255) return false;
  }
  return true;
}

bool is_ipv6(std::string_view v) { return parse_ipv6(v).has_value(); }

bool is_hostname(std::string_view v) {
  if (v.empty() || v.size() > 253) return false;
  const auto labels = split(v, '.');
  for (std::string_view l : labels) {
    if (l.empty() || l.size() > 63 || !alnum(l.front()) || !alnum(l.back())) return false;
    for (char c : l) {
      if (!alnum(c) && c != '-') return false;
    }
  }
  // An all-digit last label makes it look like an IPv4 address ("10.0.0.256", "1.2.3"), which
  // resolvers may read as one in surprising ways (inet_aton); refuse rather than guess.
  for (char c : labels.back()) {
    if (!digit(c)) return true;
  }
  return false;
}

Status validate_host(std::string_view field, std::string_view host) {
  if (host.empty()) return invalid_field(str(field), str(field) + " is required");
  if (is_ipv4(host) || is_ipv6(host) || is_hostname(host)) return ok_status();
  return invalid_field(str(field),
                       "host " + in_quotes(host) +
                           " is not a hostname or IP address: a hostname is dot-separated "
                           "labels of letters, digits and '-' (1..63 each, not starting or "
                           "ending with '-', at most 253 in all); IPv4 as a.b.c.d; IPv6 "
                           "without brackets");
}

std::string canonical_host(std::string_view host) {
  if (const auto groups = parse_ipv6(host); groups && !is_ipv4(host)) {
    std::string out;
    for (std::size_t i = 0; i < groups->size(); ++i) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "%s%04x", i == 0 ? "" : ":", (*groups)[i]);
      out += buf;
    }
    return out;
  }
  std::string out(host);
  for (char& c : out) {
    if (upper(c)) c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string endpoint(std::string_view host, std::uint32_t port) {
  const bool v6 = host.find(':') != std::string_view::npos;
  return (v6 ? "[" + str(host) + "]" : str(host)) + ":" + std::to_string(port);
}

Result<std::uint32_t> effective_ssh_port(std::string_view field, std::uint32_t port) {
  if (port == 0) return std::uint32_t{22};
  if (port > 65535) {
    return invalid_field(str(field), "port " + std::to_string(port) +
                                         " is out of range: use 1..65535 (0 means 22)");
  }
  return port;
}

bool is_posix_user(std::string_view v) {
  if (v.empty() || v.size() > 32 || !(lower(v.front()) || v.front() == '_')) return false;
  for (char c : v) {
    if (!lower(c) && !digit(c) && c != '_' && c != '-') return false;
  }
  return true;
}

Status validate_posix_user(std::string_view field, std::string_view value) {
  if (value.empty()) return invalid_field(str(field), str(field) + " is required");
  if (is_posix_user(value)) return ok_status();
  return invalid_field(str(field), "ssh user " + in_quotes(value) +
                                       " is not a valid user name: use [a-z_][a-z0-9_-]{0,31} "
                                       "(lowercase letter or '_' first, at most 32 characters)");
}

}  // namespace axion::commands
