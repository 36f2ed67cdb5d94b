// Helpers shared by the Project aggregate's source files (project_aggregate.cc,
// deployment_commands.cc, deploy_validation.cc, project_evolve.cc); not part of the aggregate's
// interface.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/message.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstdint>
#include <string>

#include "axion/v1/deployment.pb.h"
#include "commands/project_aggregate.h"
#include "common/status.h"

namespace axion::commands::detail {

inline google::protobuf::Any pack(const google::protobuf::Message& message) {
  google::protobuf::Any any;
  any.PackFrom(message);
  return any;
}

inline google::protobuf::Timestamp timestamp_from_ms(std::int64_t ms) {
  google::protobuf::Timestamp t;
  std::int64_t s = ms / 1000, rem = ms % 1000;
  if (rem < 0) {  // floor division, so nanos stay non-negative before 1970
    rem += 1000;
    s -= 1;
  }
  t.set_seconds(s);
  t.set_nanos(static_cast<std::int32_t>(rem * 1'000'000));
  return t;
}

// NOT_FOUND unless the project exists; the message names state.project_id (the processor may
// preset it to the aggregate id on a fresh state), else `named` (the command's project_id).
Status require_project(const ProjectState& state, const std::string& named = "");
// INVALID_ARGUMENT if a command names another project than the one it was routed to (a
// gateway or routing bug, but the caller should hear about it rather than act on the wrong one).
Status check_project_id(const ProjectState& state, const std::string& project_id);

// Strategy and options of DeployProject (fields "strategy.canary.weights[1]", ...).
Status validate_strategy(const axion::v1::Strategy& strategy);
Status validate_options(const axion::v1::DeployOptions& options);

StrategyKind strategy_kind(const axion::v1::Strategy& strategy);

}  // namespace axion::commands::detail
