// The output files of a service instance: stdout.log and stderr.log in its directory, written
// by the process itself (opened O_APPEND by the agent before exec, so the service outlives an
// agent restart without a broken pipe). The agent rotates them by size — copy to <file>.1 after
// shifting <file>.1..<file>.(keep-1) up by one and dropping <file>.<keep>, then truncate in place
// (the writer's O_APPEND continues at the new end) — and reads their tail for failure reports.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace axion::agent {

// "<base>.<index>"; index 0 is the live file itself.
std::string rotated_name(const std::string& base, int index);

// The renames that make room for a new <base>.1, in the order to run them (oldest first):
// <base>.(keep-1) -> <base>.keep, ..., <base>.1 -> <base>.2. Empty for keep <= 1.
std::vector<std::pair<std::string, std::string>> rotation_renames(const std::string& base,
                                                                  int keep);

// Rotates `path` if it is larger than `max_bytes`, keeping `keep` old copies (0 = truncate
// only). Returns whether it rotated.
Result<bool> rotate_if_larger(const std::string& path, std::uint64_t max_bytes, int keep);

// The last `max_bytes` of a file ("" if it does not exist).
std::string read_tail(const std::string& path, std::size_t max_bytes);

// The tail of an instance's stdout and stderr together, at most `max_bytes` (64 KiB in updates).
std::string output_tail(const std::string& stdout_path, const std::string& stderr_path,
                        std::size_t max_bytes);

// Follows a growing output file from an offset and returns its new complete lines: what the
// runtime streams to axion-server as LogLines while a task runs. A file that shrank (rotated:
// truncated in place) is followed again from its start. Not thread-safe.
class LineFollower {
 public:
  LineFollower(std::string path, std::uint64_t offset) : path_(std::move(path)), offset_(offset) {}
  // The complete lines written since the last call, without their newlines, at most
  // `max_lines`; a line longer than `max_line_bytes` is cut there (the rest is a next line).
  std::vector<std::string> next_lines(std::size_t max_lines, std::size_t max_line_bytes);
  std::uint64_t offset() const { return offset_; }

 private:
  std::string path_;
  std::uint64_t offset_;
};

// The size of a file (0 if it does not exist).
std::uint64_t file_size(const std::string& path);

}  // namespace axion::agent
