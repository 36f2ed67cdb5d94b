// SnapshotStore: the command processor's local store of aggregate snapshots (a port; the
// embedded implementation is infra/rocksdb/snapshot_store.h). Per (scope, partition) it holds
// one checkpoint — the log marks up to which the snapshot folded and the fold versions that
// wrote it — plus the aggregates' states and the idempotency memory as of that checkpoint.
// Saves are incremental (only what changed since the previous checkpoint) and atomic, so what
// is stored is always exactly fold(log up to the marks). Losing the store loses nothing: the
// processor folds the log again.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "axion/v1/envelope.pb.h"
#include "axion/v1/snapshot.pb.h"
#include "common/status.h"

namespace axion::commands {

struct PartitionSnapshot {
  axion::v1::SnapshotCheckpoint checkpoint;
  std::map<std::string, axion::v1::AggregateSnapshot> aggregates;  // by aggregate id
  std::vector<axion::v1::CommandResult> results;  // idempotency memory (results with a key)
};

struct SnapshotUpdate {
  bool reset = false;  // erase everything stored for the partition first
  axion::v1::SnapshotCheckpoint checkpoint;
  std::map<std::string, axion::v1::AggregateSnapshot> aggregates;  // upserted by aggregate id
  std::vector<axion::v1::CommandResult> results;  // upserted by (aggregate_id, idempotency_key)
  std::vector<std::pair<std::string, std::string>> forget;  // (aggregate_id, key) to erase
};

class SnapshotStore {
 public:
  virtual ~SnapshotStore() = default;
  // Nothing stored for (scope, partition) is an empty optional. DATA_LOSS if a stored entry
  // does not parse (the caller then discards the partition's snapshot).
  virtual Result<std::optional<PartitionSnapshot>> load(std::string_view scope,
                                                        std::int32_t partition) = 0;
  // All of the update or none of it.
  virtual Status save(std::string_view scope, std::int32_t partition,
                      const SnapshotUpdate& update) = 0;
};

}  // namespace axion::commands
