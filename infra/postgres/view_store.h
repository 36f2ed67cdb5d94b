// PostgresViewStore: the ViewStore (projections/view_store.h) on PostgreSQL, for deployments
// that want their views in a database people and tools can query. One schema (default
// axion_views) holds a table per view table plus projection_offsets and schema_migrations
// (migrations.h; infra/postgres/README.md describes the tables).
//   - get / list: one statement each on a pooled connection; listings are keyset-paginated on
//     (sort_key, key) over btree indexes ((sort_key, key) and (project_id | cluster_id,
//     sort_key, key) where a table is listed by them).
//   - commit: ONE transaction: an advisory lock per (schema, projection) serializes writers of a
//     projection, the stored offsets are read FOR UPDATE and compared (ABORTED and rolled back
//     on a mismatch), the batch is collapsed to each row's last mutation and written in batches
//     (DELETE ... = ANY(array); INSERT ... SELECT FROM unnest(arrays) ON CONFLICT DO UPDATE, a
//     few thousand rows per statement), then the new offsets; COMMIT.
//   - errors: connection trouble is UNAVAILABLE (retryable) naming host:port/database, never
//     the URL or password; a statement timeout DEADLINE_EXCEEDED.
#pragma once

#include <memory>

#include "common/status.h"
#include "infra/postgres/postgres_config.h"
#include "projections/view_store.h"

namespace axion::infra::postgres {

// Connects, migrates the schema up (config.migrate) and checks it is at this build's latest
// migration (FAILED_PRECONDITION otherwise).
Result<std::unique_ptr<projections::ViewStore>> open_postgres_view_store(
    const PostgresConfig& config);

}  // namespace axion::infra::postgres
