// Deployments end to end (tests/e2e/deployment_fixture.h): a real axion-server runs the
// deployment saga, two real axion-agents run real axion-test-service processes and HAProxies;
// v1 -> v2 under load, a failing v2, auto-rollback, cancel.
#include "tests/e2e/deployment_fixture.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(DeploymentE2E, RollingV1ToV2ServesEveryRequestAndStopsV1) {
  publish("v1");
  const auto first = wait_end(deploy());
  ASSERT_EQ(first.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << first.ShortDebugString();
  EXPECT_EQ(count("v1"), 3u);  // api + 2 web
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));
  ASSERT_EQ(first.placement().at("web").server_ids_size(), 2);
  EXPECT_NE(first.placement().at("web").server_ids(0), first.placement().at("web").server_ids(1));
  // The view counts replicas: wanted from the placement, healthy from each server's report.
  ASSERT_EQ(first.services_size(), 2) << first.ShortDebugString();
  for (const auto& s : first.services()) {
    EXPECT_EQ(s.desired_replicas(), s.service() == "web" ? 2u : 1u) << s.ShortDebugString();
    EXPECT_EQ(s.healthy_replicas(), s.desired_replicas()) << s.ShortDebugString();
  }

  publish("v2");
  Load load(front_);
  const auto second = wait_end(deploy());
  std::this_thread::sleep_for(milliseconds(300));
  load.stop();
  ASSERT_EQ(second.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << second.ShortDebugString();
  EXPECT_GT(load.total(), 50);
  EXPECT_EQ(load.failures(), 0) << load.last_failure();
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v2"));
  EXPECT_TRUE(eventually([&] { return count("v1") == 0; })) << "v1 instances left running";
  EXPECT_EQ(count("v2"), 3u);
}

TEST_F(DeploymentE2E, FailingHealthCheckKeepsV1ServingAndSaysWhy) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  publish("v2", {"--unhealthy"});
  Load load(front_);
  const auto failed = wait_end(deploy());
  load.stop();
  ASSERT_EQ(failed.status(), v1::DEPLOYMENT_STATUS_FAILED) << failed.ShortDebugString();
  EXPECT_EQ(failed.failure().service(), "web");
  EXPECT_FALSE(failed.failure().server_id().empty());
  EXPECT_EQ(failed.failure().cause(), v1::STATUS_CHANGE_CAUSE_HEALTH)
      << failed.failure().ShortDebugString();
  EXPECT_FALSE(failed.failure().last_health_samples().empty());
  EXPECT_FALSE(failed.failure().reason().empty());
  EXPECT_EQ(load.failures(), 0) << load.last_failure();
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));
  EXPECT_TRUE(eventually([&] { return count("v2") == 0; })) << "v2 instances left running";
  EXPECT_EQ(count("v1"), 3u);
}

TEST_F(DeploymentE2E, CanaryAboveItsErrorRateLimitFailsAndV1TakesTheTrafficBack) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  publish("v2", {"--error-percent", "40"});  // healthy, but 40 % of its answers are 500s
  v1::Strategy canary;
  canary.mutable_canary()->add_weights(50);
  canary.mutable_canary()->mutable_bake_time()->set_seconds(2);
  canary.mutable_canary()->set_max_error_rate(0.05);
  Load load(front_);
  const auto failed = wait_end(deploy(canary));
  load.stop();
  ASSERT_EQ(failed.status(), v1::DEPLOYMENT_STATUS_FAILED) << failed.ShortDebugString();
  EXPECT_EQ(failed.failure().cause(), v1::STATUS_CHANGE_CAUSE_HEALTH)
      << failed.failure().ShortDebugString();
  EXPECT_EQ(failed.failure().service(), "web");
  EXPECT_THAT(failed.failure().reason(), HasSubstr("error-rate gate: the new release failed"));
  EXPECT_THAT(failed.failure().reason(), HasSubstr("above the limit 5.0%"));
  EXPECT_GT(load.failures(), 0) << "the canary served no real traffic";
  EXPECT_LT(load.failures(), load.total() / 2);
  // The 100 % step never came: v1 has all the traffic again and v2 is gone.
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));
  EXPECT_TRUE(eventually([&] { return count("v2") == 0; })) << "v2 instances left running";
  EXPECT_EQ(count("v1"), 3u);
  Load after(front_);
  std::this_thread::sleep_for(milliseconds(500));
  after.stop();
  EXPECT_EQ(after.failures(), 0) << after.last_failure();
}

