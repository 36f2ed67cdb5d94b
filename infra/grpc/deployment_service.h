// DeploymentService over gRPC: DeployProject, CancelDeployment, RollbackDeployment,
// PromoteDeployment and PauseDeployment go through the CommandGateway to the project aggregate
// (deployments live in it, so every request names its project_id). GetDeployment,
// ListDeployments and GetDeploymentStatus answer from the views through the QueryGateway.
#pragma once

#include "axion/v1/deployment.grpc.pb.h"
#include "infra/grpc/command_gateway.h"
#include "infra/grpc/query_gateway.h"

namespace axion::infra::gateway {

class DeploymentServiceImpl final : public axion::v1::DeploymentService::Service {
 public:
  // Without `queries` the query RPCs answer UNAVAILABLE.
  explicit DeploymentServiceImpl(const CommandGateway& gateway,
                                 const QueryGateway* queries = nullptr)
      : gateway_(gateway), queries_(queries) {}

  ::grpc::Status DeployProject(::grpc::ServerContext* context,
                               const axion::v1::DeployProjectRequest* request,
                               axion::v1::DeployProjectResponse* response) override;
  ::grpc::Status CancelDeployment(::grpc::ServerContext* context,
                                  const axion::v1::CancelDeploymentRequest* request,
                                  axion::v1::CancelDeploymentResponse* response) override;
  ::grpc::Status RollbackDeployment(::grpc::ServerContext* context,
                                    const axion::v1::RollbackDeploymentRequest* request,
                                    axion::v1::RollbackDeploymentResponse* response) override;
  ::grpc::Status PromoteDeployment(::grpc::ServerContext* context,
                                   const axion::v1::PromoteDeploymentRequest* request,
                                   axion::v1::PromoteDeploymentResponse* response) override;
  ::grpc::Status PauseDeployment(::grpc::ServerContext* context,
                                 const axion::v1::PauseDeploymentRequest* request,
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

 private:
  const CommandGateway& gateway_;
  const QueryGateway* queries_;
};

}  // namespace axion::infra::gateway
