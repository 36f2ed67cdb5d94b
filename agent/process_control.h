// Process primitives of the process runtime: spawn a program by argv (fork + execve, never a
// shell) in its own session with its output on given descriptors, recognise a pid by its start
// time in /proc (pids are reused), reap or poll it, signal its process group, and find a free
// local port. No policy here: ProcessRuntime decides when.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"

namespace axion::agent {

struct SpawnRequest {
  std::string program;            // absolute path (see resolve_program)
  std::vector<std::string> argv;  // argv[0] as the service sees it
  std::vector<std::string> env;   // "NAME=value", the whole environment
  std::string workdir;            // chdir before exec; empty = stay
  int stdout_fd = -1;             // becomes fd 1 (and stdin is /dev/null)
  int stderr_fd = -1;             // becomes fd 2
};

// Starts the program as the leader of a new session and process group (its pid is its pgid).
// Descriptors of the agent other than 0-2 are not inherited. FAILED_PRECONDITION with errno's
// text if the exec itself fails (e.g. not executable), UNAVAILABLE if fork fails.
Result<pid_t> spawn_process(const SpawnRequest& request);

// `name` if it contains a '/', else the first executable `dir/name` for dir in `path_env`
// (colon-separated). NOT_FOUND saying where it looked.
Result<std::string> resolve_program(const std::string& name, const std::string& path_env);

// /proc/<pid>/stat field 22 (also of a zombie); nullopt if there is no such process.
std::optional<std::uint64_t> process_start_time(pid_t pid);
// The process `pid` is the one that started at `start_time` and has not exited (not a zombie).
bool process_alive(pid_t pid, std::uint64_t start_time);

// How a process ended; `known` is false for a process that was not our child (adopted after an
// agent restart), whose status nobody can tell us.
struct ExitStatus {
  bool known = true;
  int code = 0;    // exit code, or 128 + signal
  int signal = 0;  // the signal that killed it, 0 if it exited
  bool failed() const { return !known || code != 0 || signal != 0; }
  std::string describe() const;  // "exited with code 2", "was killed by signal 9 (Killed)"
};
ExitStatus exit_status_from_wait(int wait_status);

// Reaps `pid` if it is our child and has exited (WNOHANG). nullopt while it runs; for a pid that
// is not our child, nullopt if it still runs (by start time) else ExitStatus{known=false}.
std::optional<ExitStatus> poll_exit(pid_t pid, std::uint64_t start_time);

// kill(-pgid, sig); ESRCH is not an error (the group is gone).
void signal_group(pid_t pgid, int sig);

// A local TCP port nothing listens on: the first free one from `first` to `last` skipping
// `taken`, or one the kernel picks when `first` is 0. RESOURCE_EXHAUSTED if the range is full.
Result<std::uint32_t> allocate_port(std::uint32_t first, std::uint32_t last,
                                    const std::set<std::uint32_t>& taken);

}  // namespace axion::agent
