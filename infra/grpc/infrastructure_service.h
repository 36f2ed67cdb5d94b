// InfrastructureService over gRPC: the cluster, server and agent commands go through the
// CommandGateway to the cluster aggregate (servers live in it, so server requests name their
// cluster_id). GetCluster, ListClusters, ListClusterServers and GetAgentStatus answer from the
// views through the QueryGateway.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <utility>

#include "axion/v1/infrastructure.grpc.pb.h"
#include "infra/crypto/secret_sealer.h"
#include "infra/ssh/ssh_session.h"
#include "infra/grpc/agent_hub.h"
#include "infra/grpc/command_gateway.h"
#include "infra/grpc/query_gateway.h"

namespace axion::infra::gateway {

// How long TestServerConnection waits for a server: TCP connect and SSH handshake, then each
// SSH operation; at most this many tests run at once (RESOURCE_EXHAUSTED beyond).
inline constexpr std::chrono::milliseconds kSshConnectTimeout{10000};
inline constexpr std::chrono::milliseconds kSshIoTimeout{30000};
inline constexpr int kMaxConcurrentSshTests = 16;

// The command RPCs are on gRPC's callback API (CommandCall); the queries are synchronous.
using InfrastructureServiceBase =
    axion::v1::InfrastructureService::WithCallbackMethod_CreateCluster<
        axion::v1::InfrastructureService::WithCallbackMethod_UpdateCluster<
            axion::v1::InfrastructureService::WithCallbackMethod_DeleteCluster<
                axion::v1::InfrastructureService::WithCallbackMethod_CreateServer<
                    axion::v1::InfrastructureService::WithCallbackMethod_ConfigureServer<
                        axion::v1::InfrastructureService::WithCallbackMethod_InstallAgent<
                            axion::v1::InfrastructureService::WithCallbackMethod_UninstallAgent<
                                axion::v1::InfrastructureService::
                                    WithCallbackMethod_TestServerConnection<
                                        axion::v1::InfrastructureService::
                                            WithCallbackMethod_CreateAgentRegistrationToken<
                                                axion::v1::InfrastructureService::
                                                    WithCallbackMethod_RevokeAgentCredentials<
                                                        axion::v1::InfrastructureService::
                                                            WithCallbackMethod_CancelAgentInstall<
                                                                axion::v1::
                                                                    InfrastructureService::
                                                                        Service>>>>>>>>>>>;

class InfrastructureServiceImpl final : public InfrastructureServiceBase {
 public:
  // Without `queries` the query RPCs answer UNAVAILABLE.
  explicit InfrastructureServiceImpl(const CommandGateway& gateway,
                                     const QueryGateway* queries = nullptr)
      : gateway_(gateway), queries_(queries) {}

