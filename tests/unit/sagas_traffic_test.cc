// The deployment saga's traffic: every canary weight and the blue-green switch reach the
// proxies in their own step, and the error-rate gate of canary and blue-green steps fails a
// release whose error rate the proxies report above the limit (and restores the previous one).
#include <google/protobuf/util/time_util.h>

#include "tests/unit/saga_test_support.h"

namespace axion::sagas::testing_support {
namespace {

using google::protobuf::util::TimeUtil;

// The new release's share (%) of `service`'s traffic in each SWITCH_TRAFFIC of `deployment`, in
// the order they were queued (first proxy server only).
std::vector<std::uint32_t> new_shares(const SagaSim& sim, const std::string& deployment,
                                      const std::string& service) {
  std::vector<std::uint32_t> out;
  for (const auto& t : sim.tasks(deployment, v1::TASK_KIND_SWITCH_TRAFFIC)) {
    if (t.task().spec().proxy().service() != service || t.server_id() != "srv-1") continue;
    std::uint32_t fresh = 0, all = 0;
    for (const auto& b : t.task().spec().proxy().backends()) {
      all += b.weight();
      if (b.instance_id().find(instance_id(deployment, "", 0).substr(1, 11)) != std::string::npos)
        fresh += b.weight();
    }
    out.push_back(all == 0 ? 0 : (fresh * 100 + all / 2) / all);
  }
  return out;
}

std::int64_t ms(const v1::EventEnvelope& e) {
  return TimeUtil::TimestampToMilliseconds(e.occurred_at());
}

TEST(DeploymentSagaTraffic, EveryCanaryWeightReachesTheProxies) {
  SagaSim sim(1);
  one_web_replica(sim);
  v1::Strategy canary;
  canary.mutable_canary()->add_weights(10);
  canary.mutable_canary()->add_weights(50);
  const std::string id = sim.deploy(canary);
  ASSERT_TRUE(sim.settle(id));
  ASSERT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_SUCCESS);
  // 10 %, 50 %, 100 % in their steps, then the cleanup leaves the new release alone.
  EXPECT_EQ(new_shares(sim, id, "web"), (std::vector<std::uint32_t>{10, 50, 100, 100}));
  expect_clean(sim);
}

TEST(DeploymentSagaTraffic, BlueGreenSwitchesInItsStepAndKeepsBlueForTheDelay) {
  SagaSim sim(1);
  one_web_replica(sim);
  v1::Strategy bg;
  bg.mutable_blue_green()->mutable_scale_down_delay()->set_seconds(60);
  const std::string id = sim.deploy(bg);
  ASSERT_TRUE(sim.settle(id));
  ASSERT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_SUCCESS);
  EXPECT_EQ(new_shares(sim, id, "web"), (std::vector<std::uint32_t>{0, 100, 100}));
  // Blue stops only scale_down_delay after the switch step.
  std::int64_t switched = 0, cleanup = 0;
  for (const auto& e : sim.log) {
    v1::DeploymentStepCompleted done;
    v1::DeploymentStepStarted started;
    if (e.payload().UnpackTo(&done) && done.kind() == v1::STEP_KIND_TRAFFIC_SWITCH)
      switched = ms(e);
    if (e.payload().UnpackTo(&started) && started.kind() == v1::STEP_KIND_CLEANUP) cleanup = ms(e);
  }
  ASSERT_GT(switched, 0);
  EXPECT_GE(cleanup - switched, 60000);
  expect_clean(sim);
}

v1::Strategy gated_canary() {
  v1::Strategy canary;
  canary.mutable_canary()->add_weights(10);
  canary.mutable_canary()->add_weights(50);
  canary.mutable_canary()->mutable_bake_time()->set_seconds(30);
  canary.mutable_canary()->set_max_error_rate(0.05);
  return canary;
}

TEST(DeploymentSagaTraffic, CanaryWithinItsErrorRateLimitBakesEachStepAndSucceeds) {
  SagaSim sim;
  v1_live_v2_published(sim);
  sim.error_rate = [](const v1::AgentTask&) { return 0.01; };
  const std::string id = sim.deploy(gated_canary());
  ASSERT_TRUE(sim.settle(id));
  ASSERT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_SUCCESS);
  const auto reports = sim.tasks(id, v1::TASK_KIND_REPORT_TRAFFIC);
  // web is the routed service: one report per proxy server (2) and canary step (3).
  ASSERT_EQ(reports.size(), 6u);
  for (const auto& r : reports) {
    EXPECT_EQ(r.task().spec().proxy().service(), "web");
    EXPECT_EQ(r.task().spec().proxy().backends_size(), 2);  // web's two new replicas
  }
  // Each step was watched for its bake time before it completed, and says what it measured.
  std::map<std::uint32_t, std::int64_t> started;
  int gated = 0;
  for (const auto& e : sim.log) {
    v1::DeploymentStepStarted s;
    v1::DeploymentStepCompleted d;
    if (e.payload().UnpackTo(&s) && s.deployment_id() == id) started[s.step_index()] = ms(e);
    if (e.payload().UnpackTo(&d) && d.deployment_id() == id &&
        d.kind() == v1::STEP_KIND_CANARY_WEIGHT) {
      EXPECT_GE(ms(e) - started.at(d.step_index()), 30000) << d.ShortDebugString();
      EXPECT_NE(d.detail().find("error rate 1.0% (4 of 400 requests), limit 5.0%"),
                std::string::npos)
          << d.detail();
      ++gated;
    }
  }
  EXPECT_EQ(gated, 3);
  expect_clean(sim);
}

