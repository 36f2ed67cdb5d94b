#include "agent/instance_logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace axion::agent {

std::string rotated_name(const std::string& base, int index) {
  return index == 0 ? base : base + "." + std::to_string(index);
}

std::vector<std::pair<std::string, std::string>> rotation_renames(const std::string& base,
                                                                  int keep) {
  std::vector<std::pair<std::string, std::string>> out;
  for (int i = keep - 1; i >= 1; --i) {
    out.emplace_back(rotated_name(base, i), rotated_name(base, i + 1));
  }
  return out;
}

Result<bool> rotate_if_larger(const std::string& path, std::uint64_t max_bytes, int keep) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return false;
    return unavailable("cannot stat " + path + ": " + std::strerror(errno));
  }
  if (static_cast<std::uint64_t>(st.st_size) <= max_bytes) return false;
  std::error_code ec;
  if (keep > 0) {
    // The oldest copy falls off by being overwritten by the rename before it.
    for (const auto& [from, to] : rotation_renames(path, keep)) {
      std::filesystem::rename(from, to, ec);  // a missing older copy is fine
    }
    // Copy, not rename: the service keeps writing to its open descriptor of `path`.
    std::filesystem::copy_file(path, rotated_name(path, 1),
                               std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return unavailable("cannot copy " + path + " for rotation: " + ec.message());
  }
  if (truncate(path.c_str(), 0) != 0) {
    return unavailable("cannot truncate " + path + ": " + std::strerror(errno));
  }
  return true;
}

std::string read_tail(const std::string& path, std::size_t max_bytes) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  const std::streamoff size = in.tellg();
  const std::streamoff start =
      size > static_cast<std::streamoff>(max_bytes) ? size - static_cast<std::streamoff>(max_bytes)
                                                    : 0;
  in.seekg(start);
  std::string out(static_cast<std::size_t>(size - start), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

std::string output_tail(const std::string& stdout_path, const std::string& stderr_path,
                        std::size_t max_bytes) {
  const std::string out_head = "--- stdout ---\n";
  const std::string err_head = "--- stderr ---\n";
  const std::size_t budget = max_bytes > 64 ? (max_bytes - 64) / 2 : 0;
  const std::string out = read_tail(stdout_path, budget);
  // stderr gets what stdout left unused: it usually says why a service failed.
  const std::string err = read_tail(stderr_path, 2 * budget - out.size());
  std::string result;
  if (!out.empty()) result += out_head + out + (out.back() == '\n' ? "" : "\n");
  if (!err.empty()) result += err_head + err + (err.back() == '\n' ? "" : "\n");
  return result;
}

}  // namespace axion::agent
