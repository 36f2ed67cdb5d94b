// Aggregate states as snapshot messages (schemas/axion/v1/snapshot.proto), so the command
// processor can store a partition's folded state and load it without replaying its history.
//
// A snapshot is a cache of fold(events): it is only valid for the fold that wrote it. Each kind
// has a FOLD VERSION; bump it whenever apply_event changes what a state holds or how an event
// changes it, or when the state's shape or its snapshot form changes. Snapshots written under
// another fold version are discarded and the partition is folded from the log again
// (docs/ARCHITECTURE.md, "Snapshots"). Unit tests check that every field survives a round trip.
#pragma once

#include <cstdint>

#include "axion/v1/snapshot.pb.h"
#include "commands/cluster_aggregate.h"
#include "commands/project_aggregate.h"
#include "common/status.h"

namespace axion::commands {

inline constexpr std::uint32_t kProjectFoldVersion = 1;
// 2: agent credential hashes (registration token, long-lived credential, revocation).
// 3: the agent's current stream (agent_session).
inline constexpr std::uint32_t kClusterFoldVersion = 4;

axion::v1::ProjectSnapshot to_snapshot(const ProjectState& state);
// DATA_LOSS if the snapshot cannot be a folded state (unknown strategy kind, duplicate ids).
Result<ProjectState> from_snapshot(const axion::v1::ProjectSnapshot& snapshot);

axion::v1::ClusterSnapshot to_snapshot(const ClusterState& state);
Result<ClusterState> from_snapshot(const axion::v1::ClusterSnapshot& snapshot);

}  // namespace axion::commands
