// Cluster and server commands. Ids of new clusters and servers are assigned here; server
// commands are addressed to their cluster (aggregate id and partition key). SSH credentials are
// sealed here (infra/grpc/server_ssh.cc) before the command is queued, so no secret is ever
// queued or stored in the clear; TestServerConnection is in server_ssh.cc too.
#include "infra/grpc/infrastructure_service.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;

namespace {

Status require_server(const std::string& cluster_id, const std::string& server_id) {
  AXION_RETURN_IF_ERROR(require_id("cluster_id", cluster_id));
  return require_id("server_id", server_id);
}

}  // namespace

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::CreateCluster(
    ::grpc::CallbackServerContext* context, const v1::CreateClusterRequest* request,
    v1::CreateClusterResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  v1::CreateCluster command;
  command.set_cluster_id(CommandGateway::new_aggregate_id(*call, "cluster"));
  command.set_name(request->name());
  command.set_description(request->description());
  *command.mutable_labels() = request->labels();
  command.set_kind(request->kind());
  return rpc.submit(gateway_, *call, {"cluster", command.cluster_id()}, command,
                    [response, cluster_id = command.cluster_id()](const v1::CommandResult& result) {
                      response->set_cluster_id(created_id(result, "cluster_id", cluster_id));
                      copy_positions(result, response->mutable_positions());
                      response->set_aggregate_version(result.aggregate_version());
                    });
}

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::UpdateCluster(
    ::grpc::CallbackServerContext* context, const v1::UpdateClusterRequest* request,
    v1::UpdateClusterResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_id("cluster_id", request->cluster_id()); !s.ok()) return rpc.finish(s);
  v1::UpdateCluster command;
  command.set_cluster_id(request->cluster_id());
  command.set_name(request->name());
  command.set_description(request->description());
  *command.mutable_labels() = request->labels();
  *command.mutable_update_mask() = request->update_mask();
  return rpc.submit(gateway_, *call,
                    {"cluster", request->cluster_id(), request->expected_version()}, command,
                    [response, request](const v1::CommandResult& result) {
                      response->set_cluster_id(request->cluster_id());
                      copy_positions(result, response->mutable_positions());
                      response->set_aggregate_version(result.aggregate_version());
                    });
}

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::DeleteCluster(
    ::grpc::CallbackServerContext* context, const v1::DeleteClusterRequest* request,
    v1::DeleteClusterResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_id("cluster_id", request->cluster_id()); !s.ok()) return rpc.finish(s);
  v1::DeleteCluster command;
  command.set_cluster_id(request->cluster_id());
  command.set_reason(request->reason());
  return rpc.submit(gateway_, *call,
                    {"cluster", request->cluster_id(), request->expected_version()}, command,
                    [response, request](const v1::CommandResult& result) {
                      response->set_cluster_id(request->cluster_id());
                      copy_positions(result, response->mutable_positions());
                    });
}

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::CreateServer(
    ::grpc::CallbackServerContext* context, const v1::CreateServerRequest* request,
    v1::CreateServerResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_id("cluster_id", request->cluster_id()); !s.ok()) return rpc.finish(s);
  v1::CreateServer command;
  command.set_server_id(new_uuid());
  command.set_cluster_id(request->cluster_id());
  command.set_name(request->name());
  command.set_host(request->host());
  command.set_port(request->port());
  command.set_ssh_user(request->ssh_user());
  // Without a credential the server has no SSH settings: it is reached through an agent
  // installed by hand with a registration token (CreateAgentRegistrationToken).
  command.set_auth_kind(v1::SSH_AUTH_KIND_UNSPECIFIED);
  if (request->has_credential()) {
    auto sealed = seal_ssh_credential(sealer_, request->credential(), command.server_id());
    if (!sealed.ok()) return rpc.finish(sealed.status());
    command.set_auth_kind(sealed->first);
    *command.mutable_credential() = std::move(sealed->second);
  }
  *command.mutable_labels() = request->labels();
  return rpc.submit(gateway_, *call, {"cluster", request->cluster_id()}, command,
                    [response, server_id = command.server_id()](const v1::CommandResult& result) {
                      response->set_server_id(created_id(result, "server_id", server_id));
                      copy_positions(result, response->mutable_positions());
                      response->set_aggregate_version(result.aggregate_version());
                    });
}

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::ConfigureServer(
    ::grpc::CallbackServerContext* context, const v1::ConfigureServerRequest* request,
    v1::ConfigureServerResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_server(request->cluster_id(), request->server_id()); !s.ok()) {
    return rpc.finish(s);
  }
  v1::ConfigureServer command;
  command.set_server_id(request->server_id());
  command.set_name(request->name());
  command.set_host(request->host());
  command.set_port(request->port());
  command.set_ssh_user(request->ssh_user());
  *command.mutable_labels() = request->labels();
  *command.mutable_update_mask() = request->update_mask();
  if (request->has_credential()) {
    auto sealed = seal_ssh_credential(sealer_, request->credential(), request->server_id());
    if (!sealed.ok()) return rpc.finish(sealed.status());
    command.set_auth_kind(sealed->first);
    *command.mutable_credential() = std::move(sealed->second);
  }
  if (request->update_mask().paths_size() == 0) {
    // "Empty = all" would clear what the caller left out: change the fields the caller set.
    auto* mask = command.mutable_update_mask();
    if (!request->name().empty()) mask->add_paths("name");
    if (!request->host().empty()) mask->add_paths("host");
    if (request->port() != 0) mask->add_paths("port");
    if (!request->ssh_user().empty()) mask->add_paths("ssh_user");
    if (!request->labels().empty()) mask->add_paths("labels");
    if (request->has_credential()) {
      mask->add_paths("auth_kind");
      mask->add_paths("credential");
    }
    if (mask->paths_size() == 0) {
      return rpc.finish(invalid_field("update_mask", "the request changes nothing: set a field"));
    }
  }
  return rpc.submit(gateway_, *call,
                    {"cluster", request->cluster_id(), request->expected_version()}, command,
                    [response, request](const v1::CommandResult& result) {
                      response->set_server_id(request->server_id());
                      copy_positions(result, response->mutable_positions());
                      response->set_aggregate_version(result.aggregate_version());
                    });
}

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::InstallAgent(
    ::grpc::CallbackServerContext* context, const v1::InstallAgentRequest* request,
    v1::InstallAgentResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_server(request->cluster_id(), request->server_id()); !s.ok()) {
    return rpc.finish(s);
  }
  v1::InstallAgent command;
  command.set_server_id(request->server_id());
  command.set_install_id(new_uuid());
  command.set_agent_version(request->agent_version());
  return rpc.submit(
      gateway_, *call, {"cluster", request->cluster_id()}, command,
      [response, install_id = command.install_id(), request](const v1::CommandResult& result) {
        response->set_server_id(request->server_id());
        response->set_install_id(created_id(result, "install_id", install_id));
        copy_positions(result, response->mutable_positions());
      });
}

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::UninstallAgent(
    ::grpc::CallbackServerContext* context, const v1::UninstallAgentRequest* request,
    v1::UninstallAgentResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_server(request->cluster_id(), request->server_id()); !s.ok()) {
    return rpc.finish(s);
  }
  v1::UninstallAgent command;
  command.set_server_id(request->server_id());
  command.set_reason(request->reason());
  command.set_uninstall_id(new_uuid());
  return rpc.submit(gateway_, *call, {"cluster", request->cluster_id()}, command,
                    [response, request, id = command.uninstall_id()](
                        const v1::CommandResult& result) {
                      response->set_server_id(request->server_id());
                      response->set_uninstall_id(created_id(result, "uninstall_id", id));
                      copy_positions(result, response->mutable_positions());
                    });
}

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::CancelAgentInstall(
    ::grpc::CallbackServerContext* context, const v1::CancelAgentInstallRequest* request,
    v1::CancelAgentInstallResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_server(request->cluster_id(), request->server_id()); !s.ok()) {
    return rpc.finish(s);
  }
  v1::CancelAgentInstall command;
  command.set_server_id(request->server_id());
  command.set_install_id(request->install_id());
  command.set_reason(request->reason());
  return rpc.submit(gateway_, *call, {"cluster", request->cluster_id()}, command,
                    [response, request](const v1::CommandResult& result) {
                      response->set_server_id(request->server_id());
                      response->set_install_id(
                          created_id(result, "install_id", request->install_id()));
                      copy_positions(result, response->mutable_positions());
                    });
}

}  // namespace axion::infra::gateway
