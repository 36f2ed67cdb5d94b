// Versioned schema migrations of the PostgreSQL views, and the promotion of a rebuilt schema. Migrations are numbered up/down SQL
// pairs (infra/postgres/migrations/NNNN_name.{up,down}.sql) compiled into the binary; a schema's
// `schema_migrations` table records which are applied. Each call runs in ONE transaction under
// an advisory lock per schema (concurrent migrators wait for each other), so a failed step
// leaves the schema as it was.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "common/status.h"

namespace axion::infra::postgres {

struct Migration {
  int version = 0;    // 1, 2, ... without gaps
  std::string name;   // "views"
  std::string up;
  std::string down;
};

// The migrations this build knows, in version order.
const std::vector<Migration>& migrations();
int latest_migration();

inline constexpr int kLatest = -1;

// Creates the schema if missing and applies every pending migration up to `target` (kLatest =
// all). Already there: nothing happens. FAILED_PRECONDITION if the schema holds a version newer
// than this build knows.
Status migrate_up(const std::string& url, const std::string& schema, int target = kLatest);
// Reverts applied migrations above `target` (newest first); at 0 the schema_migrations table
// goes too, leaving the schema empty (the schema itself stays).
Status migrate_down(const std::string& url, const std::string& schema, int target);
// The schema's applied version (0: none, or no such schema).
Result<int> migration_version(const std::string& url, const std::string& schema);
// DROP SCHEMA ... CASCADE (e.g. an <live>_old_<n> left by a promotion). Missing: OK.
Status drop_postgres_schema(const std::string& url, const std::string& schema);

// Swaps a rebuilt view set in: in ONE transaction renames `live_schema` (if it exists) to
// <live_schema>_old_<n> (n one above any existing) and `new_schema` to `live_schema`. Readers
// name tables by schema in every statement, so each statement sees either the old or the new
// set whole. `new_schema` must exist at the latest migration (FAILED_PRECONDITION otherwise).
// The newest `keep_old` old schemas are kept as fallbacks (promote one back by hand, or drop it
// with drop_postgres_schema); older ones are dropped in the same transaction, so rebuilds do not
// pile up copies of the views.
Status promote_postgres_views(const std::string& url, const std::string& new_schema,
                              const std::string& live_schema, std::size_t keep_old = 1);

}  // namespace axion::infra::postgres
