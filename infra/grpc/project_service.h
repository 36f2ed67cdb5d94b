// ProjectService over gRPC: the command RPCs (RegisterProject, PublishGraph) go through the
// CommandGateway; the query RPCs (GetProject, ListProjects, GetGraph) through the QueryGateway.
#pragma once

#include "axion/v1/project.grpc.pb.h"
#include "infra/grpc/command_gateway.h"
#include "infra/grpc/query_gateway.h"

namespace axion::infra::gateway {

// The command RPCs are on gRPC's callback API (CommandCall); the queries are synchronous.
using ProjectServiceBase = axion::v1::ProjectService::WithCallbackMethod_RegisterProject<
    axion::v1::ProjectService::WithCallbackMethod_PublishGraph<axion::v1::ProjectService::Service>>;

class ProjectServiceImpl final : public ProjectServiceBase {
 public:
  // Without `queries` the query RPCs answer UNAVAILABLE.
  explicit ProjectServiceImpl(const CommandGateway& gateway, const QueryGateway* queries = nullptr)
      : gateway_(gateway), queries_(queries) {}

  ::grpc::ServerUnaryReactor* RegisterProject(
      ::grpc::CallbackServerContext* context, const axion::v1::RegisterProjectRequest* request,
      axion::v1::RegisterProjectResponse* response) override;
  ::grpc::ServerUnaryReactor* PublishGraph(::grpc::CallbackServerContext* context,
                                           const axion::v1::PublishGraphRequest* request,
                                           axion::v1::PublishGraphResponse* response) override;
  ::grpc::Status GetProject(::grpc::ServerContext* context,
                            const axion::v1::GetProjectRequest* request,
                            axion::v1::GetProjectResponse* response) override;
  ::grpc::Status ListProjects(::grpc::ServerContext* context,
                              const axion::v1::ListProjectsRequest* request,
                              axion::v1::ListProjectsResponse* response) override;
  ::grpc::Status GetGraph(::grpc::ServerContext* context, const axion::v1::GetGraphRequest* request,
                          axion::v1::GetGraphResponse* response) override;

 private:
  const CommandGateway& gateway_;
  const QueryGateway* queries_;
};

}  // namespace axion::infra::gateway
