// The deployment saga with the compose runtime (tests/support/saga_sim.h): one compose project
// per environment on one server, replaced in place, restored on failure.
#include <gtest/gtest.h>

#include "sagas/deployment_saga.h"
#include "tests/unit/saga_test_support.h"

namespace axion::sagas {
namespace {

using namespace testing_support;

v1::GraphVersion compose_shop(const std::string& version) {
  v1::GraphVersion g = shop(version);
  g.mutable_services(1)->set_replicas(1);  // one published web on one compose host
  return g;
}

v1::DeployOptions compose_options() {
  v1::DeployOptions o;
  o.set_runtime("compose");
  return o;
}

SagaSim compose_sim() {
  SagaSim sim;
  for (auto& s : sim.servers) s.runtimes = {"compose"};
  sim.servers[1].memory_mb = 32768;  // the roomier one is chosen
  return sim;
}

TEST(DeploymentSagaCompose, AppliesTheGeneratedFileOnOneServerAndReplacesItInPlace) {
  SagaSim sim = compose_sim();
  ASSERT_OK(sim.publish(compose_shop("v1")));
  const std::string v1_id = sim.deploy({}, compose_options());
  ASSERT_TRUE(sim.settle(v1_id));
  ASSERT_EQ(sim.status(v1_id), v1::DEPLOYMENT_STATUS_SUCCESS);
  const auto applied = sim.tasks(v1_id, v1::TASK_KIND_APPLY_COMPOSE);
  ASSERT_EQ(applied.size(), 1u);
  EXPECT_EQ(applied[0].server_id(), "srv-2");
  EXPECT_EQ(applied[0].task().spec().compose_project(), "sim-production");
  EXPECT_NE(applied[0].task().spec().compose_yaml().find("\"VERSION\": \"v1\""), std::string::npos)
      << applied[0].task().spec().compose_yaml();
  EXPECT_EQ(sim.events<v1::DeploymentConfigGenerated>()[0].config().compose_hash().size(), 64u);
  EXPECT_TRUE(sim.tasks(v1_id, v1::TASK_KIND_START_SERVICE).empty());
  EXPECT_TRUE(sim.tasks(v1_id, v1::TASK_KIND_SWITCH_TRAFFIC).empty());

  ASSERT_OK(sim.publish(compose_shop("v2")));
  const std::string v2_id = sim.deploy({}, compose_options());
  ASSERT_TRUE(sim.settle(v2_id));
  ASSERT_EQ(sim.status(v2_id), v1::DEPLOYMENT_STATUS_SUCCESS);
  const auto second = sim.tasks(v2_id, v1::TASK_KIND_APPLY_COMPOSE);
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].server_id(), "srv-2");  // where v1 runs: compose replaces what changed
  EXPECT_TRUE(sim.tasks(v2_id, v1::TASK_KIND_REMOVE_SERVICE).empty());
  expect_clean(sim);
}

TEST(DeploymentSagaCompose, AFailedApplyPutsThePreviousFileBack) {
  SagaSim sim = compose_sim();
  ASSERT_OK(sim.publish(compose_shop("v1")));
  const std::string v1_id = sim.deploy({}, compose_options());
  ASSERT_TRUE(sim.settle(v1_id));
  ASSERT_OK(sim.publish(compose_shop("v2")));
  std::string v2_id;
  sim.agent = [&](const v1::AgentTask& t) {
    const bool v2_apply = t.task().kind() == v1::TASK_KIND_APPLY_COMPOSE &&
                          t.task().spec().compose_yaml().find("v2") != std::string::npos;
    return v2_apply ? SagaSim::Agent::kFail : SagaSim::Agent::kSucceed;
  };
  v2_id = sim.deploy({}, compose_options());
  ASSERT_TRUE(sim.settle(v2_id));
  EXPECT_EQ(sim.status(v2_id), v1::DEPLOYMENT_STATUS_FAILED);
  const auto applies = sim.tasks(v2_id, v1::TASK_KIND_APPLY_COMPOSE);
  ASSERT_EQ(applies.size(), 2u);  // v2, then v1's file again
  EXPECT_NE(applies[1].task().spec().compose_yaml().find("\"VERSION\": \"v1\""), std::string::npos);
  const auto failed = sim.events<v1::DeploymentFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].step_kind(), v1::STEP_KIND_COMPOSE_APPLY);
  EXPECT_EQ(failed[0].server_id(), "srv-2");
  expect_clean(sim);
}

TEST(DeploymentSagaCompose, WhatComposeCannotRunFailsTheBuildWithTheReason) {
  SagaSim sim = compose_sim();
  ASSERT_OK(sim.publish(shop("v1")));  // web: 2 replicas on one published port
  const std::string id = sim.deploy({}, compose_options());
  ASSERT_TRUE(sim.settle(id));
  const auto failed = sim.events<v1::DeploymentFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].cause(), v1::STATUS_CHANGE_CAUSE_BUILD_ERROR);
  EXPECT_NE(failed[0].reason().find("replicas"), std::string::npos) << failed[0].reason();
}

TEST(DeploymentSagaCompose, SwitchingRuntimesInAnEnvironmentIsRefusedWithTheWayOut) {
  SagaSim sim;
  for (auto& s : sim.servers) s.runtimes = {"process", "proxy", "compose"};
  ASSERT_OK(sim.publish(compose_shop("v1")));
  ASSERT_TRUE(sim.settle(sim.deploy()));
  const std::string id = sim.deploy({}, compose_options());
  ASSERT_TRUE(sim.settle(id));
  const auto failed = sim.events<v1::DeploymentFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].reason().find("use another environment"), std::string::npos)
      << failed[0].reason();
  // Another environment is fine.
  const std::string other = sim.deploy({}, compose_options(), nullptr, "staging");
  ASSERT_TRUE(sim.settle(other));
  EXPECT_EQ(sim.status(other), v1::DEPLOYMENT_STATUS_SUCCESS);
}

}  // namespace
}  // namespace axion::sagas
