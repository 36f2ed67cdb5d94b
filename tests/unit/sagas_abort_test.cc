// The deployment saga when things go wrong (tests/support/saga_sim.h): a failing health check
// and the restore of the previous release, auto-rollback, cancel, a silent agent's deadline.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "sagas/deployment_saga.h"
#include "tests/unit/saga_test_support.h"

namespace axion::sagas {
namespace {

using namespace testing_support;

TEST(DeploymentSaga, FailingHealthCheckHaltsRestoresTheOldReleaseAndSaysWhy) {
  SagaSim sim;
  const std::string v1_id = v1_live_v2_published(sim);
  std::string v2_id;
  sim.agent = [&](const v1::AgentTask& t) {
    return t.task().deployment_id() == v2_id && t.task().kind() == v1::TASK_KIND_START_SERVICE &&
                   t.task().spec().process().service() == "web"
               ? SagaSim::Agent::kFail
               : SagaSim::Agent::kSucceed;
  };
  v2_id = sim.deploy();
  ASSERT_TRUE(sim.settle(v2_id));
  EXPECT_EQ(sim.status(v2_id), v1::DEPLOYMENT_STATUS_FAILED);
  expect_clean(sim);

  const auto failed = sim.events<v1::DeploymentFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].service(), "web");
  EXPECT_FALSE(failed[0].server_id().empty());
  EXPECT_EQ(failed[0].cause(), v1::STATUS_CHANGE_CAUSE_HEALTH);
  EXPECT_NE(failed[0].reason().find("health check failed"), std::string::npos)
      << failed[0].reason();
  EXPECT_NE(failed[0].agent_output().find("database unreachable"), std::string::npos);
  ASSERT_EQ(failed[0].last_health_samples_size(), 1);
  EXPECT_EQ(failed[0].last_health_samples(0).code(), 503);

  // v1 keeps serving: no v1 web instance was stopped for good, traffic is on v1 only, and
  // every v2 instance that started was stopped.
  std::set<std::string> v1_web, v2_started, v2_stopped;
  for (const auto& t : sim.tasks(v1_id, v1::TASK_KIND_START_SERVICE))
    if (t.task().spec().process().service() == "web") v1_web.insert(instance_of(t));
  for (const auto& [server, backends] : live_backends(sim, "web")) EXPECT_EQ(backends, v1_web);
  for (const auto& t : sim.tasks(v2_id, v1::TASK_KIND_START_SERVICE))
    if (of_release(t, v2_id)) v2_started.insert(instance_of(t));
  for (const auto& t : sim.tasks(v2_id, v1::TASK_KIND_STOP_SERVICE)) {
    EXPECT_FALSE(v1_web.contains(instance_of(t)) &&
                 t.task().task_id().find("restore") == std::string::npos);
    v2_stopped.insert(instance_of(t));
  }
  for (const auto& i : v2_started) EXPECT_TRUE(v2_stopped.contains(i)) << i << " left running";
  EXPECT_EQ(failed[0].reason().find("did not finish in time"), std::string::npos)
      << failed[0].reason();
  // The environment is free: the next deployment is accepted at once.
  Status s;
  EXPECT_FALSE(sim.deploy({}, {}, &s).empty()) << s.message();
}

TEST(DeploymentSaga, AutoRollbackRestoresTheLastSuccess) {
  SagaSim sim;
  const std::string v1_id = v1_live_v2_published(sim);
  std::string v2_id;
  sim.agent = [&](const v1::AgentTask& t) {
    return t.task().deployment_id() == v2_id && t.task().kind() == v1::TASK_KIND_START_SERVICE
               ? SagaSim::Agent::kFail
               : SagaSim::Agent::kSucceed;
  };
  v1::DeployOptions options;
  options.set_auto_rollback(true);
  v2_id = sim.deploy({}, options);
  ASSERT_TRUE(sim.settle(v2_id));
  EXPECT_EQ(sim.status(v2_id), v1::DEPLOYMENT_STATUS_FAILED);
  const auto rollbacks = sim.events<v1::RollbackRequested>();
  ASSERT_EQ(rollbacks.size(), 1u);
  EXPECT_TRUE(rollbacks[0].automatic());
  EXPECT_EQ(rollbacks[0].target_deployment_id(), v1_id);
  const std::string rb = rollbacks[0].deployment_id();
  EXPECT_EQ(sim.status(rb), v1::DEPLOYMENT_STATUS_SUCCESS);
  for (const auto& t : sim.tasks(rb, v1::TASK_KIND_START_SERVICE))
    EXPECT_EQ(t.task().spec().process().env().at("VERSION"), "v1");
  // Once its rollback is requested the failed deployment no longer reacts; nothing is live.
  EXPECT_TRUE(sim.saga.deployments.at(v2_id).rollback_started);
  EXPECT_TRUE(sim.saga.live.empty()) << sim.saga.live.size() << " live";
  expect_clean(sim);
}

