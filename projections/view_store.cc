#include "projections/view_store.h"

namespace axion::projections {

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
