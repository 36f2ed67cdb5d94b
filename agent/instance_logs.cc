#include "agent/instance_logs.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
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
  const std::streamoff start = size > static_cast<std::streamoff>(max_bytes)
                                   ? size - static_cast<std::streamoff>(max_bytes)
                                   : 0;
  in.seekg(start);
  std::string out(static_cast<std::size_t>(size - start), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

std::uint64_t file_size(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  return ec ? 0 : static_cast<std::uint64_t>(size);
}

std::vector<std::string> LineFollower::next_lines(std::size_t max_lines,
                                                  std::size_t max_line_bytes) {
  std::vector<std::string> lines;
  const std::uint64_t size = file_size(path_);
  if (size < offset_) offset_ = 0;  // rotated
  if (size == offset_ || max_lines == 0) return lines;
  std::ifstream in(path_, std::ios::binary);
  if (!in) return lines;
  in.seekg(static_cast<std::streamoff>(offset_));
  const std::size_t budget = max_lines * (max_line_bytes + 1);
  std::string chunk(static_cast<std::size_t>(std::min<std::uint64_t>(size - offset_, budget)),
                    '\0');
  in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
  chunk.resize(static_cast<std::size_t>(in.gcount()));
  std::size_t at = 0;
  while (lines.size() < max_lines && at < chunk.size()) {
    const std::size_t newline = chunk.find('\n', at);
    const std::size_t end = newline == std::string::npos ? chunk.size() : newline;
    const bool complete = newline != std::string::npos;
    if (end - at > max_line_bytes || (!complete && end - at == max_line_bytes)) {
      lines.push_back(chunk.substr(at, max_line_bytes));  // too long: cut, the rest follows
      at += max_line_bytes;
      continue;
    }
    if (!complete) break;  // wait for its end
    lines.push_back(chunk.substr(at, end - at));
    at = end + 1;
  }
  offset_ += at;
  return lines;
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
