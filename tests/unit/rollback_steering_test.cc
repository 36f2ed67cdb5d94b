// Tests of RollbackDeployment (to the previous success, to a named target, superseding the
// rolled-back deployment, every refusal) and of PromoteDeployment/PauseDeployment on canary
// deployments.
#include <gtest/gtest.h>

#include <string>

#include "commands/project_aggregate.h"
#include "project_test_support.h"

namespace axion::commands {
namespace {

using testing::canary;
using testing::expect_refused;
using testing::graph_command;
using testing::ProjectHarness;
using testing::unpack;
namespace v1 = axion::v1;

// production: s1 (graph 1) and s2 (graph 2) succeeded, in that order.
struct TwoSuccesses : ::testing::Test {
  ProjectHarness h;
  std::string s1, s2;
  void SetUp() override {
    h.registered_with_graph();
    s1 = h.deploy("production", "cmd-s1");
    h.succeed(s1);
    ASSERT_TRUE(h.run(graph_command({"api"}, "abcdef1"), "cmd-g2").ok());
    s2 = h.deploy("production", "cmd-s2");
    h.succeed(s2);
  }
};

TEST_F(TwoSuccesses, RollbackReturnsToThePreviousSuccess) {
  v1::RollbackDeployment c;
  c.set_deployment_id(s2);
  c.set_reason("errors after release");
  auto r = h.run(c, "cmd-rb", "erin");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->events.size(), 2u);
  const auto rb = unpack<v1::RollbackRequested>(r->events[0]);
  const auto req = unpack<v1::DeploymentRequested>(r->events[1]);
  const std::string id = derive_id("dep", "cmd-rb");
  EXPECT_EQ(rb.deployment_id(), id);
  EXPECT_EQ(rb.rollback_of(), s2);
  EXPECT_EQ(rb.target_deployment_id(), s1);
  EXPECT_FALSE(rb.automatic());
  EXPECT_EQ(req.deployment_id(), id);
  EXPECT_EQ(req.graph_version(), 1u);  // the target's graph
  EXPECT_EQ(req.environment(), "production");
  EXPECT_EQ(r->ids.at("rollback_deployment_id"), id);
  EXPECT_EQ(r->ids.at("target_deployment_id"), s1);
  EXPECT_EQ(h.state.deployments.at(id).rollback_of, s2);
  EXPECT_EQ(h.state.active_by_environment.at("production"), id);
}

TEST_F(TwoSuccesses, RollbackOfAFailureReturnsToTheLastSuccess) {
  const std::string f = h.deploy("production", "cmd-f");
  h.fail(f);
  v1::RollbackDeployment c;
  c.set_deployment_id(f);
  auto r = h.run(c, "cmd-rb", "system");  // as the saga's auto_rollback would
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  const auto rb = unpack<v1::RollbackRequested>(r->events[0]);
  EXPECT_EQ(rb.target_deployment_id(), s2);
  EXPECT_TRUE(rb.automatic());
  EXPECT_FALSE(unpack<v1::DeploymentRequested>(r->events[1]).options().auto_rollback());
}

TEST_F(TwoSuccesses, RollbackToANamedTarget) {
  const std::string f = h.deploy("production", "cmd-f");
  h.fail(f);
  v1::RollbackDeployment c;
  c.set_deployment_id(f);
  c.set_target_deployment_id(s1);
  c.set_rollback_deployment_id("dep-rb-gateway");
  auto r = h.run(c, "cmd-rb");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(unpack<v1::DeploymentRequested>(r->events[1]).graph_version(), 1u);
  EXPECT_EQ(r->ids.at("rollback_deployment_id"), "dep-rb-gateway");
}

TEST_F(TwoSuccesses, RollbackOfTheActiveDeploymentSupersedesIt) {
  const std::string running = h.deploy("production", "cmd-run");
  v1::RollbackDeployment c;
  c.set_deployment_id(running);
  auto r = h.run(c, "cmd-rb");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->events.size(), 3u);
  EXPECT_EQ(unpack<v1::DeploymentSuperseded>(r->events[0]).deployment_id(), running);
  EXPECT_EQ(unpack<v1::RollbackRequested>(r->events[1]).target_deployment_id(), s2);
}

