// The RocksDB view store's row counts per (table, index status), kept so that
// ViewStore::count_by_status (and /metrics' deployments by status) reads a handful of keys
// instead of scanning rows:
//   'C' table be32(status) -> be64(rows of `table` whose index status is `status`)
// A commit stages the counts its mutations change in its own WriteBatch, so counts and rows
// never disagree. Every row is counted (status 0 too), so a store holds count keys exactly when
// it holds rows; a store with rows and no count keys was written before counts existed, and is
// counted once when opened.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string_view>
#include <utility>

#include "common/status.h"
#include "projections/view_store.h"

namespace axion::infra::rocksdb::impl {

// Row count changes of one commit, by (table, status).
using CountDeltas = std::map<std::pair<projections::Table, std::int32_t>, std::int64_t>;

// Stages into `wb` the counts `deltas` lead to (a count reaching 0 is deleted). REQUIRES: the
// caller serializes commits (it reads the counts it then overwrites).
Status stage_counts(::rocksdb::DB& db, const CountDeltas& deltas, ::rocksdb::WriteBatch& wb);

// The counts of `table` by status.
Result<std::map<std::int32_t, std::uint64_t>> read_counts(::rocksdb::DB& db,
                                                          projections::Table table);

// Counts every table once when the store has rows but no counts. `status_of` decodes the
// status of an index entry of the 'all' bucket (`all_prefix(table)` is that bucket's prefix);
// nullopt = the entry does not decode (DATA_LOSS).
Status ensure_counts(::rocksdb::DB& db,
                     const std::function<std::string(projections::Table)>& all_prefix,
                     const std::function<std::optional<std::int32_t>(std::string_view)>& status_of);

}  // namespace axion::infra::rocksdb::impl
