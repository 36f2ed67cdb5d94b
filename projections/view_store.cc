#include "projections/view_store.h"

namespace axion::projections {

Result<std::vector<Row>> ViewStore::get_many(Table table, const std::vector<std::string>& keys) {
  std::vector<Row> out;
  for (const auto& key : keys) {
    auto row = get(table, key);
    if (!row.ok()) return row.status();
    if (row->has_value()) out.push_back(std::move(**row));
  }
  return out;
}

Result<std::map<std::int32_t, std::uint64_t>> ViewStore::count_by_status(Table table) {
  return Status(StatusCode::kUnimplemented,
                "this view store does not count the rows of " + std::string(table_name(table)));
}

std::string_view table_name(Table table) {
  switch (table) {
    case Table::kProjects: return "projects";
    case Table::kGraphVersions: return "graph_versions";
    case Table::kDeployments: return "deployments";
    case Table::kDeploymentHistory: return "deployment_history";
    case Table::kClusters: return "clusters";
    case Table::kServers: return "servers";
    case Table::kAudit: return "audit";
    case Table::kInternal: return "internal";
  }
  return "unknown";
}

}  // namespace axion::projections
