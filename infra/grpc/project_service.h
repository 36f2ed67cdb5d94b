// ProjectService over gRPC: the command RPCs (RegisterProject, PublishGraph) go through the
// CommandGateway; the query RPCs stay UNIMPLEMENTED until the read side exists.
#pragma once

#include "axion/v1/project.grpc.pb.h"
#include "infra/grpc/command_gateway.h"

namespace axion::infra::gateway {

class ProjectServiceImpl final : public axion::v1::ProjectService::Service {
 public:
  explicit ProjectServiceImpl(const CommandGateway& gateway) : gateway_(gateway) {}

  ::grpc::Status RegisterProject(::grpc::ServerContext* context,
                                 const axion::v1::RegisterProjectRequest* request,
                                 axion::v1::RegisterProjectResponse* response) override;
  ::grpc::Status PublishGraph(::grpc::ServerContext* context,
                              const axion::v1::PublishGraphRequest* request,
                              axion::v1::PublishGraphResponse* response) override;

 private:
  const CommandGateway& gateway_;
};

}  // namespace axion::infra::gateway
