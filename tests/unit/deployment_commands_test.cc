// Tests of the Project aggregate's deployment commands: DeployProject (version resolution,
// strategy/option checks, one active deployment per environment, supersede) and
// CancelDeployment — every acceptance and refusal. Rollback and steering: rollback_steering_test.cc.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "commands/project_aggregate.h"
#include "project_test_support.h"

namespace axion::commands {
namespace {

using testing::canary;
using testing::deploy_command;
using testing::expect_refused;
using testing::graph_command;
using testing::ProjectHarness;
using testing::unpack;
namespace v1 = axion::v1;

TEST(DeployProject, RequestsTheLatestGraphWithADerivedId) {
  ProjectHarness h;
  h.registered_with_graph();
  ASSERT_TRUE(h.run(graph_command({"api"}, "abcdef1"), "cmd-graph-2").ok());
  auto c = deploy_command();
  c.mutable_options()->set_auto_rollback(true);
  *c.mutable_strategy() = canary({10, 50});
  auto r = h.run(c, "cmd-deploy", "carol");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->events.size(), 1u);
  const auto e = unpack<v1::DeploymentRequested>(r->events[0]);
  EXPECT_EQ(e.deployment_id(), derive_id("dep", "cmd-deploy"));
  EXPECT_EQ(r->ids.at("deployment_id"), e.deployment_id());
  EXPECT_EQ(e.project_id(), "proj-1");
  EXPECT_EQ(e.environment(), "production");
  EXPECT_EQ(e.graph_version(), 2u);
  EXPECT_EQ(e.strategy().canary().weights_size(), 2);
  EXPECT_TRUE(e.options().auto_rollback());
  EXPECT_EQ(e.requested_by(), "carol");
}

TEST(DeployProject, ResolvesAVersionNumberOrACommit) {
  ProjectHarness h;
  h.registered_with_graph();
  ASSERT_TRUE(h.run(graph_command({"api"}, "abcdef1"), "cmd-g2").ok());
  ASSERT_TRUE(h.run(graph_command({"api", "db"}, "abcdef1"), "cmd-g3").ok());
  ASSERT_TRUE(h.run(graph_command({"db"}, "abcdef2"), "cmd-g4").ok());
  auto c = deploy_command("v1");
  c.set_graph_version(1);
  c.set_deployment_id("dep-from-gateway");
  auto r = h.run(c, "cmd-1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->ids.at("deployment_id"), "dep-from-gateway");
  EXPECT_EQ(h.state.deployments.at("dep-from-gateway").graph_version, 1u);
  c = deploy_command("by-commit");
  c.set_commit_hash("abcdef1");
  ASSERT_TRUE(h.run(c, "cmd-2").ok());
  EXPECT_EQ(h.state.deployments.at(derive_id("dep", "cmd-2")).graph_version, 3u);  // newest
  c = deploy_command("both");
  c.set_commit_hash("abcdef1");
  c.set_graph_version(2);
  ASSERT_TRUE(h.run(c, "cmd-3").ok());
  EXPECT_EQ(h.state.deployments.at(derive_id("dep", "cmd-3")).graph_version, 2u);
}

TEST(DeployProject, RefusesVersionsThatDoNotResolve) {
  ProjectHarness h;
  h.registered_with_graph();
  auto c = deploy_command();
  c.set_graph_version(7);
  auto r = h.run(c, "cmd-1");
  expect_refused(r, StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("latest is 1"), std::string::npos);
  c = deploy_command();
  c.set_commit_hash("fffffff");
  expect_refused(h.run(c, "cmd-2"), StatusCode::kNotFound);
  c.set_commit_hash("not hex");
  expect_refused(h.run(c, "cmd-3"), StatusCode::kInvalidArgument, "commit_hash");
  ASSERT_TRUE(h.run(graph_command({"api"}, "abcdef1"), "cmd-g2").ok());
  c.set_commit_hash("abcdef1");
  c.set_graph_version(1);
  expect_refused(h.run(c, "cmd-4"), StatusCode::kInvalidArgument, "graph_version");
  EXPECT_TRUE(h.state.deployments.empty());
}

TEST(DeployProject, NeedsAProjectWithAGraph) {
  ProjectHarness h;
  expect_refused(h.run(deploy_command(), "cmd-1"), StatusCode::kNotFound);
  v1::RegisterProject reg;
  reg.set_project_id("proj-1");
  reg.set_name("shop");
  ASSERT_TRUE(h.run(reg, "cmd-reg").ok());
  auto r = h.run(deploy_command(), "cmd-2");
  expect_refused(r, StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("PublishGraph"), std::string::npos);
}

TEST(DeployProject, RefusesBadArgumentsWithTheirField) {
  struct Case {
    std::function<void(v1::DeployProject&)> edit;
    std::string field;
  };
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const std::vector<Case> cases = {
      {[](auto& c) { c.set_environment("a;rm -rf /"); }, "environment"},
      {[](auto& c) { c.set_environment("$(x)"); }, "environment"},
      {[](auto& c) { c.set_environment("prod\nuction"); }, "environment"},
      {[](auto& c) { c.set_environment(""); }, "environment"},
      {[](auto& c) { c.set_environment(std::string(64, 'e')); }, "environment"},
      {[](auto& c) { c.set_project_id("proj-2"); }, "project_id"},
      {[](auto& c) { c.set_deployment_id("dep 1"); }, "deployment_id"},
      {[](auto& c) { *c.mutable_strategy() = canary({10, 10}); }, "strategy.canary.weights[1]"},
      {[](auto& c) { *c.mutable_strategy() = canary({50, 20}); }, "strategy.canary.weights[1]"},
      {[](auto& c) { *c.mutable_strategy() = canary({0, 20}); }, "strategy.canary.weights[0]"},
      {[](auto& c) { *c.mutable_strategy() = canary({10, 101}); }, "strategy.canary.weights[1]"},
      {[](auto& c) {
         *c.mutable_strategy() = canary({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
                                         17, 18, 19, 20, 21});
       },
       "strategy.canary.weights"},
      {[](auto& c) { c.mutable_strategy()->mutable_canary()->set_max_error_rate(1.5); },
       "strategy.canary.max_error_rate"},
      {[nan](auto& c) { c.mutable_strategy()->mutable_canary()->set_max_error_rate(nan); },
       "strategy.canary.max_error_rate"},
      {[](auto& c) {
         c.mutable_strategy()->mutable_canary()->mutable_bake_time()->set_seconds(-5);
       },
       "strategy.canary.bake_time"},
      {[](auto& c) { c.mutable_strategy()->mutable_rolling()->set_batch_size(1001); },
       "strategy.rolling.batch_size"},
      {[](auto& c) { c.mutable_strategy()->mutable_rolling()->set_max_unavailable(2); },
       "strategy.rolling.max_unavailable"},
      {[](auto& c) { c.mutable_strategy()->mutable_blue_green()->set_max_error_rate(-0.1); },
       "strategy.blue_green.max_error_rate"},
      {[](auto& c) {
         c.mutable_strategy()->mutable_blue_green()->mutable_scale_down_delay()->set_seconds(
             100'000);
       },
       "strategy.blue_green.scale_down_delay"},
      {[](auto& c) { c.mutable_options()->mutable_progress_deadline(); },
       "options.progress_deadline"},
      {[](auto& c) { c.mutable_options()->set_cluster_id("c;1"); }, "options.cluster_id"},
      {[](auto& c) { c.mutable_options()->add_server_ids("$(x)"); }, "options.server_ids[0]"},
      {[](auto& c) {
         c.mutable_options()->add_server_ids("srv-1");
         c.mutable_options()->add_server_ids("srv-1");
       },
       "options.server_ids[1]"},
  };
  for (std::size_t i = 0; i < cases.size(); ++i) {
    SCOPED_TRACE("case " + std::to_string(i));
    ProjectHarness h;
    h.registered_with_graph();
    auto c = deploy_command();
    cases[i].edit(c);
    expect_refused(h.run(c, "cmd-1"), StatusCode::kInvalidArgument, cases[i].field);
    EXPECT_TRUE(h.state.deployments.empty());
  }
}

TEST(DeployProject, AcceptsValidStrategies) {
  ProjectHarness h;
  h.registered_with_graph();
  auto c = deploy_command("canary");
  *c.mutable_strategy() = canary({1, 25, 100});
  EXPECT_TRUE(h.run(c, "cmd-1").ok());
  c = deploy_command("rolling");
  c.mutable_strategy()->mutable_rolling()->set_batch_size(3);
  c.mutable_strategy()->mutable_rolling()->set_max_unavailable(2);
  EXPECT_TRUE(h.run(c, "cmd-2").ok());
  c = deploy_command("blue");
  c.mutable_strategy()->mutable_blue_green()->mutable_bake_time()->set_seconds(600);
  c.mutable_options()->mutable_progress_deadline()->set_seconds(900);
  EXPECT_TRUE(h.run(c, "cmd-3").ok());
}

TEST(DeployProject, AllowsOneActiveDeploymentPerEnvironment) {
  ProjectHarness h;
  h.registered_with_graph();
  const std::string first = h.deploy("production", "cmd-1");
  auto r = h.run(deploy_command(), "cmd-2");
  expect_refused(r, StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find(first), std::string::npos) << r.status().message();
  EXPECT_NE(r.status().message().find("options.supersede"), std::string::npos);
  EXPECT_TRUE(h.run(deploy_command("staging"), "cmd-3").ok());  // another environment
  h.succeed(first);
  EXPECT_TRUE(h.run(deploy_command(), "cmd-4").ok());  // the slot is free again
}

TEST(DeployProject, SupersedesTheActiveDeploymentWhenAsked) {
  ProjectHarness h;
  h.registered_with_graph();
  const std::string old_id = h.deploy("production", "cmd-1");
  auto c = deploy_command();
  c.mutable_options()->set_supersede(true);
  auto r = h.run(c, "cmd-2");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->events.size(), 2u);
  const auto sup = unpack<v1::DeploymentSuperseded>(r->events[0]);
  const auto req = unpack<v1::DeploymentRequested>(r->events[1]);
  EXPECT_EQ(sup.deployment_id(), old_id);
  EXPECT_EQ(sup.superseded_by(), req.deployment_id());
  EXPECT_EQ(r->ids.at("superseded_deployment_id"), old_id);
  EXPECT_EQ(h.state.active_by_environment.at("production"), req.deployment_id());
  EXPECT_EQ(h.state.deployments.at(old_id).superseded_by, req.deployment_id());
  // With nothing active, supersede is just a deploy.
  ProjectHarness fresh;
  fresh.registered_with_graph();
  auto alone = fresh.run(c, "cmd-3");
  ASSERT_TRUE(alone.ok());
  EXPECT_EQ(alone->events.size(), 1u);
}

TEST(DeployProject, RefusesAReusedDeploymentId) {
  ProjectHarness h;
  h.registered_with_graph();
  const std::string id = h.deploy("production", "cmd-1");
  auto c = deploy_command("staging");
  c.set_deployment_id(id);
  expect_refused(h.run(c, "cmd-2"), StatusCode::kAlreadyExists);
}

TEST(CancelDeployment, RequestsCancellation) {
  ProjectHarness h;
  h.registered_with_graph();
  const std::string id = h.deploy("production", "cmd-1");
  v1::CancelDeployment c;
  c.set_deployment_id(id);
  c.set_reason("wrong branch");
  auto r = h.run(c, "cmd-2", "dave");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->events.size(), 1u);
  const auto e = unpack<v1::DeploymentCancelRequested>(r->events[0]);
  EXPECT_EQ(e.deployment_id(), id);
  EXPECT_EQ(e.reason(), "wrong branch");
  EXPECT_EQ(e.requested_by(), "dave");
  EXPECT_TRUE(h.state.deployments.at(id).cancel_requested);
  auto again = h.run(c, "cmd-3");  // already stopping: nothing more to append
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->events.empty());
}

TEST(CancelDeployment, RefusesUnknownTerminalAndMalformed) {
  ProjectHarness h;
  h.registered_with_graph();
  v1::CancelDeployment c;
  c.set_deployment_id("dep-unknown");
  expect_refused(h.run(c, "cmd-1"), StatusCode::kNotFound);
  c.set_deployment_id("a;rm -rf /");
  expect_refused(h.run(c, "cmd-2"), StatusCode::kInvalidArgument, "deployment_id");
  const std::string id = h.deploy("production", "cmd-3");
  c.set_deployment_id(id);
  c.set_reason(std::string("x\0y", 3));
  expect_refused(h.run(c, "cmd-4"), StatusCode::kInvalidArgument, "reason");
  c.clear_reason();
  h.succeed(id);
  auto r = h.run(c, "cmd-5");
  expect_refused(r, StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("SUCCESS"), std::string::npos) << r.status().message();
  ProjectHarness none;
  expect_refused(none.run(c, "cmd-6"), StatusCode::kNotFound);
}

}  // namespace
}  // namespace axion::commands
