// InfrastructureService's agent-credential RPCs. CreateAgentRegistrationToken mints the token
// here (OpenSSL's CSPRNG), submits only its SHA-256 (IssueAgentToken) and returns the token in
// this one answer: it is never logged, stored or put in a view. A retry with the same
// idempotency key is answered ALREADY_EXISTS, since the first answer's token cannot be shown
// again. RevokeAgentCredentials revokes the server's token and credential and ends the agent's
// stream if this server holds it.
#include <google/protobuf/util/time_util.h>

#include "infra/grpc/agent_secrets.h"
#include "infra/grpc/infrastructure_service.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;
using google::protobuf::util::TimeUtil;

namespace {

constexpr std::int64_t kDefaultTokenTtlSeconds = 3600;

Status require_server(const std::string& cluster_id, const std::string& server_id) {
  AXION_RETURN_IF_ERROR(require_id("cluster_id", cluster_id));
  return require_id("server_id", server_id);
}

}  // namespace

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::CreateAgentRegistrationToken(
    ::grpc::CallbackServerContext* context, const v1::CreateAgentRegistrationTokenRequest* request,
    v1::CreateAgentRegistrationTokenResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_server(request->cluster_id(), request->server_id()); !s.ok()) {
    return rpc.finish(s);
  }
  auto token = new_agent_secret(kRegistrationTokenPrefix);
  if (!token.ok()) return rpc.finish(token.status());
  v1::IssueAgentToken command;
  command.set_server_id(request->server_id());
  command.set_cluster_id(request->cluster_id());
  command.set_token_hash(secret_hash(*token));
  if (request->has_ttl()) {
    *command.mutable_ttl() = request->ttl();
  } else {
    command.mutable_ttl()->set_seconds(kDefaultTokenTtlSeconds);
  }
  return rpc.submit(
      gateway_, *call, {"cluster", request->cluster_id()}, command,
      [response, request, token = *token](const v1::CommandResult& result) -> ::grpc::Status {
        if (!result.first_command_id().empty() &&
            result.first_command_id() != result.command_id()) {
          return {::grpc::StatusCode::ALREADY_EXISTS,
                  "this idempotency key already minted a registration token for server " +
                      request->server_id() +
                      "; a token is shown only once: mint another with a new key"};
        }
        response->set_server_id(request->server_id());
        response->set_token(token);
        const auto expires = result.created_ids().find("expires_at_ms");
        if (expires != result.created_ids().end()) {
          *response->mutable_expires_at() =
              TimeUtil::MillisecondsToTimestamp(std::stoll(expires->second));
        }
        copy_positions(result, response->mutable_positions());
        return ::grpc::Status::OK;
      });
}

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::RevokeAgentCredentials(
    ::grpc::CallbackServerContext* context, const v1::RevokeAgentCredentialsRequest* request,
    v1::RevokeAgentCredentialsResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_server(request->cluster_id(), request->server_id()); !s.ok()) {
    return rpc.finish(s);
  }
  v1::RevokeAgentCredentials command;
  command.set_server_id(request->server_id());
  command.set_cluster_id(request->cluster_id());
  command.set_reason(request->reason());
  return rpc.submit(gateway_, *call, {"cluster", request->cluster_id()}, command,
                    [this, response, request](const v1::CommandResult& result) {
                      response->set_server_id(request->server_id());
                      copy_positions(result, response->mutable_positions());
                      // A revoked agent must not stay connected (here; a stream held by
                      // another axion-server ends when its agent next reconnects).
                      if (hub_) hub_->disconnect(request->server_id(), "agent credentials revoked");
                    });
}

}  // namespace axion::infra::gateway