TEST(DeploymentSaga, CancelAbortsInFlightTasksStopsNewInstancesAndFreesTheEnvironment) {
  SagaSim sim;
  const std::string v1_id = v1_live_v2_published(sim);
  std::string v2_id;
  // web's new instances never report: the deployment is mid-step when the cancel comes.
  sim.agent = [&](const v1::AgentTask& t) {
    const bool hang = t.task().kind() == v1::TASK_KIND_START_SERVICE &&
                      (instance_of(t) == instance_id(v2_id, "web", 0) ||
                       instance_of(t) == instance_id(v2_id, "web", 1));
    return hang ? SagaSim::Agent::kSilent : SagaSim::Agent::kSucceed;
  };
  v2_id = sim.deploy();
  for (int i = 0; i < 20; ++i) sim.round();
  ASSERT_EQ(sim.status(v2_id), v1::DEPLOYMENT_STATUS_DEPLOYING);
  EXPECT_EQ(sim.saga.live, std::set<std::string>{v2_id});  // v1 ended; only v2 reacts
  v1::CancelDeployment cancel;
  cancel.set_deployment_id(v2_id);
  cancel.set_reason("wrong build");
  ASSERT_TRUE(sim.command(cancel, "alice").ok());
  ASSERT_TRUE(sim.settle(v2_id));
  EXPECT_EQ(sim.status(v2_id), v1::DEPLOYMENT_STATUS_CANCELLED);
  const auto ends = sim.events<v1::DeploymentCancelled>();
  ASSERT_EQ(ends.size(), 1u);
  EXPECT_EQ(ends[0].reason(), "wrong build");
  EXPECT_EQ(ends[0].cause(), v1::STATUS_CHANGE_CAUSE_USER);
  // The hanging starts were cancelled, every v2 instance is stopped, v1 still serves.
  std::set<std::string> hung, stopped;
  for (const auto& t : sim.tasks(v2_id, v1::TASK_KIND_START_SERVICE)) {
    if (t.task().spec().process().service() == "web" && of_release(t, v2_id)) {
      EXPECT_TRUE(sim.cancelled.contains(t.task().task_id()));
      hung.insert(instance_of(t));
    }
  }
  ASSERT_FALSE(hung.empty());
  for (const auto& t : sim.tasks(v2_id, v1::TASK_KIND_STOP_SERVICE)) stopped.insert(instance_of(t));
  for (const auto& t : sim.tasks(v2_id, v1::TASK_KIND_START_SERVICE))
    if (of_release(t, v2_id)) {
      EXPECT_TRUE(stopped.contains(instance_of(t))) << instance_of(t);
    }
  std::set<std::string> v1_web;
  for (const auto& t : sim.tasks(v1_id, v1::TASK_KIND_START_SERVICE))
    if (t.task().spec().process().service() == "web") v1_web.insert(instance_of(t));
  for (const auto& [server, backends] : live_backends(sim, "web")) EXPECT_EQ(backends, v1_web);
  sim.agent = [](const v1::AgentTask&) { return SagaSim::Agent::kSucceed; };
  Status s;
  const std::string next = sim.deploy({}, {}, &s);
  ASSERT_FALSE(next.empty()) << s.message();
  ASSERT_TRUE(sim.settle(next));
  EXPECT_EQ(sim.status(next), v1::DEPLOYMENT_STATUS_SUCCESS);
}

