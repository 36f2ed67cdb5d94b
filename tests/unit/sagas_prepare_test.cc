// PROVISIONING's infrastructure prep: one PREPARE_INFRA per server of the placement, naming the
// services it will run there; a server that cannot run them fails the deployment before any
// instance moved, with the server and its reasons; the previous release keeps running.
#include "tests/unit/saga_test_support.h"

namespace axion::sagas::testing_support {
namespace {

// Agents that answer `server`'s PREPARE_INFRA as `how` and everything else with success.
std::function<SagaSim::Agent(const v1::AgentTask&)> prepare_answers(const std::string& server,
                                                                    SagaSim::Agent how) {
  return [server, how](const v1::AgentTask& t) {
    return t.task().kind() == v1::TASK_KIND_PREPARE_INFRA && t.server_id() == server
               ? how
               : SagaSim::Agent::kSucceed;
  };
}

TEST(DeploymentSagaPrepare, EveryServerIsPreparedBeforeAnythingStarts) {
  SagaSim sim;
  ASSERT_OK(sim.publish(shop("v1")));
  const std::string id = sim.deploy();
  ASSERT_TRUE(sim.settle(id));
  ASSERT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_SUCCESS);
  const auto prepares = sim.tasks(id, v1::TASK_KIND_PREPARE_INFRA);
  ASSERT_EQ(prepares.size(), 2u);  // web and api spread over srv-1 and srv-2
  for (const auto& t : prepares) {
    const auto& spec = t.task().spec().prepare();
    ASSERT_EQ(spec.services_size(), 2) << t.server_id();
    EXPECT_EQ(spec.services(0).service(), "api");
    EXPECT_EQ(spec.services(0).argv(0), "/usr/bin/api");
    EXPECT_EQ(spec.services(0).argv(1), "--port=9000");
    EXPECT_EQ(spec.services(1).service(), "web");
    EXPECT_EQ(spec.services(1).env().at("VERSION"), "v1");
    EXPECT_EQ(spec.min_free_disk_mb(), 100u);  // two instances there
  }
  // Every prepare was queued before the first start.
  std::size_t last_prepare = 0, first_start = sim.queue_order.size();
  for (std::size_t i = 0; i < sim.queue_order.size(); ++i) {
    const auto kind = sim.queued.at(sim.queue_order[i]).task().kind();
    if (kind == v1::TASK_KIND_PREPARE_INFRA) last_prepare = i;
    if (kind == v1::TASK_KIND_START_SERVICE) first_start = std::min(first_start, i);
  }
  EXPECT_LT(last_prepare, first_start);
  expect_clean(sim);
}

TEST(DeploymentSagaPrepare, AServerThatCannotRunTheReleaseFailsItBeforeAnyInstanceMoves) {
  SagaSim sim;
  const std::string v1_id = v1_live_v2_published(sim);
  sim.agent = prepare_answers("srv-2", SagaSim::Agent::kFail);
  const std::string id = sim.deploy();
  ASSERT_TRUE(sim.settle(id));
  ASSERT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_FAILED);
  const auto failed = sim.events<v1::DeploymentFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].step_kind(), v1::STEP_KIND_PROVISION);
  EXPECT_EQ(failed[0].server_id(), "srv-2");
  EXPECT_EQ(failed[0].cause(), v1::STATUS_CHANGE_CAUSE_AGENT_ERROR);
  EXPECT_NE(failed[0].reason().find("preparing server srv-2 failed: health check failed"),
            std::string::npos)
      << failed[0].reason();
  EXPECT_FALSE(failed[0].agent_output().empty());
  // Nothing started, nothing stopped, no traffic moved: v1 serves as before.
  EXPECT_TRUE(sim.tasks(id, v1::TASK_KIND_START_SERVICE).empty());
  EXPECT_TRUE(sim.tasks(id, v1::TASK_KIND_STOP_SERVICE).empty());
  EXPECT_TRUE(sim.tasks(id, v1::TASK_KIND_SWITCH_TRAFFIC).empty());
  EXPECT_TRUE(sim.events<v1::DeploymentStepStarted>().size() > 0);  // v1's steps only
  for (const auto& s : sim.events<v1::DeploymentStepStarted>()) EXPECT_EQ(s.deployment_id(), v1_id);
  // The environment is free at once: the next deployment goes through.
  sim.agent = [](const v1::AgentTask&) { return SagaSim::Agent::kSucceed; };
  const std::string next = sim.deploy();
  ASSERT_FALSE(next.empty());
  ASSERT_TRUE(sim.settle(next));
  EXPECT_EQ(sim.status(next), v1::DEPLOYMENT_STATUS_SUCCESS);
  expect_clean(sim);
}

TEST(DeploymentSagaPrepare, ASilentServerFailsPreparationAtTheDeadline) {
  SagaSim sim;
  ASSERT_OK(sim.publish(shop("v1")));
  sim.agent = prepare_answers("srv-1", SagaSim::Agent::kSilent);
  const std::string id = sim.deploy();
  ASSERT_TRUE(sim.settle(id));
  ASSERT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_FAILED);
  const auto failed = sim.events<v1::DeploymentFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].cause(), v1::STATUS_CHANGE_CAUSE_DEADLINE);
  EXPECT_NE(failed[0].reason().find("still waiting for PREPARE_INFRA on srv-1"), std::string::npos)
      << failed[0].reason();
}

}  // namespace
}  // namespace axion::sagas::testing_support
