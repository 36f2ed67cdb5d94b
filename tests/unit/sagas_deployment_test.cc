// The deployment saga end to end in memory (tests/support/saga_sim.h): the real Project
// aggregate decides every command, simulated agents answer the tasks.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "sagas/deployment_saga.h"
#include "tests/unit/saga_test_support.h"

namespace axion::sagas {
namespace {

using namespace testing_support;

TEST(DeploymentSaga, RollingDeploySucceedsInStartOrderAndSnapshots) {
  SagaSim sim;
  ASSERT_OK(sim.publish(shop("v1")));
  const std::string id = sim.deploy();
  ASSERT_FALSE(id.empty());
  ASSERT_TRUE(sim.settle(id));
  EXPECT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_SUCCESS);
  expect_clean(sim);

  // PENDING -> BUILDING -> PROVISIONING -> DEPLOYING -> SUCCESS, each with its cause.
  std::vector<v1::DeploymentStatus> path;
  for (const auto& e : sim.events<v1::DeploymentStatusChanged>()) path.push_back(e.to_status());
  EXPECT_EQ(path, (std::vector<v1::DeploymentStatus>{
                      v1::DEPLOYMENT_STATUS_BUILDING, v1::DEPLOYMENT_STATUS_PROVISIONING,
                      v1::DEPLOYMENT_STATUS_DEPLOYING, v1::DEPLOYMENT_STATUS_SUCCESS}));
  // Manifests are generated and hashed; compose cannot put two replicas on one published
  // port, so it is left out (the process runtime runs neither) and the status says so.
  ASSERT_EQ(sim.events<v1::DeploymentConfigGenerated>().size(), 1u);
  const auto config = sim.events<v1::DeploymentConfigGenerated>()[0].config();
  EXPECT_FALSE(config.k8s_manifest_hashes().empty());
  EXPECT_TRUE(config.compose_hash().empty());
  EXPECT_NE(sim.events<v1::DeploymentStatusChanged>()[0].detail().find("not generated: compose"),
            std::string::npos);

  // Four instances, each started once; api's before web's (web depends on api).
  const auto starts = sim.tasks(id, v1::TASK_KIND_START_SERVICE);
  ASSERT_EQ(starts.size(), 4u);
  EXPECT_EQ(starts[0].task().spec().process().service(), "api");
  EXPECT_EQ(starts[3].task().spec().process().service(), "web");
  EXPECT_EQ(starts[0].task().spec().process().argv(0), "/usr/bin/api");
  EXPECT_EQ(starts[0].task().spec().process().env().at("VERSION"), "v1");
  // The replicas are spread over both servers.
  std::set<std::string> web_servers;
  for (const auto& t : starts)
    if (t.task().spec().process().service() == "web") web_servers.insert(t.server_id());
  EXPECT_EQ(web_servers.size(), 2u);

  // Both proxies send web's published port to both web instances; api (unpublished) has none.
  const auto web = live_backends(sim, "web");
  ASSERT_EQ(web.size(), 2u);
  for (const auto& [server, backends] : web) EXPECT_EQ(backends.size(), 2u) << server;
  EXPECT_TRUE(live_backends(sim, "api").empty());

