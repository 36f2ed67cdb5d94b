// Type erasure between the command processor and the aggregates: an AggregateKind says which
// commands it handles and where its events go; an AggregateState wraps one aggregate's pure
// decide/evolve. `AggregateStateOf` adapts a plain state struct plus its two free functions.
#pragma once

#include <google/protobuf/any.pb.h>

#include <memory>
#include <string>
#include <string_view>

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
};

class AggregateKind {
 public:
  virtual ~AggregateKind() = default;
  virtual std::string_view name() const = 0;          // "project", "cluster"
  virtual std::string_view events_topic() const = 0;  // where its events go
  virtual bool handles(std::string_view command_type) const = 0;
  virtual std::unique_ptr<AggregateState> empty_state() const = 0;
};

// Adapts `State` with free functions
//   Result<Decision> Decide(const State&, const google::protobuf::Any&, const CommandContext&)
//   void Evolve(State&, const google::protobuf::Any&)
template <typename State, auto Decide, auto Evolve>
class AggregateStateOf final : public AggregateState {
 public:
  std::unique_ptr<AggregateState> clone() const override {
    return std::make_unique<AggregateStateOf>(*this);
  }
  Result<Decision> decide(const google::protobuf::Any& command,
                          const CommandContext& context) const override {
    return Decide(state_, command, context);
  }
  void evolve(const google::protobuf::Any& event) override { Evolve(state_, event); }
  const State& state() const { return state_; }

 private:
  State state_;
};

}  // namespace axion::commands
