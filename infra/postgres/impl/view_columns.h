// The SQL side of each view table: its name, primary key column and the typed columns derived
// from the doc (parsed as the table's read model) for people and tools. The index columns
// (project_id, cluster_id, environment, status_code, sort_key) and doc are common to all.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "projections/view_store.h"

namespace axion::infra::postgres::impl {

struct Column {
  std::string name;
  std::string type;  // SQL type: text, integer, bigint, boolean, jsonb, timestamptz
};

struct ViewTable {
  projections::Table table;
  std::string name;             // "deployments"
  std::string pk;               // "id" (deployments, deployment_history) or "key"
  std::vector<Column> derived;  // typed columns filled from the doc
};

const ViewTable& view_table(projections::Table table);

// The derived columns' values for `row` in ViewTable::derived order, as PostgreSQL text input;
// nullopt = NULL (a doc that does not parse as the read model yields NULLs).
std::vector<std::optional<std::string>> derive_columns(const projections::Row& row);

}  // namespace axion::infra::postgres::impl
