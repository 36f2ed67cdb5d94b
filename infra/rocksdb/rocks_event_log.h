// RocksEventLog: the embedded EventLog on RocksDB — Axion's zero-set-up default. Records,
// per-partition offsets and consumer-group offsets live in one database; an append and its
// offsets are one WriteBatch, written with a synced WAL. A single committer thread gathers all
// concurrent appends into one synced batch (group commit), so one fsync serves many appends.
// Consumer groups are coordinated in-process (one server process owns an embedded log).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "events/event_log.h"
#include "events/log_limits.h"

namespace axion::infra::rocksdb {

struct RocksLogConfig {
  std::string path;  // directory of the database; created if missing
  events::LogLimits limits;
  // Upper bound of appends gathered into one synced batch.
  std::size_t max_batch_appends = 4096;
};

// Opens (or creates) the log at config.path. FAILED_PRECONDITION if another process holds it.
Result<std::unique_ptr<events::EventLog>> open_rocks_event_log(const RocksLogConfig& config);

}  // namespace axion::infra::rocksdb