TEST_F(DeploymentE2E, AReleaseItsServersCannotRunFailsInProvisioningAndMovesNothing) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  web_command_ = dir_ + "/not-installed/web";  // v2's web command is not on the servers
  publish("v2");
  Load load(front_);
  const auto failed = wait_end(deploy());
  load.stop();
  ASSERT_EQ(failed.status(), v1::DEPLOYMENT_STATUS_FAILED) << failed.ShortDebugString();
  EXPECT_EQ(failed.failure().cause(), v1::STATUS_CHANGE_CAUSE_AGENT_ERROR)
      << failed.failure().ShortDebugString();
  EXPECT_EQ(failed.failure().step_kind(), v1::STEP_KIND_PROVISION);
  EXPECT_THAT(failed.failure().reason(), HasSubstr("preparing server "));
  EXPECT_THAT(failed.failure().reason(),
              HasSubstr("service web: cannot execute " + web_command_ + ": No such file"));
  EXPECT_EQ(load.failures(), 0) << load.last_failure();
  EXPECT_EQ(count("v2"), 0u) << "nothing of v2 may start";
  EXPECT_EQ(count("v1"), 3u);
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));
}

TEST_F(DeploymentE2E, AutoRollbackAfterAFailureRestoresV1) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  publish("v2", {"--unhealthy"});
  v1::DeployOptions options;
  options.set_auto_rollback(true);
  const std::string bad = deploy({}, options);
  ASSERT_EQ(wait_end(bad).status(), v1::DEPLOYMENT_STATUS_FAILED);
  // The rollback is a new deployment; find it in the list.
  v1::Deployment rollback;
  ASSERT_TRUE(eventually([&] {
    v1::ListDeploymentsRequest req;
    req.set_project_id(project_id_);
    v1::ListDeploymentsResponse resp;
    call([&](auto* c) { return deployments_->ListDeployments(c, req, &resp); });
    for (const auto& d : resp.deployments())
      if (d.rollback_of() == bad) rollback = d;
    return !rollback.deployment_id().empty();
  }));
  const auto done = wait_end(rollback.deployment_id());
  EXPECT_EQ(done.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << done.ShortDebugString();
  EXPECT_EQ(done.graph_version(), 1u);
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));
  EXPECT_TRUE(eventually([&] { return count("v2") == 0; }));
}

TEST_F(DeploymentE2E, CancelStopsTheNewReleaseAndFreesTheEnvironment) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  publish("v2", {"--healthy-after-ms", "600000"}, 600);
  const std::string id = deploy();
  // Cancel while web's v2 instances run but are not healthy yet.
  ASSERT_TRUE(eventually([&] { return count("v2") >= 2; })) << server_->log();
  v1::CancelDeploymentRequest req;
  req.set_project_id(project_id_);
  req.set_deployment_id(id);
  req.set_reason("taking too long");
  v1::CancelDeploymentResponse resp;
  ASSERT_TRUE(call([&](auto* c) { return deployments_->CancelDeployment(c, req, &resp); }).ok());
  const auto cancelled = wait_end(id);
  EXPECT_EQ(cancelled.status(), v1::DEPLOYMENT_STATUS_CANCELLED) << cancelled.ShortDebugString();
  EXPECT_EQ(cancelled.cancel_reason(), "taking too long");
  EXPECT_EQ(count("v2"), 0u) << "the cancelled release is still running";
  EXPECT_EQ(count("v1"), 3u);
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));
  // Nothing is left locked: the next deployment starts at once and succeeds.
  publish("v3");
  const auto next = wait_end(deploy());
  EXPECT_EQ(next.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << next.ShortDebugString();
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v3"));
}

}  // namespace
}  // namespace axion::testing
