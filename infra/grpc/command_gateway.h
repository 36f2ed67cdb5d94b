// CommandGateway: what every command RPC of the gRPC gateway shares. It authenticates the
// caller (bearer token -> actor), resolves the idempotency key (request field, else the
// `idempotency-key` metadata), assigns ids, builds the CommandEnvelope (command id, actor,
// aggregate and partition key, expected version, deadline) and submits it through the
// CommandBus with the call's remaining deadline (capped at 30 s). A refusal comes back as a
// grpc::Status with the CommandResult's code and a message that leads with the field.
//
// Command RPCs run on gRPC's callback API (CommandCall): the handler authenticates, checks and
// submits, then returns at once; the bus answers the call when the result arrives. No thread
// waits for the two durable appends and the processor in between.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

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

// An internal command to a cluster (actor "system"): a fresh command id, `key` as its idempotency
// key, issued now with a deadline `timeout` from now. What the agent hub and the agent installer
// submit about servers.
axion::v1::CommandEnvelope system_cluster_command(const std::string& cluster_id,
                                                  const std::string& key,
                                                  const google::protobuf::Message& payload,
                                                  std::chrono::milliseconds timeout);

// Where a command goes and how it is keyed.
struct Target {
  std::string aggregate_type;  // "project" or "cluster"
  std::string aggregate_id;    // also the partition key
  std::uint64_t expected_version = 0;
};

// One authenticated call in progress.
struct Call {
  const ::grpc::ServerContextBase* context = nullptr;
  std::string actor;
  std::string idempotency_key;  // may be empty
  // The client's deadline (copied: a call may be submitted after its context is gone).
  std::chrono::system_clock::time_point deadline = std::chrono::system_clock::time_point::max();
};

class CommandGateway {
 public:
  // REQUIRES: `bus` and `tokens` outlive the gateway.
  CommandGateway(commands::CommandBus& bus, const ApiTokens& tokens) : bus_(bus), tokens_(tokens) {}

  // Called with the outcome of a submitted command: its result when accepted, else the refusal
  // (the result's code, message and field) or the bus's error.
  using Done = std::function<void(Result<axion::v1::CommandResult>)>;

  // Authenticates and resolves the idempotency key; UNAUTHENTICATED or INVALID_ARGUMENT.
  Result<Call> begin(const ::grpc::ServerContextBase* context,
                     const std::string& request_key) const;

  // An id for a new aggregate: derived from (actor, idempotency key) when there is a key — so a
  // retry addresses the same aggregate and finds its first result — else a new UUID.
  static std::string new_aggregate_id(const Call& call, std::string_view kind);

  // Submits `payload`; `done` gets the result (OK only when the command was accepted), once, on
  // a bus thread or — for a refusal before anything is appended — on this one.
  void submit_async(const Call& call, const Target& target,
                    const google::protobuf::Message& payload, Done done) const;

  // The blocking form: submits `payload` and waits for its result.
  Result<axion::v1::CommandResult> submit(const Call& call, const Target& target,
                                          const google::protobuf::Message& payload) const;

 private:
  // The envelope for `payload` and how long to wait for its result (the call's deadline, capped).
  Result<std::pair<axion::v1::CommandEnvelope, std::chrono::milliseconds>> envelope(
      const Call& call, const Target& target, const google::protobuf::Message& payload) const;

  commands::CommandBus& bus_;
  const ApiTokens& tokens_;
};

namespace detail {
// Who finishes a CommandCall: the first of the answer, a refusal and the client's cancellation.
struct CallState {
  std::atomic<bool> finished{false};
  ::grpc::ServerUnaryReactor* reactor = nullptr;  // valid until it is finished
  bool claim() { return !finished.exchange(true, std::memory_order_acq_rel); }
};
}  // namespace detail

// One command RPC on the callback API. The handler creates it, then returns either
// finish(status) — a refusal before anything is submitted — or submit(...), whose `answer` fills
// the response from the accepted result. The call is finished exactly once: by the outcome, or
// CANCELLED as soon as the client cancels (or its deadline passes); an outcome arriving after
// that is dropped (the command itself is not undone: a retry with the same idempotency key
// learns it).
class CommandCall {
 public:
  CommandCall();

  ::grpc::ServerUnaryReactor* finish(const ::grpc::Status& status);
  ::grpc::ServerUnaryReactor* finish(const Status& status) { return finish(to_grpc(status)); }
  // The call's reactor, for a handler that answers later (from another thread) with finish or
  // submit.
  ::grpc::ServerUnaryReactor* reactor() const;

  // `answer(const CommandResult&)` fills the response; it runs only if the command was accepted
  // and the call is still open. If it returns a grpc::Status, the call ends with that status.
  template <typename Answer>
  ::grpc::ServerUnaryReactor* submit(const CommandGateway& gateway, const Call& call,
                                     const Target& target, const google::protobuf::Message& payload,
                                     Answer answer) {
    gateway.submit_async(
        call, target, payload,
        [state = state_,
         answer = std::move(answer)](Result<axion::v1::CommandResult> result) mutable {
          if (!state->claim()) return;  // cancelled meanwhile
          if (!result.ok()) return state->reactor->Finish(to_grpc(result.status()));
          // An answer returning a grpc::Status may still refuse an accepted command's reply
          // (e.g. a retry that must not see a secret shown only once).
          if constexpr (std::is_same_v<
                            std::invoke_result_t<Answer&, const axion::v1::CommandResult&>,
                            ::grpc::Status>) {
            state->reactor->Finish(answer(*result));
          } else {
            answer(*result);
            state->reactor->Finish(::grpc::Status::OK);
          }
        });
    return state_->reactor;
  }

 private:
  std::shared_ptr<detail::CallState> state_;
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
