// Health checking of a service instance: the policy of a HealthCheck with its defaults, the
// threshold evaluation (pure: consecutive passes make it healthy, consecutive failures after the
// start period make it unhealthy), and the probes themselves — HTTP GET, TCP connect, or a
// command by argv — each bounded by a timeout and answered as a HealthSample.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/instance_record.h"
#include "axion/v1/agent.pb.h"

namespace axion::agent {

struct HealthPolicy {
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds timeout{1000};
  std::chrono::milliseconds start_period{0};
  std::uint32_t healthy_threshold = 1;
  std::uint32_t unhealthy_threshold = 3;
};

// The check's settings, with the defaults above for what is unset (zero).
HealthPolicy health_policy(const axion::v1::HealthCheck& check);

// Counts consecutive results. Failures inside the start period do not count (the service may
// still be starting); a pass there does.
class HealthTracker {
 public:
  enum class Verdict { kPending, kHealthy, kUnhealthy };
  explicit HealthTracker(const HealthPolicy& policy) : policy_(policy) {}
  Verdict record(bool passed, bool in_start_period);
  std::uint32_t consecutive_failures() const { return failures_; }

 private:
  HealthPolicy policy_;
  std::uint32_t passes_ = 0;
  std::uint32_t failures_ = 0;
};

// The local port a check's `port` (a container port of the spec) means: its binding's host port;
// 0 = the first port; a port no binding names is taken as it is.
std::uint32_t probe_port(std::uint32_t check_port, const std::vector<PortBinding>& ports);

// What an exec probe runs with: the instance's environment and directory.
struct ProbeContext {
  std::vector<PortBinding> ports;
  std::vector<std::string> env;
  std::string workdir;
  std::string path_env;
};

// Runs one probe of `check` (it must have a kind) within `timeout`.
axion::v1::HealthSample run_probe(const axion::v1::HealthCheck& check, const ProbeContext& context,
                                  std::chrono::milliseconds timeout);

}  // namespace axion::agent
