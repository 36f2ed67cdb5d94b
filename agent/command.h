// Running one external program by argv (never through a shell): its own process group, stdin
// from /dev/null, the tails of stdout and stderr captured up to a bound, killed (the whole
// group: TERM, then KILL) when its timeout passes or its caller cancels it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace axion::agent {

struct CommandSpec {
  // argv[0] is looked up in PATH (of the environment the program gets) unless it holds a '/'.
  std::vector<std::string> argv;
  // Set on top of the agent's own environment (replacing same-named variables); the program
  // inherits everything else.
  std::map<std::string, std::string> env;
  // Empty: the agent's working directory.
  std::string workdir;
  std::chrono::milliseconds timeout{std::chrono::minutes(5)};
  // How much of the end of stdout and of stderr is kept, each.
  std::size_t max_output = 64 * 1024;
  // Polled while it runs; when it turns true the program is killed (outcome kCancelled).
  const std::atomic<bool>* cancel = nullptr;
};

struct CommandResult {
  enum class Outcome { kExited, kSignaled, kTimedOut, kCancelled, kSpawnFailed };
  Outcome outcome = Outcome::kSpawnFailed;
  int exit_code = -1;  // kExited
  int signal = 0;      // kSignaled
  std::string out;     // tail of stdout
  std::string err;     // tail of stderr
  bool out_truncated = false;
  bool err_truncated = false;
  std::string spawn_error;               // kSpawnFailed: why
  std::chrono::milliseconds timeout{0};  // the spec's, for describe()

  bool ok() const { return outcome == Outcome::kExited && exit_code == 0; }
  // "exited with status 1", "killed by signal 9", "timed out after 30s", ...: for details.
  std::string describe() const;
  // stdout then stderr (errors last, where a tail keeps them), at most the last `max` bytes: for
  // a TaskUpdate's output.
  std::string combined_tail(std::size_t max = 64 * 1024) const;
};

// Runs `spec` to completion (blocking). Thread-safe: spawns with posix_spawn, and the pipes are
// close-on-exec so concurrent commands do not inherit each other's ends.
CommandResult run_command(const CommandSpec& spec);

}  // namespace axion::agent
