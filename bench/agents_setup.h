// agents_bench's set-up and measurement: a child process (axion-server or the bare baseline)
// with captured stderr, the clusters, servers and registration tokens the agents need (many
// concurrent RPCs), and readings of a process from /proc plus the server's agents gauge.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "bench/agents_streams.h"
#include "tests/support/free_port.h"

namespace axion::bench {

// A child process run by argv (no shell), its stderr in `log_path`; SIGKILLed when destroyed.
class ChildProcess {
 public:
  ChildProcess(const std::string& bin, const std::vector<std::string>& args,
               const std::vector<std::string>& env, const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  pid_t pid() const { return pid_; }
  bool running() const;

 private:
  pid_t pid_ = -1;
};

using axion::testing::free_port;

// Resident memory of `pid` in KiB (VmRSS), or 0 if unreadable.
std::int64_t rss_kib(pid_t pid);

// User + system CPU time `pid` has used so far.
std::chrono::microseconds process_cpu(pid_t pid);

// The value of the axion_agents_connected gauge on http://127.0.0.1:`http_port`/metrics, or -1.
std::int64_t agents_connected_gauge(int http_port);

// Polls GET /readyz until 200 or `timeout`.
bool wait_ready(int http_port, std::chrono::seconds timeout);

// Waits until a gRPC channel to `address` connects, or `timeout`.
bool wait_connectable(const std::string& address, std::chrono::seconds timeout);

struct SetupOptions {
  std::string address;
  std::string api_token;
  int agents = 0;
  int servers_per_cluster = 200;
  int threads = 32;
};

struct SetupResult {
  std::vector<AgentIdentity> agents;  // only the ones fully set up
  int clusters = 0;
  std::uint64_t rpcs = 0;
  std::uint64_t failures = 0;
  std::string first_error;
  double seconds = 0;
};

// Creates ceil(agents / servers_per_cluster) clusters, then per agent a server and a one-time
// registration token, from `threads` threads calling concurrently (retrying what the server
// reports as transient, with one idempotency key per request).
SetupResult set_up_agents(const SetupOptions& options);

}  // namespace axion::bench
