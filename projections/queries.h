// ViewQueries: the query RPCs' answers, read from a ViewStore (the gRPC services only add
// authentication, the consistency-token wait and the status mapping). Unknown ids are
// NOT_FOUND; bad filters, page sizes and page tokens are INVALID_ARGUMENT naming the field.
//
// Page tokens are opaque to clients: they carry where the previous page stopped (sort key and
// row key) and a fingerprint of the query's filters, so a token replayed with other filters is
// refused instead of silently skipping rows.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "axion/v1/audit.pb.h"
#include "axion/v1/deployment.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "axion/v1/project.pb.h"
#include "projections/view_store.h"

namespace axion::projections {

inline constexpr int kDefaultPageSize = 50;
inline constexpr int kMaxPageSize = 500;

class ViewQueries {
 public:
  explicit ViewQueries(ViewStore& store) : store_(store) {}

  Result<axion::v1::Deployment> deployment(const std::string& deployment_id);
  Result<axion::v1::GetDeploymentStatusResponse> deployment_status(
      const std::string& deployment_id);
  // Newest first; filters: project, environment, statuses.
  Result<axion::v1::ListDeploymentsResponse> list_deployments(
      const axion::v1::ListDeploymentsRequest& request);
  // The successes a rollback can return to, newest first (rotated per project).
  Result<std::vector<axion::v1::DeploymentSnapshot>> history(const std::string& project_id,
                                                             std::size_t limit);

  Result<axion::v1::Project> project(const std::string& project_id);
  // Oldest first; filter: owner.
  Result<axion::v1::ListProjectsResponse> list_projects(
      const axion::v1::ListProjectsRequest& request);
  // version 0 = the latest.
  Result<axion::v1::GraphVersion> graph(const std::string& project_id, std::uint64_t version);

  Result<axion::v1::Cluster> cluster(const std::string& cluster_id);
  Result<axion::v1::ListClustersResponse> list_clusters(
      const axion::v1::ListClustersRequest& request);
  // NOT_FOUND for an unknown cluster.
  Result<axion::v1::ListClusterServersResponse> list_cluster_servers(
      const axion::v1::ListClusterServersRequest& request);
  Result<axion::v1::GetAgentStatusResponse> agent_status(const std::string& server_id);
  // The server's row with its sealed credential — for the gateway's SSH work, never for an
  // answer. NOT_FOUND for an unknown server.
  Result<axion::v1::Server> server_with_credential(const std::string& server_id);
  // The key ids of every sealed credential in the views (the start-up check that
  // AXION_MASTER_KEY can open them).
  Result<std::set<std::string>> credential_key_ids();

  // A project's audit entries in log order, after `after_sequence`, at most `limit`.
  Result<std::vector<axion::v1::AuditEntry>> audit(const std::string& project_id,
                                                   std::uint64_t after_sequence,
                                                   std::size_t limit);

 private:
  ViewStore& store_;
};

}  // namespace axion::projections
