// The query RPCs of ProjectService, DeploymentService and InfrastructureService: each one is
// QueryGateway::begin (token, consistency wait) and one ViewQueries call.
#include <google/protobuf/util/time_util.h>

#include "infra/grpc/deployment_service.h"
#include "infra/grpc/infrastructure_service.h"
#include "infra/grpc/project_service.h"
#include "sagas/system_requirements.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;
using projections::ViewQueries;

namespace {

const google::protobuf::RepeatedPtrField<v1::LogPosition>& no_positions() {
  static const google::protobuf::RepeatedPtrField<v1::LogPosition> none;
  return none;
}

// Copies a Result's value into `*out` (a field of the response).
template <typename T, typename Out>
Status into(Result<T> result, Out* out) {
  if (!result.ok()) return result.status();
  *out = std::move(result).value();
  return ok_status();
}

}  // namespace

::grpc::Status ProjectServiceImpl::GetProject(::grpc::ServerContext* context,
                                              const v1::GetProjectRequest* request,
                                              v1::GetProjectResponse* response) {
  return answer_query(queries_, context, request->min_positions(), [&](ViewQueries& q) {
    return into(q.project(request->project_id()), response->mutable_project());
  });
}

::grpc::Status ProjectServiceImpl::ListProjects(::grpc::ServerContext* context,
                                                const v1::ListProjectsRequest* request,
                                                v1::ListProjectsResponse* response) {
  return answer_query(queries_, context, no_positions(),
                      [&](ViewQueries& q) { return into(q.list_projects(*request), response); });
}

::grpc::Status ProjectServiceImpl::GetGraph(::grpc::ServerContext* context,
                                            const v1::GetGraphRequest* request,
                                            v1::GetGraphResponse* response) {
  return answer_query(queries_, context, request->min_positions(), [&](ViewQueries& q) {
    return into(q.graph(request->project_id(), request->version()), response->mutable_graph());
  });
}

::grpc::Status DeploymentServiceImpl::GetDeployment(::grpc::ServerContext* context,
                                                    const v1::GetDeploymentRequest* request,
                                                    v1::GetDeploymentResponse* response) {
  return answer_query(queries_, context, request->min_positions(), [&](ViewQueries& q) {
    return into(q.deployment(request->deployment_id()), response->mutable_deployment());
  });
}

::grpc::Status DeploymentServiceImpl::ListDeployments(::grpc::ServerContext* context,
                                                      const v1::ListDeploymentsRequest* request,
                                                      v1::ListDeploymentsResponse* response) {
  return answer_query(queries_, context, no_positions(), [&](ViewQueries& q) {
    return into(q.list_deployments(*request), response);
  });
}

::grpc::Status DeploymentServiceImpl::GetDeploymentStatus(
    ::grpc::ServerContext* context, const v1::GetDeploymentStatusRequest* request,
    v1::GetDeploymentStatusResponse* response) {
  return answer_query(queries_, context, request->min_positions(), [&](ViewQueries& q) {
    return into(q.deployment_status(request->deployment_id()), response);
  });
}

::grpc::Status InfrastructureServiceImpl::GetCluster(::grpc::ServerContext* context,
                                                     const v1::GetClusterRequest* request,
                                                     v1::GetClusterResponse* response) {
  return answer_query(queries_, context, request->min_positions(), [&](ViewQueries& q) {
    return into(q.cluster(request->cluster_id()), response->mutable_cluster());
  });
}

::grpc::Status InfrastructureServiceImpl::ListClusters(::grpc::ServerContext* context,
                                                       const v1::ListClustersRequest* request,
                                                       v1::ListClustersResponse* response) {
  return answer_query(queries_, context, no_positions(),
                      [&](ViewQueries& q) { return into(q.list_clusters(*request), response); });
}

::grpc::Status InfrastructureServiceImpl::ListClusterServers(
    ::grpc::ServerContext* context, const v1::ListClusterServersRequest* request,
    v1::ListClusterServersResponse* response) {
  return answer_query(queries_, context, request->min_positions(), [&](ViewQueries& q) {
    return into(q.list_cluster_servers(*request), response);
  });
}

::grpc::Status InfrastructureServiceImpl::CalculateSystemRequirements(
    ::grpc::ServerContext* context, const v1::CalculateSystemRequirementsRequest* request,
    v1::CalculateSystemRequirementsResponse* response) {
  return answer_query(queries_, context, request->min_positions(), [&](ViewQueries& q) -> Status {
    AXION_RETURN_IF_ERROR(require_id("project_id", request->project_id()));
    auto graph = q.graph(request->project_id(), request->graph_version());
    if (!graph.ok()) return graph.status();
    std::vector<sagas::ServerCapacity> servers;
    if (!request->cluster_id().empty()) {
      AXION_RETURN_IF_ERROR(require_id("cluster_id", request->cluster_id()));
      v1::ListClusterServersRequest page;
      page.set_cluster_id(request->cluster_id());
      page.set_page_size(500);
      do {
        auto listed = q.list_cluster_servers(page);
        if (!listed.ok()) return listed.status();
        for (const auto& s : listed->servers()) servers.push_back({s.name(), s.capacity()});
        page.set_page_token(listed->next_page_token());
      } while (!page.page_token().empty());
    }
    *response->mutable_requirements() = sagas::calculate_system_requirements(
        *graph, request->strategy(), request->cluster_id().empty() ? nullptr : &servers);
    return ok_status();
  });
}

::grpc::Status InfrastructureServiceImpl::GetAgentStatus(::grpc::ServerContext* context,
                                                         const v1::GetAgentStatusRequest* request,
                                                         v1::GetAgentStatusResponse* response) {
  auto status = answer_query(queries_, context, request->min_positions(), [&](ViewQueries& q) {
    return into(q.agent_status(request->server_id()), response);
  });
  // Heartbeats are not events: what the hub holds in memory completes the view.
  if (!status.ok() || !hub_) return status;
  if (const auto live = hub_->live(request->server_id())) {
    response->set_connected(live->connected);
    *response->mutable_load() = live->load;
    if (live->last_heartbeat_ms > 0) {
      const auto at = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(
          live->last_heartbeat_ms);
      *response->mutable_last_heartbeat_at() = at;
      if (at > response->last_seen_at()) *response->mutable_last_seen_at() = at;
    }
  }
  return status;
}

}  // namespace axion::infra::gateway
