// The vocabulary of Axion's aggregates: pure functions
//   decide(state, command, context) -> Result<Decision>   (events to append, or a refusal;
//                                       INVALID_ARGUMENT refusals name the field: Status::field)
//   evolve(state, event payload)    -> state               (the fold; replay is just this)
// No clocks, randomness or I/O inside: `CommandContext` carries the time, the actor, the ids the
// command may create (derived from the command id, so a retried command creates the same ids)
// and the configured limits.
#pragma once

#include <google/protobuf/any.pb.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace axion::commands {

struct Limits {
  int max_deployments_per_project = 100;  // MAX_DEPLOYMENTS_PER_PROJECT (views rotate)
  int max_servers_per_user = 100;         // MAX_SERVERS_PER_USER
};

struct CommandContext {
  std::string command_id;  // unique; new ids are derived from it (deterministic)
  std::string actor;       // authenticated principal
  std::int64_t now_ms = 0;
  Limits limits;
};

// What a command decided: the event payloads to append, in order, and the ids it created
// (e.g. {"deployment_id": "..."}), returned to the caller.
struct Decision {
  std::vector<google::protobuf::Any> events;
  std::map<std::string, std::string> ids;
};

// Derives a stable id for something a command creates: "<prefix>-" + 20 hex chars of a hash of
// (command_id, salt). Same command, same id — which is what makes retries idempotent.
std::string derive_id(const std::string& prefix, const std::string& command_id,
                      const std::string& salt = "");

}  // namespace axion::commands
