// ViewStore: the port the read side writes its views to and answers queries from. Views are
// rows in a fixed set of tables: a key, a few index columns that queries filter and order on,
// and the row's read model as a serialized protobuf (`doc`: v1::Project, v1::Deployment, ...).
// A projection commits a ViewBatch — its row changes AND the log offsets they consumed — in one
// atomic step (PostgreSQL: one transaction; RocksDB: one WriteBatch), so a crash never applies
// an event twice or skips one. Offsets are compare-and-set: a batch built on offsets another
// writer has moved is refused (ABORTED) and nothing of it is written.
//
// Implementations: infra/rocksdb/view_store (embedded, default), infra/postgres/view_store
// (DATABASE_URL), projections/memory_view_store (as-of queries fold into one). All pass
// tests/integration/view_store_contract.h.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "events/event_log.h"

namespace axion::projections {

// The read side's tables. Numbers are stable (stores may persist them).
enum class Table : std::uint8_t {
  kProjects = 1,           // key project_id; doc v1::Project
  kGraphVersions = 2,      // key project_id/version (20 digits); doc v1::GraphVersion
  kDeployments = 3,        // key deployment_id; doc v1::Deployment
  kDeploymentHistory = 4,  // key deployment_id; doc v1::DeploymentSnapshot (successes only)
  kClusters = 5,           // key cluster_id; doc v1::Cluster
  kServers = 6,            // key server_id; doc v1::Server (agent fields included)
  kAudit = 7,              // key project_id/sequence (20 digits); doc v1::AuditEntry
  kInternal = 8,           // projector bookkeeping (key and doc are the projector's own)
};
inline constexpr Table kAllTables[] = {Table::kProjects,   Table::kGraphVersions,
                                       Table::kDeployments, Table::kDeploymentHistory,
                                       Table::kClusters,   Table::kServers,
                                       Table::kAudit,      Table::kInternal};
std::string_view table_name(Table table);  // "projects", "deployments", ...

// The columns queries filter and order on. Empty / 0 = not set.
struct RowIndex {
  std::string project_id;   // graph versions, deployments, history, audit
  std::string cluster_id;   // servers
  std::string environment;  // deployments, history
  std::int32_t status = 0;  // deployments: v1::DeploymentStatus
  std::int64_t sort_key = 0;  // order within a listing (created_at ms, version, sequence)
  bool operator==(const RowIndex&) const = default;
};

struct Row {
  Table table = Table::kProjects;
  std::string key;
  RowIndex index;
  std::string doc;  // serialized read model
  bool operator==(const Row&) const = default;
};

struct Mutation {
  Row row;             // for an erase only table and key matter
  bool erase = false;
};

// Where a projection stands in one log partition: the next offset it will apply.
using Offsets = std::map<events::TopicPartition, std::int64_t>;

struct ViewBatch {
  std::string projection;  // whose offsets these are, e.g. "views"
  std::vector<Mutation> mutations;  // applied in order (a later one wins)
  // Compare-and-set: each partition's stored offset must equal `expected` (absent in the map =
  // never stored = 0) or the whole batch is refused with ABORTED.
  Offsets expected;
  Offsets next;  // the offsets stored with the batch
};

// A listing. Filters that are set must all match; `statuses` (if any) is a set of allowed
// statuses. Rows come ordered by (sort_key, key), descending if `newest_first`.
struct Query {
  Table table = Table::kProjects;
  RowIndex filter;  // only project_id, cluster_id, environment are used as filters
  std::vector<std::int32_t> statuses;
  bool newest_first = true;
  std::size_t limit = 50;  // 1..1000
  // Resume after this row (from Page::next); empty = from the start.
  std::optional<std::pair<std::int64_t, std::string>> after;
};

struct Page {
  std::vector<Row> rows;
  // (sort_key, key) of the last row when more rows may follow; empty = this was the last page.
  std::optional<std::pair<std::int64_t, std::string>> next;
};

class ViewStore {
 public:
  virtual ~ViewStore() = default;
  // NOT_FOUND-free: an empty optional when there is no such row.
  virtual Result<std::optional<Row>> get(Table table, const std::string& key) = 0;
  // The rows of `keys` that exist, in no particular order (missing keys are left out). One
  // round trip where the store is remote: projections prefetch what a batch will read. The
  // default calls get() per key.
  virtual Result<std::vector<Row>> get_many(Table table, const std::vector<std::string>& keys);
  // True where a read is a round trip (PostgreSQL): projections then prefetch each batch's rows
  // with get_many, which costs a dry run of the projector over the batch — worth it only there.
  virtual bool remote_reads() const { return false; }
  virtual Result<Page> list(const Query& query) = 0;
  // Atomic: all mutations and the offsets, or nothing (ABORTED on an offset mismatch;
  // UNAVAILABLE when the store cannot be reached, retryable).
  virtual Status commit(const ViewBatch& batch) = 0;
  // The stored offsets of a projection (empty for one never committed).
  virtual Result<Offsets> offsets(const std::string& projection) = 0;
  // Erases every row and every projection's offsets (a fresh store for a rebuild).
  virtual Status clear() = 0;
  // How many rows of `table` have each index status (statuses without rows are absent), as of
  // the last commit. Cheap — the store keeps the counts or counts inside the database, no row
  // is read out — so /metrics may ask on every scrape. The default is UNIMPLEMENTED.
  virtual Result<std::map<std::int32_t, std::uint64_t>> count_by_status(Table table);
};

}  // namespace axion::projections
