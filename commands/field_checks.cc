// Implementation of the shared value checks (commands/field_checks.h). Plain byte loops rather
// than std::regex: exact, locale-independent and fast on the hot command path.
#include "commands/field_checks.h"

#include <cstdio>

namespace axion::commands {

namespace {

bool is_lower_alnum(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

std::string too_long(std::size_t size, std::size_t max) {
  return "it is " + std::to_string(size) + " bytes long; at most " + std::to_string(max) +
         " are allowed";
}

}  // namespace

std::string quote(std::string_view value, std::size_t max_bytes) {
  std::string out = "'";
  const std::size_t n = value.size() < max_bytes ? value.size() : max_bytes;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\\': out += "\\\\"; break;
      case '\'': out += "\\'"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  if (n < value.size()) out += "...' (" + std::to_string(value.size()) + " bytes)";
  else out += "'";
  return out;
}

std::string dns_label_problem(std::string_view v) {
  if (v.empty()) return "it is empty";
  if (v.size() > 63) return "it is " + std::to_string(v.size()) + " characters long; at most 63";
  for (unsigned char c : v) {
    if (!is_lower_alnum(c) && c != '-') {
      if (c >= 'A' && c <= 'Z') return "it contains an uppercase letter";
      return std::string("it contains the character ") + quote(std::string_view(
                 reinterpret_cast<const char*>(&c), 1));
    }
  }
  if (v.front() == '-' || v.back() == '-') return "it starts or ends with '-'";
  return {};
}

std::string env_name_problem(std::string_view v, std::size_t max_bytes) {
  if (v.empty()) return "it is empty";
  if (v.size() > max_bytes) return too_long(v.size(), max_bytes);
  if (!is_alpha(static_cast<unsigned char>(v.front())) && v.front() != '_')
    return "it must start with a letter or '_'";
  for (unsigned char c : v) {
    if (!is_alpha(c) && !is_digit(c) && c != '_')
      return "it may contain only letters, digits and '_'";
  }
  return {};
}

std::string id_problem(std::string_view v) {
  if (v.empty()) return "it is empty";
  if (v.size() > 128) return too_long(v.size(), 128);
  for (unsigned char c : v) {
    if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '_' && c != ':' && c != '-')
      return "ids contain only letters, digits and '.', '_', ':', '-'";
  }
  return {};
}

std::string commit_hash_problem(std::string_view v) {
  if (v.size() < 7 || v.size() > 64) return "it must be 7-64 hex digits";
  for (char c : v) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return "it must be lowercase hex digits";
  }
  return {};
}

bool has_nul(std::string_view v) { return v.find('\0') != std::string_view::npos; }

bool has_control(std::string_view v) {
  for (unsigned char c : v) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

std::string text_problem(std::string_view v, std::size_t max_bytes) {
  if (v.size() > max_bytes) return too_long(v.size(), max_bytes);
  for (unsigned char c : v) {
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
      return "it contains a control character";
  }
  return {};
}

std::string token_problem(std::string_view v, std::size_t max_bytes) {
  if (v.empty()) return "it is empty";
  if (v.size() > max_bytes) return too_long(v.size(), max_bytes);
  for (unsigned char c : v) {
    if (c <= 0x20 || c >= 0x7f) return "it contains whitespace, a control or a non-ASCII character";
  }
  return {};
}

std::string absolute_path_problem(std::string_view v) {
  if (v.empty()) return "it is empty";
  if (v.size() > 4096) return too_long(v.size(), 4096);
  if (v.front() != '/') return "it must be an absolute path (start with '/')";
  if (has_control(v)) return "it contains a control character";
  return {};
}

std::string relative_path_problem(std::string_view v) {
  if (v.size() > 4096) return too_long(v.size(), 4096);
  if (!v.empty() && v.front() == '/') return "it must be relative to the repository root";
  if (has_control(v)) return "it contains a control character";
  std::size_t start = 0;
  while (start <= v.size()) {
    const std::size_t end = v.find('/', start);
    const std::string_view part =
        v.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    if (part == "..") return "it must not leave the repository ('..')";
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return {};
}

std::string duration_problem(const google::protobuf::Duration& d, bool require_positive,
                             std::int64_t max_seconds) {
  const std::int64_t s = d.seconds();
  const std::int32_t n = d.nanos();
  if (n <= -1'000'000'000 || n >= 1'000'000'000 || (s > 0 && n < 0) || (s < 0 && n > 0))
    return "it is not a well-formed duration (nanos out of range or of the other sign)";
  if (s < 0 || n < 0) return "it is negative";
  if (require_positive && s == 0 && n == 0) return "it must be greater than zero";
  if (s > max_seconds || (s == max_seconds && n > 0))
    return "it exceeds the maximum of " + std::to_string(max_seconds) + " s";
  return {};
}

int compare_durations(const google::protobuf::Duration& a, const google::protobuf::Duration& b) {
  if (a.seconds() != b.seconds()) return a.seconds() < b.seconds() ? -1 : 1;
  if (a.nanos() != b.nanos()) return a.nanos() < b.nanos() ? -1 : 1;
  return 0;
}

}  // namespace axion::commands
