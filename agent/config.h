// AgentConfig: what axion-agent reads from its flags, an optional config file and the environment
// (a flag wins over the file, the file over a variable), checked once at start-up so a bad value
// is a clear error naming the flag.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace axion::agent {

struct AgentConfig {
  std::string server_addr;  // --server / AXION_AGENT_SERVER: host:port of axion-server
  std::string server_id;    // --server-id / AXION_AGENT_SERVER_ID: the server this agent runs on
  // --token-file / AXION_AGENT_TOKEN_FILE: the one-time registration token (first start only).
  std::string token_file;
  // --state-dir / AXION_AGENT_STATE_DIR: agent id and long-lived credential (0600), and the
  // volume whose disk use heartbeats report.
  std::string state_dir = "/var/lib/axion-agent";
  // --tls-ca / AXION_AGENT_TLS_CA: PEM certificate(s) to trust; set => the connection uses TLS.
  std::string tls_ca;
  // Reconnect backoff: exponential from min to max, with jitter.
  std::chrono::milliseconds backoff_min{500};    // AXION_AGENT_BACKOFF_MIN_MS
  std::chrono::milliseconds backoff_max{30000};  // AXION_AGENT_BACKOFF_MAX_MS
  // --proxy-address / AXION_AGENT_PROXY_ADDRESS: the IPv4 address the edge proxy's frontends
  // listen on.
  std::string proxy_address = "127.0.0.1";
  // --port-range / AXION_AGENT_PORT_RANGE "first-last": ports the process runtime allocates to
  // instances whose spec asks for one; 0-0 = any free port the kernel offers.
  std::uint32_t port_first = 0;
  std::uint32_t port_last = 0;
  // --stop-timeout-ms / AXION_AGENT_STOP_TIMEOUT_MS: SIGTERM to SIGKILL when stopping a process.
  std::chrono::milliseconds stop_timeout{10000};

  // --config / AXION_AGENT_CONFIG: the INI/TOML file the values above were also read from.
  std::string config_file;
  // Background mode (supervisor.h) for hosts without systemd. --daemonize: (re)start a
  // supervisor that runs the agent as its child; --stop: stop the one --pid-file names. With
  // either, the paths above are absolute (the daemon runs in /).
  bool daemonize = false;
  bool stop = false;
  std::string pid_file;  // --pid-file / AXION_AGENT_PID_FILE: required with both
  std::string log_file;  // --log-file / AXION_AGENT_LOG_FILE: default <state dir>/agent.log
};

// Parses argv, the config file and the environment. On --help, `help` gets the usage and the
// result is CANCELLED; a bad value (or a config file that cannot be read) is INVALID_ARGUMENT
// naming the flag and its variable. --server and --server-id are required unless --stop.
Result<AgentConfig> agent_config(int argc, char** argv, std::string* help);

}  // namespace axion::agent
