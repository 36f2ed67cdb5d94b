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
