// Type erasure between the command processor and the aggregates: an AggregateKind says which
// commands it handles and where its events go; an AggregateState wraps one aggregate's pure
// decide/evolve. `AggregateStateOf` adapts a plain state struct plus its two free functions and
// its snapshot form (commands/state_snapshots.h).
#pragma once

#include <google/protobuf/any.pb.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "commands/decision.h"

namespace axion::commands {

class AggregateState {
 public:
  virtual ~AggregateState() = default;
  virtual std::unique_ptr<AggregateState> clone() const = 0;
  // Pure: the events the command causes, or a refusal.
  virtual Result<Decision> decide(const google::protobuf::Any& command,
                                  const CommandContext& context) const = 0;
  // Pure fold step; unknown event types are ignored (forward compatibility).
  virtual void evolve(const google::protobuf::Any& event) = 0;
  // The state as its snapshot message, serialized; restore() is the inverse (DATA_LOSS if the
  // bytes are not such a snapshot). restore(snapshot()) yields an equal state.
  virtual std::string snapshot() const = 0;
  virtual Status restore(const std::string& bytes) = 0;
};

class AggregateKind {
 public:
  virtual ~AggregateKind() = default;
  virtual std::string_view name() const = 0;          // "project", "cluster"
  virtual std::string_view events_topic() const = 0;  // where its events go
  virtual bool handles(std::string_view command_type) const = 0;
  virtual std::unique_ptr<AggregateState> empty_state() const = 0;
  // Bumped whenever the fold (evolve) or the snapshot form changes: snapshots written under
  // another fold version are discarded (commands/state_snapshots.h).
  virtual std::uint32_t fold_version() const = 0;
};

// Adapts `State` with free functions
//   Result<Decision> Decide(const State&, const google::protobuf::Any&, const CommandContext&)
//   void Evolve(State&, const google::protobuf::Any&)
//   Snapshot ToSnapshot(const State&)          (Snapshot: a protobuf message)
//   Result<State> FromSnapshot(const Snapshot&)
template <typename State, auto Decide, auto Evolve, auto ToSnapshot, auto FromSnapshot>
class AggregateStateOf final : public AggregateState {
  using Snapshot = decltype(ToSnapshot(std::declval<const State&>()));

 public:
  std::unique_ptr<AggregateState> clone() const override {
    return std::make_unique<AggregateStateOf>(*this);
  }
  Result<Decision> decide(const google::protobuf::Any& command,
                          const CommandContext& context) const override {
    return Decide(state_, command, context);
  }
  void evolve(const google::protobuf::Any& event) override { Evolve(state_, event); }
  std::string snapshot() const override { return ToSnapshot(state_).SerializeAsString(); }
  Status restore(const std::string& bytes) override {
    Snapshot message;
    if (!message.ParseFromString(bytes)) {
      return data_loss("a stored " + message.GetTypeName() + " does not parse");
    }
    Result<State> restored = FromSnapshot(message);
    if (!restored.ok()) return restored.status();
    state_ = std::move(restored).value();
    return ok_status();
  }
  const State& state() const { return state_; }

 private:
  State state_;
};

}  // namespace axion::commands