  const auto snaps = sim.events<v1::DeploymentSnapshotted>();
  ASSERT_EQ(snaps.size(), 1u);
  EXPECT_EQ(snaps[0].snapshot().deployment_id(), id);
  EXPECT_EQ(snaps[0].snapshot().graph().services(0).env().at("VERSION"), "v1");
  EXPECT_EQ(snaps[0].snapshot().placement().at("web").server_ids_size(), 2);
  // The environment is free again.
  EXPECT_TRUE(sim.aggregate.active_by_environment.empty());
}

TEST(DeploymentSaga, SecondReleaseReplacesTheFirstAndStopsItAfterTrafficMoved) {
  SagaSim sim;
  const std::string v1_id = v1_live_v2_published(sim);
  const std::string v2_id = sim.deploy();
  ASSERT_TRUE(sim.settle(v2_id));
  EXPECT_EQ(sim.status(v2_id), v1::DEPLOYMENT_STATUS_SUCCESS);
  expect_clean(sim);

  std::set<std::string> old_instances, stopped;
  for (const auto& t : sim.tasks(v1_id, v1::TASK_KIND_START_SERVICE))
    old_instances.insert(instance_of(t));
  for (const auto& t : sim.tasks(v2_id, v1::TASK_KIND_STOP_SERVICE)) stopped.insert(instance_of(t));
  EXPECT_EQ(stopped, old_instances);  // every v1 instance stopped, each once
  // Traffic: only v2 instances are live on every proxy now.
  std::set<std::string> new_web;
  for (const auto& t : sim.tasks(v2_id, v1::TASK_KIND_START_SERVICE))
    if (t.task().spec().process().service() == "web") new_web.insert(instance_of(t));
  for (const auto& [server, backends] : live_backends(sim, "web")) EXPECT_EQ(backends, new_web);
  // A stop is queued only after the switch that drained the instance.
  const auto& order = sim.queue_order;
  for (const auto& t : sim.tasks(v2_id, v1::TASK_KIND_STOP_SERVICE)) {
    if (t.task().spec().process().service() != "web") continue;
    const auto stop_at = std::find(order.begin(), order.end(), t.task().task_id());
    bool drained_before = false;
    for (auto it = order.begin(); it != stop_at; ++it) {
      const auto& s = sim.queued.at(*it);
      if (s.task().kind() != v1::TASK_KIND_SWITCH_TRAFFIC || s.task().deployment_id() != v2_id)
        continue;
      bool listed = false;
      for (const auto& b : s.task().spec().proxy().backends())
        listed = listed || (b.instance_id() == instance_of(t) && b.weight() > 0);
      drained_before = drained_before || !listed;
    }
    EXPECT_TRUE(drained_before) << instance_of(t) << " was stopped before traffic left it";
  }
}

TEST(DeploymentSaga, RollbackUsesTheSnapshotNotTheLatestGraph) {
  SagaSim sim;
  const std::string v1_id = v1_live_v2_published(sim);
  const std::string v2_id = sim.deploy();
  ASSERT_TRUE(sim.settle(v2_id));
  ASSERT_OK(sim.publish(shop("v3-never-deployed")));
  v1::RollbackDeployment r;
  r.set_deployment_id(v2_id);
  std::map<std::string, std::string> ids;
  ASSERT_TRUE(sim.command(r, "alice", "", &ids).ok());
  const std::string rb = ids.at("rollback_deployment_id");
  ASSERT_TRUE(sim.settle(rb));
  EXPECT_EQ(sim.status(rb), v1::DEPLOYMENT_STATUS_SUCCESS);
  const auto starts = sim.tasks(rb, v1::TASK_KIND_START_SERVICE);
  ASSERT_FALSE(starts.empty());
  for (const auto& t : starts) EXPECT_EQ(t.task().spec().process().env().at("VERSION"), "v1");
  // It goes back to where v1 ran.
  const auto assigned = sim.events<v1::DeploymentServersAssigned>();
  EXPECT_EQ(assigned.back().placement().at("web").SerializeAsString(),
            assigned.front().placement().at("web").SerializeAsString());
  expect_clean(sim);
}

TEST(DeploymentSaga, CanaryWithManualPromotionHoldsUntilPromoted) {
  SagaSim sim;
  v1_live_v2_published(sim);
  v1::Strategy canary;
  canary.mutable_canary()->add_weights(10);
  canary.mutable_canary()->add_weights(50);
  canary.mutable_canary()->set_manual_promotion(true);
  const std::string id = sim.deploy(canary);
  EXPECT_FALSE(sim.settle(id, 100));  // held
  ASSERT_EQ(sim.events<v1::DeploymentPaused>().size(), 1u);
  EXPECT_TRUE(sim.aggregate.deployments.at(id).paused);
  // 10% of web's traffic: the new instances' weights against the old ones'.
  v1::PromoteDeployment promote;
  promote.set_deployment_id(id);
  ASSERT_TRUE(sim.command(promote, "alice").ok());
  EXPECT_FALSE(sim.settle(id, 100));  // held again after 50%
  EXPECT_EQ(sim.events<v1::DeploymentPaused>().size(), 2u);
  promote.set_full(true);
  ASSERT_TRUE(sim.command(promote, "alice").ok());
  ASSERT_TRUE(sim.settle(id));
  EXPECT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_SUCCESS);
  std::vector<std::uint32_t> weights;
  for (const auto& e : sim.events<v1::DeploymentStepCompleted>())
    if (e.kind() == v1::STEP_KIND_CANARY_WEIGHT) weights.push_back(e.weight());
  EXPECT_EQ(weights, (std::vector<std::uint32_t>{10, 50, 100}));
  expect_clean(sim);
}

TEST(DeploymentSaga, CanaryWeightsSplitTheProxyTraffic) {
  SagaSim sim(1);
  one_web_replica(sim);
  v1::Strategy canary;
  canary.mutable_canary()->add_weights(25);
  const std::string id = sim.deploy(canary);
  ASSERT_TRUE(sim.settle(id));
  const auto switches = sim.tasks(id, v1::TASK_KIND_SWITCH_TRAFFIC);
  ASSERT_FALSE(switches.empty());
  const auto& first = switches.front().task().spec().proxy();
  ASSERT_EQ(first.backends_size(), 2);
  std::uint32_t fresh = 0, old = 0;
  for (const auto& b : first.backends())
    (b.instance_id() == instance_of(sim.tasks(id, v1::TASK_KIND_START_SERVICE).back()) ? fresh
                                                                                       : old) =
        b.weight();
  EXPECT_EQ(fresh * 3, old);  // 25% : 75%
}