TEST_F(TwoSuccesses, RollbackRefusals) {
  v1::RollbackDeployment c;
  c.set_deployment_id(s1);  // nothing succeeded before the first success
  auto r = h.run(c, "cmd-1");
  expect_refused(r, StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("nothing to roll back to"), std::string::npos);
  c.set_deployment_id("dep-unknown");
  expect_refused(h.run(c, "cmd-2"), StatusCode::kNotFound);
  c.set_deployment_id("$(x)");
  expect_refused(h.run(c, "cmd-3"), StatusCode::kInvalidArgument, "deployment_id");
  c.set_deployment_id(s2);
  c.set_target_deployment_id(s2);
  expect_refused(h.run(c, "cmd-4"), StatusCode::kInvalidArgument, "target_deployment_id");
  c.set_target_deployment_id("dep-unknown");
  expect_refused(h.run(c, "cmd-5"), StatusCode::kNotFound);
  const std::string staging = h.deploy("staging", "cmd-st");
  h.succeed(staging);
  c.set_target_deployment_id(staging);
  expect_refused(h.run(c, "cmd-6"), StatusCode::kInvalidArgument, "target_deployment_id");
  const std::string failed = h.deploy("production", "cmd-f");
  h.fail(failed);
  c.set_target_deployment_id(failed);
  expect_refused(h.run(c, "cmd-7"), StatusCode::kFailedPrecondition);
  c.clear_target_deployment_id();
  const std::string running = h.deploy("production", "cmd-run");
  auto busy = h.run(c, "cmd-8");  // rolling back s2 while another deployment runs
  expect_refused(busy, StatusCode::kFailedPrecondition);
  EXPECT_NE(busy.status().message().find(running), std::string::npos);
  c.set_deployment_id(running);
  c.set_rollback_deployment_id(s1);
  expect_refused(h.run(c, "cmd-9"), StatusCode::kAlreadyExists);
}

TEST(RollbackDeployment, RefusesWithoutAnyPriorSuccess) {
  ProjectHarness h;
  h.registered_with_graph();
  const std::string f = h.deploy("production", "cmd-f");
  h.fail(f);
  v1::RollbackDeployment c;
  c.set_deployment_id(f);
  expect_refused(h.run(c, "cmd-rb"), StatusCode::kFailedPrecondition);
}

// A canary deployment in DEPLOYING.
struct Canary : ::testing::Test {
  ProjectHarness h;
  std::string id;
  void SetUp() override {
    h.registered_with_graph();
    id = h.deploy("production", "cmd-c", canary({10, 50}));
    h.status(id, v1::DEPLOYMENT_STATUS_DEPLOYING);
  }
};

TEST_F(Canary, PauseThenPromote) {
  v1::PauseDeployment pause;
  pause.set_deployment_id(id);
  pause.set_reason("watch metrics");
  auto r = h.run(pause, "cmd-p");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->events.size(), 1u);
  EXPECT_EQ(unpack<v1::DeploymentPaused>(r->events[0]).paused_by(), "alice");
  EXPECT_TRUE(h.state.deployments.at(id).paused);
  auto again = h.run(pause, "cmd-p2");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->events.empty());
  v1::PromoteDeployment promote;
  promote.set_deployment_id(id);
  auto p = h.run(promote, "cmd-pr");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_FALSE(unpack<v1::DeploymentPromoted>(p->events[0]).full());
  EXPECT_FALSE(h.state.deployments.at(id).paused);
}

TEST_F(Canary, PromoteNeedsAPauseUnlessFull) {
  v1::PromoteDeployment promote;
  promote.set_deployment_id(id);
  expect_refused(h.run(promote, "cmd-1"), StatusCode::kFailedPrecondition);
  promote.set_full(true);
  auto r = h.run(promote, "cmd-2");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_TRUE(unpack<v1::DeploymentPromoted>(r->events[0]).full());
}

TEST_F(Canary, SteeringRefusals) {
  v1::PauseDeployment pause;
  pause.set_deployment_id("dep-unknown");
  expect_refused(h.run(pause, "cmd-1"), StatusCode::kNotFound);
  pause.set_deployment_id(id);
  pause.set_reason(std::string("\x07", 1));
  expect_refused(h.run(pause, "cmd-2"), StatusCode::kInvalidArgument, "reason");
  v1::PromoteDeployment promote;
  promote.set_deployment_id("bad id");
  expect_refused(h.run(promote, "cmd-3"), StatusCode::kInvalidArgument, "deployment_id");
  promote.set_full(true);
  const std::string rolling = h.deploy("staging", "cmd-r");  // rolling by default
  h.status(rolling, v1::DEPLOYMENT_STATUS_DEPLOYING);
  promote.set_deployment_id(rolling);
  auto r = h.run(promote, "cmd-4");
  expect_refused(r, StatusCode::kFailedPrecondition);
  EXPECT_NE(r.status().message().find("rolling"), std::string::npos);
  const std::string pending = h.deploy("qa", "cmd-q", canary({50}));
  pause.set_deployment_id(pending);
  pause.clear_reason();
  auto p = h.run(pause, "cmd-5");
  expect_refused(p, StatusCode::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("PENDING"), std::string::npos);
  h.succeed(id);
  promote.set_deployment_id(id);
  expect_refused(h.run(promote, "cmd-6"), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace axion::commands
