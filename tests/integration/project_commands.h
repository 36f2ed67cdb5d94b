// Project command envelopes for the command-side integration tests: what the gateway would put
// on axion.commands.v1 for a RegisterProject, PublishGraph or DeployProject.
#pragma once

#include <chrono>
#include <string>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/envelope.pb.h"
#include "axion/v1/project.pb.h"
#include "tests/integration/log_backends.h"

namespace axion::testing {

inline std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A command for `project` carrying `payload`, from actor "alice", with a fresh command id.
template <typename Message>
axion::v1::CommandEnvelope envelope(const std::string& project, const Message& payload,
                                    const std::string& idempotency_key = "") {
  axion::v1::CommandEnvelope c;
  c.set_command_id(unique_name("cmd"));
  c.set_idempotency_key(idempotency_key);
  c.set_type(Message::descriptor()->full_name());
  c.set_aggregate_id(project);
  c.set_aggregate_type("project");
  c.set_partition_key(project);
  c.set_actor("alice");
  c.mutable_payload()->PackFrom(payload);
  return c;
}

inline axion::v1::RegisterProject register_project(const std::string& id) {
  axion::v1::RegisterProject r;
  r.set_project_id(id);
  r.set_name("shop");
  r.set_owner("team-a");
  return r;
}

// Services web and api.
inline axion::v1::PublishGraph graph(const std::string& id) {
  axion::v1::PublishGraph g;
  g.set_project_id(id);
  for (const char* name : {"web", "api"}) {
    auto* s = g.add_services();
    s->set_name(name);
    s->set_image("registry.local/shop/" + std::string(name) + ":1");
  }
  return g;
}

inline axion::v1::DeployProject deploy(const std::string& id, const std::string& environment) {
  axion::v1::DeployProject d;
  d.set_project_id(id);
  d.set_environment(environment);
  return d;
}

}  // namespace axion::testing
