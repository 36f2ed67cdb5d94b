// CalculateSystemRequirements (seed 003): what a graph version needs of the servers — every
// replica's reservation, the peak of a deployment with the given strategy (new instances start
// before the old ones stop), the agent's own footprint on each server — and whether a cluster
// has room for it. Pure and deterministic.
#pragma once

#include <string>
#include <vector>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "axion/v1/project.pb.h"

namespace axion::sagas {

// What the agent itself takes on every server: axion-agent, its state and rotated logs, and the
// edge proxy (HAProxy).
inline constexpr std::uint32_t kAgentCpuMillis = 100;
inline constexpr std::uint64_t kAgentMemoryMb = 192;
inline constexpr std::uint64_t kAgentDiskMb = 1024;

struct ServerCapacity {
  std::string name;
  axion::v1::Resources capacity;  // all zero = not known yet (never tested, no agent)
};

// `cluster` null: no fit check (fits false, no shortfalls about capacity). Peak: rolling = the
// steady state plus the largest batch of one service (batch_size replicas, default 1); canary
// and blue-green = twice the steady state (every new instance runs beside the old ones).
// recommended_servers: enough that no two replicas of a service share a server (at least 1).
axion::v1::SystemRequirements calculate_system_requirements(
    const axion::v1::GraphVersion& graph, const axion::v1::Strategy& strategy,
    const std::vector<ServerCapacity>* cluster);

}  // namespace axion::sagas
