// Project commands: the gateway checks what needs no state (ids, the name's syntax, the whole
// graph's validity) before anything is appended; everything else is the aggregate's decision.
#include "infra/grpc/project_service.h"

#include "commands/field_checks.h"
#include "commands/graph_validation.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;

::grpc::ServerUnaryReactor* ProjectServiceImpl::RegisterProject(
    ::grpc::CallbackServerContext* context, const v1::RegisterProjectRequest* request,
    v1::RegisterProjectResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto p = commands::dns_label_problem(request->name()); !p.empty()) {
    return rpc.finish(invalid_field("name", "project name " + commands::quote(request->name()) +
                                                " is not a DNS label (" + p +
                                                "): " + std::string(commands::kDnsLabelRule)));
  }
  v1::RegisterProject command;
  command.set_project_id(CommandGateway::new_aggregate_id(*call, "project"));
  command.set_name(request->name());
  command.set_owner(request->owner());
  command.set_description(request->description());
  command.set_repository_url(request->repository_url());
  *command.mutable_labels() = request->labels();
  return rpc.submit(gateway_, *call, {"project", command.project_id()}, command,
                    [response, id = command.project_id()](const v1::CommandResult& result) {
                      response->set_project_id(created_id(result, "project_id", id));
                      copy_positions(result, response->mutable_positions());
                      response->set_aggregate_version(result.aggregate_version());
                    });
}

::grpc::ServerUnaryReactor* ProjectServiceImpl::PublishGraph(::grpc::CallbackServerContext* context,
                                                             const v1::PublishGraphRequest* request,
                                                             v1::PublishGraphResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_id("project_id", request->project_id()); !s.ok()) return rpc.finish(s);
  v1::PublishGraph command;
  command.set_project_id(request->project_id());
  *command.mutable_services() = request->services();
  *command.mutable_edges() = request->edges();
  command.set_commit_hash(request->commit_hash());
  // Purely syntactic: a bad graph is refused here and never reaches the log.
  if (auto s = commands::validate_graph(command); !s.ok()) return rpc.finish(s);
  return rpc.submit(gateway_, *call,
                    {"project", request->project_id(), request->expected_version()}, command,
                    [response](const v1::CommandResult& result) {
                      const std::string version = created_id(result, "graph_version", "0");
                      response->set_graph_version(std::strtoull(version.c_str(), nullptr, 10));
                      response->set_content_hash(created_id(result, "content_hash"));
                      copy_positions(result, response->mutable_positions());
                      response->set_aggregate_version(result.aggregate_version());
                    });
}

}  // namespace axion::infra::gateway
