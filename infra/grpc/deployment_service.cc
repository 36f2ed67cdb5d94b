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
::grpc::Status act_on_deployment(const CommandGateway& gateway, const Call& call,
                                 const Target& target, const google::protobuf::Message& command,
                                 const std::string& deployment_id, Response* response) {
  auto result = gateway.submit(call, target, command);
  if (!result.ok()) return to_grpc(result.status());
  response->set_deployment_id(deployment_id);
  copy_positions(*result, response->mutable_positions());
  response->set_aggregate_version(result->aggregate_version());
  return ::grpc::Status::OK;
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

::grpc::Status DeploymentServiceImpl::DeployProject(::grpc::ServerContext* context,
                                                    const v1::DeployProjectRequest* request,
                                                    v1::DeployProjectResponse* response) {
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return to_grpc(call.status());
  if (auto s = require_id("project_id", request->project_id()); !s.ok()) return to_grpc(s);
  if (auto p = commands::dns_label_problem(request->environment()); !p.empty()) {
    return to_grpc(invalid_field("environment",
                                 "environment " + commands::quote(request->environment()) +
                                     " is not a DNS label (" + p + "): " +
                                     std::string(commands::kDnsLabelRule)));
  }
  v1::DeployProject command;
  command.set_deployment_id(new_uuid());
  command.set_project_id(request->project_id());
  command.set_environment(request->environment());
  command.set_graph_version(request->graph_version());
  *command.mutable_strategy() = request->strategy();
  *command.mutable_options() = request->options();
  command.set_commit_hash(request->commit_hash());
  auto result = gateway_.submit(*call, {"project", request->project_id()}, command);
  if (!result.ok()) return to_grpc(result.status());
  response->set_deployment_id(created_id(*result, "deployment_id", command.deployment_id()));
  copy_positions(*result, response->mutable_positions());
  response->set_aggregate_version(result->aggregate_version());
  return ::grpc::Status::OK;
}

::grpc::Status DeploymentServiceImpl::CancelDeployment(::grpc::ServerContext* context,
                                                       const v1::CancelDeploymentRequest* request,
                                                       v1::CancelDeploymentResponse* response) {
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return to_grpc(call.status());
  if (auto s = require_ids(request->project_id(), request->deployment_id()); !s.ok()) {
    return to_grpc(s);
  }
  v1::CancelDeployment command;
  command.set_deployment_id(request->deployment_id());
  command.set_reason(request->reason());
  return act_on_deployment(gateway_, *call,
                           {"project", request->project_id(), request->expected_version()},
                           command, request->deployment_id(), response);
}

::grpc::Status DeploymentServiceImpl::RollbackDeployment(
    ::grpc::ServerContext* context, const v1::RollbackDeploymentRequest* request,
    v1::RollbackDeploymentResponse* response) {
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return to_grpc(call.status());
  if (auto s = require_ids(request->project_id(), request->deployment_id()); !s.ok()) {
    return to_grpc(s);
  }
  if (!request->target_deployment_id().empty()) {
    if (auto s = require_id("target_deployment_id", request->target_deployment_id()); !s.ok()) {
      return to_grpc(s);
    }
  }
  v1::RollbackDeployment command;
  command.set_deployment_id(request->deployment_id());
  command.set_target_deployment_id(request->target_deployment_id());
  command.set_rollback_deployment_id(new_uuid());
  command.set_reason(request->reason());
  auto result = gateway_.submit(*call, {"project", request->project_id()}, command);
  if (!result.ok()) return to_grpc(result.status());
  response->set_rollback_deployment_id(
      created_id(*result, "rollback_deployment_id", command.rollback_deployment_id()));
  response->set_target_deployment_id(
      created_id(*result, "target_deployment_id", request->target_deployment_id()));
  copy_positions(*result, response->mutable_positions());
  response->set_aggregate_version(result->aggregate_version());
  return ::grpc::Status::OK;
}

::grpc::Status DeploymentServiceImpl::PromoteDeployment(
    ::grpc::ServerContext* context, const v1::PromoteDeploymentRequest* request,
    v1::PromoteDeploymentResponse* response) {
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return to_grpc(call.status());
  if (auto s = require_ids(request->project_id(), request->deployment_id()); !s.ok()) {
    return to_grpc(s);
  }
  v1::PromoteDeployment command;
  command.set_deployment_id(request->deployment_id());
  command.set_full(request->full());
  return act_on_deployment(gateway_, *call,
                           {"project", request->project_id(), request->expected_version()},
                           command, request->deployment_id(), response);
}

::grpc::Status DeploymentServiceImpl::PauseDeployment(::grpc::ServerContext* context,
                                                      const v1::PauseDeploymentRequest* request,
                                                      v1::PauseDeploymentResponse* response) {
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return to_grpc(call.status());
  if (auto s = require_ids(request->project_id(), request->deployment_id()); !s.ok()) {
    return to_grpc(s);
  }
  v1::PauseDeployment command;
  command.set_deployment_id(request->deployment_id());
  command.set_reason(request->reason());
  return act_on_deployment(gateway_, *call,
                           {"project", request->project_id(), request->expected_version()},
                           command, request->deployment_id(), response);
}

}  // namespace axion::infra::gateway
