// The envelope a command RPC submits: see command_gateway.h. Ids for new aggregates derived
// from an idempotency key are name-based (SHA-256 of actor and key, laid out as a version-5
// style UUID), so they are stable across retries and gateways but unguessable from the key alone
// without the actor.
#include "infra/grpc/command_gateway.h"

#include <google/protobuf/util/time_util.h>
#include <openssl/sha.h>
#include <uuid/uuid.h>

#include "commands/validators.h"

namespace axion::infra::gateway {

namespace {

constexpr std::size_t kMaxIdempotencyKey = 256;

Status check_idempotency_key(const std::string& key) {
  if (key.size() > kMaxIdempotencyKey) {
    return invalid_field("idempotency_key", "the idempotency key is " + std::to_string(key.size()) +
                                                " bytes; at most 256 are allowed");
  }
  for (char c : key) {
    if (c < 0x21 || c > 0x7e) {
      return invalid_field("idempotency_key",
                           "the idempotency key may hold only printable ASCII without spaces");
    }
  }
  return ok_status();
}

std::string format_uuid(const unsigned char bytes[16]) {
  char text[37];
  uuid_unparse_lower(bytes, text);
  return std::string(text, 36);
}

}  // namespace

::grpc::Status to_grpc(const Status& status) {
  if (status.ok()) return ::grpc::Status::OK;
  std::string message = status.message();
  // Always "field: ...", so a client can find the field at a fixed place in the message.
  if (!status.field().empty() && message.rfind(status.field() + ": ", 0) != 0) {
    message = status.field() + ": " + message;
  }
  return {static_cast<::grpc::StatusCode>(status.code()), message};
}

std::string new_uuid() {
  uuid_t id;
  uuid_generate_random(id);
  return format_uuid(id);
}

axion::v1::CommandEnvelope system_cluster_command(const std::string& cluster_id,
                                                  const std::string& key,
                                                  const google::protobuf::Message& payload,
                                                  std::chrono::milliseconds timeout) {
  using google::protobuf::util::TimeUtil;
  const auto now = std::chrono::system_clock::now();
  const auto ms = [](auto tp) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(tp.time_since_epoch()).count();
  };
  axion::v1::CommandEnvelope envelope;
  envelope.set_command_id(new_uuid());
  envelope.set_idempotency_key(key);
  envelope.set_type(payload.GetDescriptor()->full_name());
  envelope.set_aggregate_id(cluster_id);
  envelope.set_aggregate_type("cluster");
  envelope.set_partition_key(cluster_id);
  envelope.set_actor("system");
  envelope.set_correlation_id(envelope.command_id());
  *envelope.mutable_deadline() = TimeUtil::MillisecondsToTimestamp(ms(now + timeout));
  *envelope.mutable_issued_at() = TimeUtil::MillisecondsToTimestamp(ms(now));
  envelope.mutable_payload()->PackFrom(payload);
  return envelope;
}

Status require_id(std::string_view field, std::string_view value) {
  return commands::validate_id(field, value);
}

std::string created_id(const axion::v1::CommandResult& result, const std::string& name,
                       const std::string& fallback) {
  const auto it = result.created_ids().find(name);
  return it == result.created_ids().end() ? fallback : it->second;
}

Result<Call> CommandGateway::begin(const ::grpc::ServerContextBase* context,
                                   const std::string& request_key) const {
  const auto& metadata = context->client_metadata();
  std::optional<std::string> actor;
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    actor = tokens_.authenticate(std::string_view(it->second.data(), it->second.size()));
  }
  if (!actor) return Status(StatusCode::kUnauthenticated, std::string(kUnauthenticatedMessage));
  Call call{context, *actor, request_key, context->deadline()};
  if (auto it = metadata.find("idempotency-key"); it != metadata.end()) {
    std::string from_metadata(it->second.data(), it->second.size());
    if (!request_key.empty() && request_key != from_metadata) {
      return invalid_field("idempotency_key",
                           "the request's idempotency_key and the 'idempotency-key' metadata "
                           "differ: send one of them");
    }
    call.idempotency_key = std::move(from_metadata);
  }
  AXION_RETURN_IF_ERROR(check_idempotency_key(call.idempotency_key));
  return call;
}

