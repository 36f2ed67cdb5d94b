// axion-agent's background mode, for hosts without systemd where an SSH installer starts it.
// `--daemonize` (re)starts a supervisor: the invoking process stops the supervisor the pid file
// names (if it still runs), double-forks a new one detached from the caller's session and
// descriptors (so an SSH channel closes when the command returns), and exits once the pid file
// exists. The supervisor runs the agent as a forked child and restarts it after an abnormal exit
// with a 1-30 s backoff. `--stop` stops the supervisor the pid file names.
//
// Pid file: "<pid>\n<start time>\n", the supervisor's pid and its /proc/<pid>/stat start time
// (process_control.h), so a pid the kernel reused for another process is never signalled.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "agent/config.h"
#include "common/status.h"

namespace axion::agent {

struct PidFileEntry {
  pid_t pid = 0;
  std::uint64_t start_time = 0;
  bool operator==(const PidFileEntry&) const = default;
};

std::string pid_file_text(const PidFileEntry& entry);
// nullopt if there is no such file; INVALID_ARGUMENT if it is not a pid file this agent wrote
// (then nothing is signalled or removed: it may be someone else's file).
Result<std::optional<PidFileEntry>> read_pid_file(const std::string& path);

// --stop: stops the supervisor `pid_file` names (SIGTERM; after `stop_timeout` plus a grace
// for the supervisor's own escalation, SIGKILL to its process group, which holds its agent) and
// removes the file. Returns what happened, for the operator; "nothing runs" is not an error.
Result<std::string> stop_supervisor(const std::string& pid_file,
                                    std::chrono::milliseconds stop_timeout);

// Where main goes after daemonize(): the agent child runs the agent with the same config; the
// invoking process and the supervisor exit with `exit_code`.
struct DaemonOutcome {
  bool run_agent = false;
  int exit_code = 0;
};

// --daemonize (config.pid_file and config.log_file set, paths absolute, state dir created).
// Returns in three processes: the invoking one (exit 0 once the supervisor wrote its pid file),
// the supervisor (when it stops) and each agent child (run_agent). An error is returned in the
// invoking process only: INVALID_ARGUMENT for an unusable log or pid file, else what failed.
Result<DaemonOutcome> daemonize(const AgentConfig& config);

}  // namespace axion::agent