TEST(DeploymentSagaTraffic, CanaryAboveItsErrorRateLimitFailsAndRestoresTheOldRelease) {
  SagaSim sim;
  const std::string v1_id = v1_live_v2_published(sim);
  // The 10 % step passes; at 50 % the new release fails a third of its requests on srv-2.
  std::string id;
  sim.error_rate = [&](const v1::AgentTask& t) {
    const bool second_step = t.task().task_id() == task_id(id, "report:1:srv-2:web");
    return second_step ? 1.0 / 3 : 0.0;
  };
  id = sim.deploy(gated_canary());
  ASSERT_TRUE(sim.settle(id));
  ASSERT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_FAILED);
  const auto failed = sim.events<v1::DeploymentFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].cause(), v1::STATUS_CHANGE_CAUSE_HEALTH);
  EXPECT_EQ(failed[0].step_index(), 1u);
  EXPECT_EQ(failed[0].step_kind(), v1::STEP_KIND_CANARY_WEIGHT);
  EXPECT_EQ(failed[0].server_id(), "srv-2");
  EXPECT_EQ(failed[0].service(), "web");
  EXPECT_NE(failed[0].reason().find("error-rate gate: the new release failed 67 of 200 requests "
                                    "(33.5%) through the proxy on srv-2, above the limit 5.0%"),
            std::string::npos)
      << failed[0].reason();
  // Traffic is back on v1 alone, and every v2 instance was stopped.
  const std::string v1_web = instance_id(v1_id, "web", 0).substr(0, 15);
  for (const auto& [server, backends] : live_backends(sim, "web")) {
    ASSERT_EQ(backends.size(), 2u) << server;
    for (const auto& b : backends) EXPECT_EQ(b.substr(0, 15), v1_web) << server;
  }
  std::set<std::string> started, stopped;
  for (const auto& t : sim.tasks(id, v1::TASK_KIND_START_SERVICE))
    if (of_release(t, id)) started.insert(instance_of(t));
  for (const auto& t : sim.tasks(id, v1::TASK_KIND_STOP_SERVICE))
    if (of_release(t, id)) stopped.insert(instance_of(t));
  EXPECT_EQ(started.size(), 4u);
  EXPECT_EQ(stopped, started);
  // The 100 % step never ran.
  for (const auto& s : sim.events<v1::DeploymentStepStarted>())
    if (s.deployment_id() == id) {
      EXPECT_LT(s.step_index(), 2u);
    }
  expect_clean(sim);
}

TEST(DeploymentSagaTraffic, BlueGreenGateWatchesAfterTheSwitchWhileBlueIsKept) {
  SagaSim sim;
  v1_live_v2_published(sim);
  sim.error_rate = [](const v1::AgentTask&) { return 0.5; };
  v1::Strategy bg;
  bg.mutable_blue_green()->mutable_scale_down_delay()->set_seconds(20);
  bg.mutable_blue_green()->set_max_error_rate(0.1);
  v1::DeployOptions options;
  options.set_auto_rollback(true);
  const std::string id = sim.deploy(bg, options);
  ASSERT_TRUE(sim.settle(id));
  ASSERT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_FAILED);
  const auto failed = sim.events<v1::DeploymentFailed>();
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0].step_kind(), v1::STEP_KIND_TRAFFIC_SWITCH);
  EXPECT_EQ(failed[0].cause(), v1::STATUS_CHANGE_CAUSE_HEALTH);
  EXPECT_TRUE(failed[0].rollback_requested());
  // Blue was never stopped: the restore only moved traffic back.
  for (const auto& t : sim.tasks(id, v1::TASK_KIND_STOP_SERVICE)) EXPECT_TRUE(of_release(t, id));
  for (const auto& t : sim.tasks(id, v1::TASK_KIND_START_SERVICE)) EXPECT_TRUE(of_release(t, id));
  expect_clean(sim);
}

}  // namespace
}  // namespace axion::sagas::testing_support