std::string CommandGateway::new_aggregate_id(const Call& call, std::string_view kind) {
  if (call.idempotency_key.empty()) return new_uuid();
  std::string seed = std::string(kind) + '\0' + call.actor + '\0' + call.idempotency_key;
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(seed.data()), seed.size(), digest);
  digest[6] = static_cast<unsigned char>((digest[6] & 0x0f) | 0x50);  // version 5 (name-based)
  digest[8] = static_cast<unsigned char>((digest[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return format_uuid(digest);
}

Result<std::pair<axion::v1::CommandEnvelope, std::chrono::milliseconds>> CommandGateway::envelope(
    const Call& call, const Target& target, const google::protobuf::Message& payload) const {
  using google::protobuf::util::TimeUtil;
  using std::chrono::duration_cast;
  using std::chrono::milliseconds;
  const auto now = std::chrono::system_clock::now();
  // An infinite deadline is time_point::max(); clamp before subtracting to avoid overflow.
  const auto deadline = call.deadline;
  milliseconds wait = kMaxCommandWait;
  if (deadline < now + kMaxCommandWait) wait = duration_cast<milliseconds>(deadline - now);
  if (wait <= milliseconds(0)) {
    return deadline_exceeded("the call's deadline passed before the command was submitted");
  }

  axion::v1::CommandEnvelope envelope;
  envelope.set_command_id(new_uuid());
  envelope.set_idempotency_key(call.idempotency_key);
  envelope.set_type(payload.GetDescriptor()->full_name());
  envelope.set_aggregate_id(target.aggregate_id);
  envelope.set_aggregate_type(target.aggregate_type);
  envelope.set_partition_key(target.aggregate_id);
  envelope.set_expected_version(target.expected_version);
  envelope.set_actor(call.actor);
  envelope.set_correlation_id(envelope.command_id());
  const auto ms = [](auto tp) {
    return duration_cast<milliseconds>(tp.time_since_epoch()).count();
  };
  *envelope.mutable_deadline() = TimeUtil::MillisecondsToTimestamp(ms(now + wait));
  *envelope.mutable_issued_at() = TimeUtil::MillisecondsToTimestamp(ms(now));
  envelope.mutable_payload()->PackFrom(payload);
  return std::make_pair(std::move(envelope), wait);
}

void CommandGateway::submit_async(const Call& call, const Target& target,
                                  const google::protobuf::Message& payload, Done done) const {
  auto built = envelope(call, target, payload);
  if (!built.ok()) return done(built.status());
  auto& [command, wait] = *built;
  bus_.submit_async(std::move(command), wait,
                    [done = std::move(done)](Result<axion::v1::CommandResult> result) {
                      done(commands::refusal_as_status(std::move(result)));
                    });
}

Result<axion::v1::CommandResult> CommandGateway::submit(
    const Call& call, const Target& target, const google::protobuf::Message& payload) const {
  auto built = envelope(call, target, payload);
  if (!built.ok()) return built.status();
  auto& [command, wait] = *built;
  return commands::refusal_as_status(bus_.submit(std::move(command), wait));
}

namespace {

// Finishes its call as CANCELLED when the client cancels first; deleted by gRPC when done.
class CommandReactor final : public ::grpc::ServerUnaryReactor {
 public:
  explicit CommandReactor(std::shared_ptr<detail::CallState> state) : state_(std::move(state)) {}
  void OnCancel() override {
    if (state_->claim()) Finish(::grpc::Status::CANCELLED);
  }
  void OnDone() override { delete this; }

 private:
  std::shared_ptr<detail::CallState> state_;
};

}  // namespace

CommandCall::CommandCall() : state_(std::make_shared<detail::CallState>()) {
  state_->reactor = new CommandReactor(state_);
}

::grpc::ServerUnaryReactor* CommandCall::reactor() const { return state_->reactor; }

::grpc::ServerUnaryReactor* CommandCall::finish(const ::grpc::Status& status) {
  if (state_->claim()) state_->reactor->Finish(status);
  return state_->reactor;
}

}  // namespace axion::infra::gateway
