// RocksSnapshotStore: the command processor's SnapshotStore (commands/snapshot_store.h) on a
// RocksDB database of its own (the server puts it under AXION_DATA_DIR/snapshots). Keys are
//   'C' scope partition                     -> SnapshotCheckpoint
//   'A' scope partition aggregate_id        -> AggregateSnapshot
//   'I' scope partition aggregate_id key    -> CommandResult (idempotency memory)
// with length-prefixed strings and big-endian partitions; a save is one WriteBatch. The WAL is
// not synced: a snapshot lost in a crash only means folding more of the log at the next start,
// and RocksDB never recovers half a batch.
#pragma once

#include <memory>
#include <string>

#include "commands/snapshot_store.h"
#include "common/status.h"

namespace axion::infra::rocksdb {

// Opens (or creates) the store at `path`. FAILED_PRECONDITION if another process holds it.
Result<std::unique_ptr<commands::SnapshotStore>> open_rocks_snapshot_store(
    const std::string& path);

}  // namespace axion::infra::rocksdb