TEST(DeploymentSaga, NothingRunsTwiceWhenTheSagaRestartsAtAnyPoint) {
  // Restart the saga (a fresh fold of the log) after every round: outputs are idempotent.
  SagaSim sim;
  v1_live_v2_published(sim);
  const std::string id = sim.deploy();
  for (int i = 0; i < 400 && sim.status(id) != v1::DEPLOYMENT_STATUS_SUCCESS; ++i) {
    sim.restart_saga();
    sim.round();
  }
  EXPECT_EQ(sim.status(id), v1::DEPLOYMENT_STATUS_SUCCESS);
  expect_clean(sim);
}

TEST(DeploymentSaga, PlacementAndBuildFailuresAreRecordedWithTheirCause) {
  SagaSim offline;
  for (auto& s : offline.servers) s.online = false;
  ASSERT_OK(offline.publish(shop("v1")));
  const std::string a = offline.deploy();
  ASSERT_TRUE(offline.settle(a));
  ASSERT_EQ(offline.events<v1::DeploymentFailed>().size(), 1u);
  EXPECT_EQ(offline.events<v1::DeploymentFailed>()[0].cause(), v1::STATUS_CHANGE_CAUSE_PLACEMENT);

  SagaSim no_proxy;
  for (auto& s : no_proxy.servers) s.runtimes = {"process"};
  ASSERT_OK(no_proxy.publish(shop("v1")));
  const std::string b = no_proxy.deploy();
  ASSERT_TRUE(no_proxy.settle(b));
  const auto f = no_proxy.events<v1::DeploymentFailed>();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_NE(f[0].reason().find("no proxy runtime"), std::string::npos) << f[0].reason();

  SagaSim no_command;
  v1::GraphVersion g = shop("v1");
  g.mutable_services(0)->clear_command();
  g.mutable_services(0)->clear_args();
  g.mutable_services(0)->set_image("ghcr.io/acme/api:1");
  ASSERT_OK(no_command.publish(g));
  const std::string c = no_command.deploy();
  ASSERT_TRUE(no_command.settle(c));
  const auto nf = no_command.events<v1::DeploymentFailed>();
  ASSERT_EQ(nf.size(), 1u);
  EXPECT_EQ(nf[0].cause(), v1::STATUS_CHANGE_CAUSE_BUILD_ERROR);
  EXPECT_NE(nf[0].reason().find("'api' has no command"), std::string::npos) << nf[0].reason();
  EXPECT_TRUE(no_command.aggregate.active_by_environment.empty());
}

TEST(DeploymentSaga, TaskResultsBecomeKeyedProgressCommands) {
  v1::AgentTaskResult r;
  r.set_deployment_id("dep-1");
  r.set_project_id("prj-1");
  r.set_server_id("srv-1");
  r.set_kind(v1::TASK_KIND_START_SERVICE);
  r.set_instance_id("web-abc-0");
  r.mutable_update()->set_task_id("task-1");
  r.mutable_update()->set_state(v1::TASK_STATE_RUNNING);
  EXPECT_FALSE(record_task_result(r).has_value());  // progress, not an end
  r.mutable_update()->set_state(v1::TASK_STATE_SUCCEEDED);
  (*r.mutable_update()->mutable_ports())["http"] = 31000;
  auto c = record_task_result(r);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->idempotency_key, "task-result:task-1");
  EXPECT_EQ(c->aggregate_id, "prj-1");
  v1::RecordDeploymentProgress p;
  ASSERT_TRUE(c->payload.UnpackTo(&p));
  v1::DeploymentTaskCompleted e;
  ASSERT_TRUE(p.events(0).UnpackTo(&e));
  EXPECT_TRUE(e.succeeded());
  EXPECT_EQ(e.state(), "SUCCEEDED");
  EXPECT_TRUE(e.started_instance());
  EXPECT_EQ(e.ports().at("http"), 31000u);
  r.clear_deployment_id();
  EXPECT_FALSE(record_task_result(r).has_value());  // not a deployment's task
}

TEST(DeploymentSaga, IdsAreDeterministicDnsLabels) {
  EXPECT_EQ(instance_id("dep-1", "web", 0), instance_id("dep-1", "web", 0));
  EXPECT_NE(instance_id("dep-1", "web", 0), instance_id("dep-2", "web", 0));
  const std::string long_name(63, 'a');
  const std::string id = instance_id("dep-1", long_name, 12);
  EXPECT_LE(id.size(), 63u);
  EXPECT_EQ(task_id("dep-1", "start:x"), task_id("dep-1", "start:x"));
  EXPECT_NE(task_id("dep-1", "start:x"), task_id("dep-1", "stop:x"));
}

}  // namespace
}  // namespace axion::sagas