  ::grpc::ServerUnaryReactor* CreateCluster(::grpc::CallbackServerContext*,
                                            const axion::v1::CreateClusterRequest*,
                                            axion::v1::CreateClusterResponse*) override;
  ::grpc::ServerUnaryReactor* UpdateCluster(::grpc::CallbackServerContext*,
                                            const axion::v1::UpdateClusterRequest*,
                                            axion::v1::UpdateClusterResponse*) override;
  ::grpc::ServerUnaryReactor* DeleteCluster(::grpc::CallbackServerContext*,
                                            const axion::v1::DeleteClusterRequest*,
                                            axion::v1::DeleteClusterResponse*) override;
  ::grpc::ServerUnaryReactor* CreateServer(::grpc::CallbackServerContext*,
                                           const axion::v1::CreateServerRequest*,
                                           axion::v1::CreateServerResponse*) override;
  ::grpc::ServerUnaryReactor* ConfigureServer(::grpc::CallbackServerContext*,
                                              const axion::v1::ConfigureServerRequest*,
                                              axion::v1::ConfigureServerResponse*) override;
  ::grpc::ServerUnaryReactor* InstallAgent(::grpc::CallbackServerContext*,
                                           const axion::v1::InstallAgentRequest*,
                                           axion::v1::InstallAgentResponse*) override;
  ::grpc::ServerUnaryReactor* UninstallAgent(::grpc::CallbackServerContext*,
                                             const axion::v1::UninstallAgentRequest*,
                                             axion::v1::UninstallAgentResponse*) override;
  ::grpc::ServerUnaryReactor* CancelAgentInstall(::grpc::CallbackServerContext*,
                                                 const axion::v1::CancelAgentInstallRequest*,
                                                 axion::v1::CancelAgentInstallResponse*) override;
  ::grpc::ServerUnaryReactor* TestServerConnection(
      ::grpc::CallbackServerContext*, const axion::v1::TestServerConnectionRequest*,
      axion::v1::TestServerConnectionResponse*) override;
  ::grpc::ServerUnaryReactor* CreateAgentRegistrationToken(
      ::grpc::CallbackServerContext*, const axion::v1::CreateAgentRegistrationTokenRequest*,
      axion::v1::CreateAgentRegistrationTokenResponse*) override;
  ::grpc::ServerUnaryReactor* RevokeAgentCredentials(
      ::grpc::CallbackServerContext*, const axion::v1::RevokeAgentCredentialsRequest*,
      axion::v1::RevokeAgentCredentialsResponse*) override;
  ::grpc::Status GetCluster(::grpc::ServerContext*, const axion::v1::GetClusterRequest*,
                            axion::v1::GetClusterResponse*) override;
  ::grpc::Status ListClusters(::grpc::ServerContext*, const axion::v1::ListClustersRequest*,
                              axion::v1::ListClustersResponse*) override;
  ::grpc::Status ListClusterServers(::grpc::ServerContext*,
                                    const axion::v1::ListClusterServersRequest*,
                                    axion::v1::ListClusterServersResponse*) override;
  ::grpc::Status GetAgentStatus(::grpc::ServerContext*, const axion::v1::GetAgentStatusRequest*,
                                axion::v1::GetAgentStatusResponse*) override;
  // The graph version's needs and, with a cluster_id, whether the cluster has room
  // (sagas/system_requirements.h).
  ::grpc::Status CalculateSystemRequirements(
      ::grpc::ServerContext*, const axion::v1::CalculateSystemRequirementsRequest*,
      axion::v1::CalculateSystemRequirementsResponse*) override;

  // GetAgentStatus adds what the hub knows in memory (connected, last heartbeat, load);
  // RevokeAgentCredentials ends the revoked agent's stream if this server holds it.
  // REQUIRES: `hub` outlives the service; set before serving.
  void set_agent_hub(AgentHub* hub) { hub_ = hub; }
  // CreateServer and ConfigureServer seal SSH credentials with it; TestServerConnection opens
  // them. Without one, requests carrying a credential are FAILED_PRECONDITION.
  // REQUIRES: outlives the service; set before serving.
  void set_sealer(const infra::crypto::SecretSealer* sealer) { sealer_ = sealer; }
  // Waits for the connection tests still running.
  ~InfrastructureServiceImpl() override;

 private:
  // infra/grpc/server_ssh.cc: the SSH connection test, on a thread of its own.
  void run_connection_test(CommandCall rpc, Call call, axion::v1::TestServerConnectionRequest request,
                           axion::v1::TestServerConnectionResponse* response);

  const CommandGateway& gateway_;
  const QueryGateway* queries_;
  AgentHub* hub_ = nullptr;
  const infra::crypto::SecretSealer* sealer_ = nullptr;
  std::mutex tests_mu_;
  std::condition_variable tests_done_;
  int tests_running_ = 0;
};

// The SshCredential of a CreateServer or ConfigureServer request sealed for `server_id`, with
// the auth kind it implies; INVALID_ARGUMENT (field "credential") for an empty or oversized one,
// FAILED_PRECONDITION without a sealer.
Result<std::pair<axion::v1::SshAuthKind, axion::v1::SealedSecret>> seal_ssh_credential(
    const infra::crypto::SecretSealer* sealer, const axion::v1::SshCredential& credential,
    const std::string& server_id);
// What a server's sealed credential is bound to (the sealer's associated data).
std::string ssh_credential_binding(const std::string& server_id);
// Opens a server's sealed credential into what SshSession authenticates with (wipe it with
// wipe_ssh_auth after use). FAILED_PRECONDITION naming the server when it cannot be opened.
Result<infra::ssh::SshAuth> open_ssh_auth(const infra::crypto::SecretSealer& sealer,
                                          const axion::v1::SealedSecret& sealed,
                                          const std::string& server_id,
                                          const std::string& server_name);
void wipe_ssh_auth(infra::ssh::SshAuth& auth);

}  // namespace axion::infra::gateway
