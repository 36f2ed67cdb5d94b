// Placement: which server runs each replica of each service (PROVISIONING). Pure and
// deterministic: the same graph and servers give the same placement.
//
// Candidates are the servers whose agent is ONLINE. Replicas are placed largest first (memory,
// then CPU, then name); each goes to the server that holds the fewest replicas of its service
// (spread), then has the most free memory, then the most free CPU, then the smallest id — and
// only where its reservation fits. What does not fit fails with the service, the replica, what
// it needs and the most any server has free, so a person knows what to add.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/project.pb.h"
#include "common/status.h"

namespace axion::sagas {

struct ServerSlot {
  std::string server_id;
  bool online = false;
  std::uint32_t cpu_millis_free = 0;
  std::uint64_t memory_mb_free = 0;
};

using Placement = std::map<std::string, axion::v1::ServicePlacement>;  // by service name

// One entry per replica in each ServicePlacement (replicas 0 counts as 1). FAILED_PRECONDITION
// when no agent is ONLINE or a replica fits nowhere.
Result<Placement> place_services(const axion::v1::GraphVersion& graph,
                                 std::vector<ServerSlot> servers);

}  // namespace axion::sagas
