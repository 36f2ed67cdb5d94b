#include "infra/ssh/ssh_argv.h"

namespace axion::infra::ssh {

namespace {

std::string shown(std::string_view s) {
  std::string out;
  for (char c : s.substr(0, 64)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  return "'" + out + (s.size() > 64 ? "...'" : "'");
}

}  // namespace

std::string shell_quote(std::string_view arg) {
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

Result<std::string> remote_command(const std::vector<std::string>& argv) {
  if (argv.empty()) return invalid_argument("a remote command needs a program (argv is empty)");
  std::string out;
  for (const auto& a : argv) {
    if (a.find('\0') != std::string::npos)
      return invalid_argument("a remote command's argument holds a NUL byte");
    out += (out.empty() ? "" : " ") + shell_quote(a);
  }
  return out;
}

Status validate_ssh_user(std::string_view user, const std::string& field) {
  bool ok =
      !user.empty() && user.size() <= 32 && ((user[0] >= 'a' && user[0] <= 'z') || user[0] == '_');
  for (char c : user)
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-');
  if (ok) return ok_status();
  return invalid_field(field, field + " " + shown(user) +
                                  " is not a login name (1-32 of a-z, 0-9, '_' and '-', "
                                  "starting with a letter or '_')");
}

Status validate_remote_path(std::string_view path, const std::string& field) {
  const auto bad = [&](const std::string& why) {
    return invalid_field(field, field + " " + shown(path) + " " + why);
  };
  if (path.empty() || path.front() != '/') return bad("is not an absolute path");
  if (path.size() > 255) return bad("is longer than 255 bytes");
  for (char c : path) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' || c == '/';
    if (!allowed) return bad("may hold only letters, digits, '.', '_', '-' and '/'");
  }
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return bad("has a '.' or '..' segment");
    if (segment.empty() && end != path.size()) return bad("has an empty segment ('//')");
    start = end + 1;
  }
  return ok_status();
}

}  // namespace axion::infra::ssh
