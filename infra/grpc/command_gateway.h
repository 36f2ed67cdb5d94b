// CommandGateway: what every command RPC of the gRPC gateway shares. It authenticates the
// caller (bearer token -> actor), resolves the idempotency key (request field, else the
// `idempotency-key` metadata), assigns ids, builds the CommandEnvelope (command id, actor,
// aggregate and partition key, expected version, deadline) and submits it through the
// CommandBus with the call's remaining deadline (capped at 30 s). A refusal comes back as a
// grpc::Status with the CommandResult's code and a message that leads with the field.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <string>

#include "axion/v1/envelope.pb.h"
#include "commands/command_bus.h"
#include "common/status.h"
#include "infra/grpc/api_tokens.h"

namespace axion::infra::gateway {

// Longest a command RPC waits for its result, whatever the caller's deadline.
inline constexpr std::chrono::milliseconds kMaxCommandWait{30000};

// axion::Status -> grpc::Status (same numeric codes); "field: message" when a field is named.
::grpc::Status to_grpc(const Status& status);

// A new random UUID (libuuid), lowercase.
std::string new_uuid();

// Where a command goes and how it is keyed.
struct Target {
  std::string aggregate_type;  // "project" or "cluster"
  std::string aggregate_id;    // also the partition key
  std::uint64_t expected_version = 0;
};

// One authenticated call in progress.
struct Call {
  ::grpc::ServerContext* context = nullptr;
  std::string actor;
  std::string idempotency_key;  // may be empty
};

class CommandGateway {
 public:
  // REQUIRES: `bus` and `tokens` outlive the gateway.
  CommandGateway(commands::CommandBus& bus, const ApiTokens& tokens) : bus_(bus), tokens_(tokens) {}

  // Authenticates and resolves the idempotency key; UNAUTHENTICATED or INVALID_ARGUMENT.
  Result<Call> begin(::grpc::ServerContext* context, const std::string& request_key) const;

  // An id for a new aggregate: derived from (actor, idempotency key) when there is a key — so a
  // retry addresses the same aggregate and finds its first result — else a new UUID.
  static std::string new_aggregate_id(const Call& call, std::string_view kind);

  // Submits `payload` and waits for its result; OK only when the command was accepted.
  Result<axion::v1::CommandResult> submit(const Call& call, const Target& target,
                                          const google::protobuf::Message& payload) const;

 private:
  commands::CommandBus& bus_;
  const ApiTokens& tokens_;
};

// INVALID_ARGUMENT naming `field` unless `value` is a well-formed id.
Status require_id(std::string_view field, std::string_view value);

// Copies a CommandResult's positions into a response's repeated LogPosition field.
template <typename Repeated>
void copy_positions(const axion::v1::CommandResult& result, Repeated* out) {
  for (const auto& p : result.positions()) *out->Add() = p;
}

// A created id from the result, or `fallback` if the aggregate did not report one.
std::string created_id(const axion::v1::CommandResult& result, const std::string& name,
                       const std::string& fallback = "");

}  // namespace axion::infra::gateway
