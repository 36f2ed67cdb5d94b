// HAProxy as a process the agent drives: found and version-checked, its configuration checked
// (`haproxy -c`), started in master-worker mode as a daemon (so it outlives the agent and keeps
// traffic flowing while the agent restarts), adopted from its pid file by the next agent
// process, reloaded seamlessly (SIGUSR2 to the master; the new worker takes the listening
// sockets over through the admin socket's `expose-fd listeners`), and stopped. Every program
// runs by argv, never through a shell.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "agent/edge_proxy_config.h"
#include "common/status.h"

namespace axion::agent::proxy {

// Files of the edge proxy under <state dir>/proxy/.
struct ProxyPaths {
  std::string dir;
  std::string config;         // haproxy.cfg
  std::string state;          // table.json
  std::string pid_file;       // the master's pid
  std::string admin_socket;   // the workers' stats socket, level admin
  std::string master_socket;  // the master CLI (-S)
  std::string log_file;       // HAProxy's stdout/stderr while it starts
  static ProxyPaths under(const std::string& state_dir);
};

// The haproxy binary: $AXION_AGENT_HAPROXY, else `haproxy` in PATH, else /usr/sbin/haproxy
// (Debian's place, often not in a user's PATH); empty if none is executable.
std::string find_haproxy_binary();

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal or by the timeout
  std::string output;  // stdout and stderr, the last 64 KiB
};
// Runs argv (no shell), waits up to `timeout` (then SIGKILL), returns what it printed.
Result<CommandResult> run_command(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout);

class HaproxyProcess {
 public:
  HaproxyProcess(std::string binary, ProxyPaths paths);

  // The master pid of a HAProxy running from this state directory's configuration (pid file,
  // process alive, named haproxy, started with our haproxy.cfg); nullopt otherwise.
  std::optional<pid_t> running_master() const;
  // `haproxy -c -f <config>`: OK, or INVALID_ARGUMENT with HAProxy's complaint.
  Status check_config(const std::string& config) const;
  // Starts the master (daemonized) from paths.config; FAILED_PRECONDITION with HAProxy's output
  // if it refuses (a port taken, ...).
  Result<pid_t> start() const;
  // Asks the master to reload paths.config (SIGUSR2); returns at once.
  Status reload(pid_t master) const;
  // Stops the master and its workers: SIGTERM, then SIGKILL after `grace`.
  Status stop(std::chrono::milliseconds grace) const;
  // One command on the admin socket (several may be joined with ';'); what it answered.
  Result<std::string> admin(const std::string& command) const;

  const ProxyPaths& paths() const { return paths_; }

 private:
  std::string binary_;
  ProxyPaths paths_;
};

// Whether host:port accepts a TCP connection now.
bool tcp_accepts(const std::string& host, std::uint16_t port);

}  // namespace axion::agent::proxy
