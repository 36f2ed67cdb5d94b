// Deployment commands. Each is addressed to its project (aggregate id and partition key), so
// every command about one project is decided in order by one processor; the gateway assigns the
// ids of new deployments (the aggregate returns the first ones on an idempotent retry).
#include "infra/grpc/deployment_service.h"

#include "commands/field_checks.h"

namespace axion::infra::gateway {

namespace {

// The shared tail of the RPCs that act on an existing deployment: submit, then answer with the
// deployment id, the events' positions and the project's version.
template <typename Response>
::grpc::ServerUnaryReactor* act_on_deployment(CommandCall& rpc, const CommandGateway& gateway,
                                              const Call& call, const Target& target,
                                              const google::protobuf::Message& command,
                                              const std::string& deployment_id,
                                              Response* response) {
  return rpc.submit(gateway, call, target, command,
                    [response, deployment_id](const axion::v1::CommandResult& result) {
                      response->set_deployment_id(deployment_id);
                      copy_positions(result, response->mutable_positions());
                      response->set_aggregate_version(result.aggregate_version());
                    });
}

}  // namespace

namespace v1 = axion::v1;

namespace {

// The ids every steering command needs, checked before anything is appended.
Status require_ids(const std::string& project_id, const std::string& deployment_id) {
  AXION_RETURN_IF_ERROR(require_id("project_id", project_id));
  return require_id("deployment_id", deployment_id);
}

}  // namespace

::grpc::ServerUnaryReactor* DeploymentServiceImpl::DeployProject(
    ::grpc::CallbackServerContext* context, const v1::DeployProjectRequest* request,
    v1::DeployProjectResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_id("project_id", request->project_id()); !s.ok()) return rpc.finish(s);
  if (auto p = commands::dns_label_problem(request->environment()); !p.empty()) {
    return rpc.finish(
        invalid_field("environment", "environment " + commands::quote(request->environment()) +
                                         " is not a DNS label (" + p +
                                         "): " + std::string(commands::kDnsLabelRule)));
  }
  v1::DeployProject command;
  command.set_deployment_id(new_uuid());
  command.set_project_id(request->project_id());
  command.set_environment(request->environment());
  command.set_graph_version(request->graph_version());
  *command.mutable_strategy() = request->strategy();
  *command.mutable_options() = request->options();
  command.set_commit_hash(request->commit_hash());
  return rpc.submit(gateway_, *call, {"project", request->project_id()}, command,
                    [response, id = command.deployment_id()](const v1::CommandResult& result) {
                      response->set_deployment_id(created_id(result, "deployment_id", id));
                      copy_positions(result, response->mutable_positions());
                      response->set_aggregate_version(result.aggregate_version());
                    });
}

::grpc::ServerUnaryReactor* DeploymentServiceImpl::CancelDeployment(
    ::grpc::CallbackServerContext* context, const v1::CancelDeploymentRequest* request,
    v1::CancelDeploymentResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_ids(request->project_id(), request->deployment_id()); !s.ok()) {
    return rpc.finish(s);
  }
  v1::CancelDeployment command;
  command.set_deployment_id(request->deployment_id());
  command.set_reason(request->reason());
  return act_on_deployment(rpc, gateway_, *call,
                           {"project", request->project_id(), request->expected_version()}, command,
                           request->deployment_id(), response);
}

::grpc::ServerUnaryReactor* DeploymentServiceImpl::RollbackDeployment(
    ::grpc::CallbackServerContext* context, const v1::RollbackDeploymentRequest* request,
    v1::RollbackDeploymentResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_ids(request->project_id(), request->deployment_id()); !s.ok()) {
    return rpc.finish(s);
  }
  if (!request->target_deployment_id().empty()) {
    if (auto s = require_id("target_deployment_id", request->target_deployment_id()); !s.ok()) {
      return rpc.finish(s);
    }
  }
  v1::RollbackDeployment command;
  command.set_deployment_id(request->deployment_id());
  command.set_target_deployment_id(request->target_deployment_id());
  command.set_rollback_deployment_id(new_uuid());
  command.set_reason(request->reason());
  command.set_fast(request->fast());
  return rpc.submit(
      gateway_, *call, {"project", request->project_id()}, command,
      [response, rollback_id = command.rollback_deployment_id(),
       target_id = request->target_deployment_id()](const v1::CommandResult& result) {
        response->set_rollback_deployment_id(
            created_id(result, "rollback_deployment_id", rollback_id));
        response->set_target_deployment_id(created_id(result, "target_deployment_id", target_id));
        copy_positions(result, response->mutable_positions());
        response->set_aggregate_version(result.aggregate_version());
      });
}

::grpc::ServerUnaryReactor* DeploymentServiceImpl::PromoteDeployment(
    ::grpc::CallbackServerContext* context, const v1::PromoteDeploymentRequest* request,
    v1::PromoteDeploymentResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_ids(request->project_id(), request->deployment_id()); !s.ok()) {
    return rpc.finish(s);
  }
  v1::PromoteDeployment command;
  command.set_deployment_id(request->deployment_id());
  command.set_full(request->full());
  return act_on_deployment(rpc, gateway_, *call,
                           {"project", request->project_id(), request->expected_version()}, command,
                           request->deployment_id(), response);
}

::grpc::ServerUnaryReactor* DeploymentServiceImpl::PauseDeployment(
    ::grpc::CallbackServerContext* context, const v1::PauseDeploymentRequest* request,
    v1::PauseDeploymentResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_ids(request->project_id(), request->deployment_id()); !s.ok()) {
    return rpc.finish(s);
  }
  v1::PauseDeployment command;
  command.set_deployment_id(request->deployment_id());
  command.set_reason(request->reason());
  return act_on_deployment(rpc, gateway_, *call,
                           {"project", request->project_id(), request->expected_version()}, command,
                           request->deployment_id(), response);
}

}  // namespace axion::infra::gateway
