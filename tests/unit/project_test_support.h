// Builders and a small harness for the Project aggregate's unit tests: a `ProjectHarness` runs
// commands through decide(), folds accepted events into its state and keeps them as its log,
// and plays the saga's part (status events) so deployments can end.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/project.pb.h"
#include "commands/project_aggregate.h"

namespace axion::commands::testing {

namespace v1 = axion::v1;

inline CommandContext context(const std::string& command_id, const std::string& actor = "alice") {
  CommandContext ctx;
  ctx.command_id = command_id;
  ctx.actor = actor;
  ctx.now_ms = 1'700'000'000'123;
  return ctx;
}

inline v1::Service service(const std::string& name, const std::string& image = "ghcr.io/acme/x:1") {
  v1::Service s;
  s.set_name(name);
  s.set_image(image);
  return s;
}

inline v1::PublishGraph graph_command(const std::vector<std::string>& names,
                                      const std::string& commit = "") {
  v1::PublishGraph c;
  c.set_project_id("proj-1");
  for (const auto& n : names) *c.add_services() = service(n);
  c.set_commit_hash(commit);
  return c;
}

template <typename Message>
google::protobuf::Any pack(const Message& m) {
  google::protobuf::Any any;
  any.PackFrom(m);
  return any;
}

template <typename Message>
Message unpack(const google::protobuf::Any& any) {
  Message m;
  EXPECT_TRUE(any.UnpackTo(&m)) << "expected " << Message::descriptor()->full_name() << ", got "
                                << any.type_url();
  return m;
}

inline ProjectState fold(const std::vector<google::protobuf::Any>& events) {
  ProjectState s;
  for (const auto& e : events) apply_event(s, e, 1'700'000'000'123);
  return s;
}

inline v1::DeployProject deploy_command(const std::string& env = "production") {
  v1::DeployProject c;
  c.set_project_id("proj-1");
  c.set_environment(env);
  return c;
}

inline v1::Strategy canary(const std::vector<std::uint32_t>& weights) {
  v1::Strategy s;
  for (auto w : weights) s.mutable_canary()->add_weights(w);
  return s;
}

// Asserts a refusal: its code, its field (INVALID_ARGUMENT), and — through the harness — that
// nothing was appended.
inline void expect_refused(const Result<Decision>& r, StatusCode code,
                           const std::string& field = "") {
  ASSERT_FALSE(r.ok()) << "expected " << status_code_name(code);
  EXPECT_EQ(r.status().code(), code) << r.status().to_string();
  EXPECT_EQ(r.status().field(), field) << r.status().to_string();
  EXPECT_FALSE(r.status().message().empty());
}

class ProjectHarness {
 public:
  std::vector<google::protobuf::Any> log;
  ProjectState state;

  template <typename Command>
  Result<Decision> run(const Command& command, const std::string& command_id,
                       const std::string& actor = "alice") {
    const std::size_t before = log.size();
    auto r = decide(state, command, context(command_id, actor));
    if (r.ok()) {
      for (const auto& e : r->events) {
        log.push_back(e);
        apply_event(state, e, 1'700'000'000'123);
      }
    }
    EXPECT_TRUE(r.ok() || log.size() == before);
    return r;
  }

  void event(const google::protobuf::Message& payload) {
    google::protobuf::Any any;
    any.PackFrom(payload);
    log.push_back(any);
    apply_event(state, any, 1'700'000'000'123);
  }

  // A registered project "proj-1" with graph version 1 (services api, worker).
  void registered_with_graph() {
    v1::RegisterProject r;
    r.set_project_id("proj-1");
    r.set_name("shop");
    ASSERT_TRUE(run(r, "cmd-register").ok());
    ASSERT_TRUE(run(graph_command({"api", "worker"}), "cmd-graph-1").ok());
  }

  std::string deploy(const std::string& env, const std::string& command_id,
                     const v1::Strategy& strategy = {}, std::uint64_t graph_version = 0) {
    v1::DeployProject c;
    c.set_project_id("proj-1");
    c.set_environment(env);
    c.set_graph_version(graph_version);
    *c.mutable_strategy() = strategy;
    auto r = run(c, command_id);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? r->ids.at("deployment_id") : "";
  }

  void status(const std::string& id, v1::DeploymentStatus to) {
    v1::DeploymentStatusChanged e;
    e.set_deployment_id(id);
    e.set_project_id("proj-1");
    e.set_from_status(state.deployments.at(id).status);
    e.set_to_status(to);
    event(e);
  }
  void succeed(const std::string& id) {
    status(id, v1::DEPLOYMENT_STATUS_DEPLOYING);
    v1::DeploymentSucceeded e;
    e.set_deployment_id(id);
    e.set_project_id("proj-1");
    event(e);
  }
  void fail(const std::string& id) {
    v1::DeploymentFailed e;
    e.set_deployment_id(id);
    e.set_project_id("proj-1");
    e.set_reason("health check failed");
    event(e);
  }
};

}  // namespace axion::commands::testing
