// DeploymentService over gRPC: DeployProject, CancelDeployment, RollbackDeployment,
// PromoteDeployment and PauseDeployment go through the CommandGateway to the project aggregate
// (deployments live in it, so every request names its project_id). GetDeployment,
// ListDeployments and GetDeploymentStatus answer from the views through the QueryGateway;
// WatchDeployment adds the deployment's events from the log.
#pragma once

#include "axion/v1/deployment.grpc.pb.h"
#include "events/event_log.h"
#include "infra/grpc/command_gateway.h"
#include "infra/grpc/query_gateway.h"

namespace axion::infra::gateway {

// The command RPCs are on gRPC's callback API (CommandCall); the queries are synchronous.
using DeploymentServiceBase = axion::v1::DeploymentService::WithCallbackMethod_DeployProject<
    axion::v1::DeploymentService::WithCallbackMethod_CancelDeployment<
        axion::v1::DeploymentService::WithCallbackMethod_RollbackDeployment<
            axion::v1::DeploymentService::WithCallbackMethod_PromoteDeployment<
                axion::v1::DeploymentService::WithCallbackMethod_PauseDeployment<
                    axion::v1::DeploymentService::Service>>>>>;

class DeploymentServiceImpl final : public DeploymentServiceBase {
 public:
  // Without `queries` the query RPCs answer UNAVAILABLE.
  // `log` (for WatchDeployment's events) may be null: the watch then answers UNAVAILABLE.
  explicit DeploymentServiceImpl(const CommandGateway& gateway,
                                 const QueryGateway* queries = nullptr,
                                 events::EventLog* log = nullptr)
      : gateway_(gateway), queries_(queries), log_(log) {}

  ::grpc::ServerUnaryReactor* DeployProject(::grpc::CallbackServerContext* context,
                                            const axion::v1::DeployProjectRequest* request,
                                            axion::v1::DeployProjectResponse* response) override;
  ::grpc::ServerUnaryReactor* CancelDeployment(
      ::grpc::CallbackServerContext* context, const axion::v1::CancelDeploymentRequest* request,
      axion::v1::CancelDeploymentResponse* response) override;
  ::grpc::ServerUnaryReactor* RollbackDeployment(
      ::grpc::CallbackServerContext* context, const axion::v1::RollbackDeploymentRequest* request,
      axion::v1::RollbackDeploymentResponse* response) override;
  ::grpc::ServerUnaryReactor* PromoteDeployment(
      ::grpc::CallbackServerContext* context, const axion::v1::PromoteDeploymentRequest* request,
      axion::v1::PromoteDeploymentResponse* response) override;
  ::grpc::ServerUnaryReactor* PauseDeployment(
      ::grpc::CallbackServerContext* context, const axion::v1::PauseDeploymentRequest* request,
      axion::v1::PauseDeploymentResponse* response) override;
  ::grpc::Status GetDeployment(::grpc::ServerContext* context,
                               const axion::v1::GetDeploymentRequest* request,
                               axion::v1::GetDeploymentResponse* response) override;
  ::grpc::Status ListDeployments(::grpc::ServerContext* context,
                                 const axion::v1::ListDeploymentsRequest* request,
                                 axion::v1::ListDeploymentsResponse* response) override;
  ::grpc::Status GetDeploymentStatus(::grpc::ServerContext* context,
                                     const axion::v1::GetDeploymentStatusRequest* request,
                                     axion::v1::GetDeploymentStatusResponse* response) override;
  // The views' deployment, then its events from the log until a terminal one
  // (infra/grpc/deployment_watch.cc). Holds a thread of the synchronous pool per watcher.
  ::grpc::Status WatchDeployment(
      ::grpc::ServerContext* context, const axion::v1::WatchDeploymentRequest* request,
      ::grpc::ServerWriter<axion::v1::WatchDeploymentResponse>* writer) override;

 private:
  const CommandGateway& gateway_;
  const QueryGateway* queries_;
  events::EventLog* log_;
};

}  // namespace axion::infra::gateway
