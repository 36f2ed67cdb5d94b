// InfrastructureService over gRPC: the cluster, server and agent commands go through the
// CommandGateway to the cluster aggregate (servers live in it, so server requests name their
// cluster_id). GetCluster, ListClusters, ListClusterServers and GetAgentStatus answer from the
// views through the QueryGateway.
#pragma once

#include "axion/v1/infrastructure.grpc.pb.h"
#include "infra/grpc/command_gateway.h"
#include "infra/grpc/query_gateway.h"

namespace axion::infra::gateway {

// The refusal for plaintext SSH credentials until sealing exists (AXION_MASTER_KEY).
inline constexpr std::string_view kCredentialsNotYet =
    "server credentials cannot be stored yet: sealing arrives with AXION_MASTER_KEY support";

class InfrastructureServiceImpl final : public axion::v1::InfrastructureService::Service {
 public:
  // Without `queries` the query RPCs answer UNAVAILABLE.
  explicit InfrastructureServiceImpl(const CommandGateway& gateway,
                                     const QueryGateway* queries = nullptr)
      : gateway_(gateway), queries_(queries) {}

  ::grpc::Status CreateCluster(::grpc::ServerContext*, const axion::v1::CreateClusterRequest*,
                               axion::v1::CreateClusterResponse*) override;
  ::grpc::Status UpdateCluster(::grpc::ServerContext*, const axion::v1::UpdateClusterRequest*,
                               axion::v1::UpdateClusterResponse*) override;
  ::grpc::Status DeleteCluster(::grpc::ServerContext*, const axion::v1::DeleteClusterRequest*,
                               axion::v1::DeleteClusterResponse*) override;
  ::grpc::Status CreateServer(::grpc::ServerContext*, const axion::v1::CreateServerRequest*,
                              axion::v1::CreateServerResponse*) override;
  ::grpc::Status ConfigureServer(::grpc::ServerContext*, const axion::v1::ConfigureServerRequest*,
                                 axion::v1::ConfigureServerResponse*) override;
  ::grpc::Status InstallAgent(::grpc::ServerContext*, const axion::v1::InstallAgentRequest*,
                              axion::v1::InstallAgentResponse*) override;
  ::grpc::Status UninstallAgent(::grpc::ServerContext*, const axion::v1::UninstallAgentRequest*,
                                axion::v1::UninstallAgentResponse*) override;
  ::grpc::Status TestServerConnection(::grpc::ServerContext*,
                                      const axion::v1::TestServerConnectionRequest*,
                                      axion::v1::TestServerConnectionResponse*) override;
  ::grpc::Status GetCluster(::grpc::ServerContext*, const axion::v1::GetClusterRequest*,
                            axion::v1::GetClusterResponse*) override;
  ::grpc::Status ListClusters(::grpc::ServerContext*, const axion::v1::ListClustersRequest*,
                              axion::v1::ListClustersResponse*) override;
  ::grpc::Status ListClusterServers(::grpc::ServerContext*,
                                    const axion::v1::ListClusterServersRequest*,
                                    axion::v1::ListClusterServersResponse*) override;
  ::grpc::Status GetAgentStatus(::grpc::ServerContext*, const axion::v1::GetAgentStatusRequest*,
                                axion::v1::GetAgentStatusResponse*) override;

 private:
  const CommandGateway& gateway_;
  const QueryGateway* queries_;
};

}  // namespace axion::infra::gateway