TEST(DeploymentSaga, SilentAgentFailsTheStepAtItsDeadline) {
  SagaSim sim;
  ASSERT_OK(sim.publish(shop("v1")));
  sim.agent = [](const v1::AgentTask& t) {
    return t.task().kind() == v1::TASK_KIND_START_SERVICE && t.server_id() == "srv-2"
               ? SagaSim::Agent::kSilent
               : SagaSim::Agent::kSucceed;
  };
  v1::DeployOptions options;
  options.mutable_progress_deadline()->set_seconds(30);
  const std::int64_t started = sim.now_ms;
  const std::string id = sim.deploy({}, options);
  ASSERT_TRUE(sim.settle(id));
  EXPECT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_FAILED);
  EXPECT_GE(sim.now_ms - started, 30'000);
  const auto failed = sim.events<v1::DeploymentFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].cause(), v1::STATUS_CHANGE_CAUSE_DEADLINE);
  EXPECT_NE(failed[0].reason().find("srv-2"), std::string::npos) << failed[0].reason();
  EXPECT_EQ(failed[0].reason().find("OFFLINE"), std::string::npos) << failed[0].reason();
}

TEST(DeploymentSaga, AVanishedAgentIsNamedWhenTheDeadlinePasses) {
  SagaSim sim;
  ASSERT_OK(sim.publish(shop("v1")));
  sim.agent = [&](const v1::AgentTask& t) {
    if (t.server_id() != "srv-2") return SagaSim::Agent::kSucceed;
    sim.servers[1].online = false;  // its agent went away with the task
    return SagaSim::Agent::kSilent;
  };
  const std::string id = sim.deploy();
  ASSERT_TRUE(sim.settle(id));
  const auto failed = sim.events<v1::DeploymentFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_NE(failed[0].reason().find("the agent of srv-2 is OFFLINE"), std::string::npos)
      << failed[0].reason();
}

TEST(DeploymentSaga, FastRollbackSkipsTheCanaryStepsAndHolds) {
  SagaSim sim;
  v1::Strategy canary;
  canary.mutable_canary()->add_weights(10);
  canary.mutable_canary()->set_manual_promotion(true);
  ASSERT_OK(sim.publish(shop("v1")));
  const std::string v1_id = sim.deploy(canary);
  ASSERT_FALSE(sim.settle(v1_id, 100));  // held at 10%
  v1::PromoteDeployment promote;
  promote.set_deployment_id(v1_id);
  promote.set_full(true);
  ASSERT_TRUE(sim.command(promote, "alice").ok());
  ASSERT_TRUE(sim.settle(v1_id));
  ASSERT_OK(sim.publish(shop("v2")));
  const std::string v2_id = sim.deploy(canary);
  ASSERT_FALSE(sim.settle(v2_id, 100));
  promote.set_deployment_id(v2_id);
  ASSERT_TRUE(sim.command(promote, "alice").ok());
  ASSERT_TRUE(sim.settle(v2_id));
  const std::size_t paused_before = sim.events<v1::DeploymentPaused>().size();

  v1::RollbackDeployment r;
  r.set_deployment_id(v2_id);
  r.set_fast(true);
  std::map<std::string, std::string> ids;
  ASSERT_TRUE(sim.command(r, "alice", "", &ids).ok());
  const std::string rb = ids.at("rollback_deployment_id");
  ASSERT_TRUE(sim.settle(rb));
  EXPECT_EQ(sim.status(rb), v1::DEPLOYMENT_STATUS_SUCCESS);
  EXPECT_EQ(sim.events<v1::DeploymentPaused>().size(), paused_before);  // no hold
  std::vector<v1::StepKind> kinds;
  for (const auto& e : sim.events<v1::DeploymentStepStarted>())
    if (e.deployment_id() == rb) kinds.push_back(e.kind());
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), v1::STEP_KIND_CANARY_WEIGHT), 0) << kinds.size();
  EXPECT_EQ(std::count(kinds.begin(), kinds.end(), v1::STEP_KIND_TRAFFIC_SWITCH), 1);
  EXPECT_TRUE(sim.events<v1::RollbackRequested>().back().fast());
  expect_clean(sim);
}

}  // namespace
}  // namespace axion::sagas
