// sagas/placement and sagas/rollout_plan: replicas spread over ONLINE servers within their free
// capacity (and a refusal that says what is missing), the start order of a graph, and the steps
// of rolling, canary, blue-green and fast rollouts.
#include <gtest/gtest.h>

#include "sagas/placement.h"
#include "sagas/rollout_plan.h"
#include "tests/unit/codegen_graphs.h"

namespace axion::sagas {
namespace {

namespace v1 = axion::v1;
using codegen::testing_graphs::shop_graph;
using std::chrono::milliseconds;

std::vector<ServerSlot> three_servers() {
  return {{"srv-a", true, 2000, 4096},
          {"srv-b", true, 2000, 4096},
          {"srv-c", true, 2000, 1024},
          {"srv-off", false, 64000, 640000}};
}

std::vector<std::string> ids(const v1::ServicePlacement& p) {
  return {p.server_ids().begin(), p.server_ids().end()};
}

TEST(Placement, SpreadsReplicasOverOnlineServersOnly) {
  const auto placed = place_services(shop_graph(), three_servers());
  ASSERT_TRUE(placed.ok()) << placed.status().to_string();
  ASSERT_EQ(placed->size(), 3u);
  // api: 3 replicas of 256 MiB, one per server (spread first), never the offline one.
  auto api = ids(placed->at("api"));
  ASSERT_EQ(api.size(), 3u);
  std::sort(api.begin(), api.end());
  EXPECT_EQ(api, (std::vector<std::string>{"srv-a", "srv-b", "srv-c"}));
  EXPECT_EQ(placed->at("web").server_ids_size(), 1);
  EXPECT_NE(placed->at("web").server_ids(0), "srv-off");
  // Deterministic: the same input, the same answer.
  EXPECT_EQ(ids(place_services(shop_graph(), three_servers())->at("api")), ids(placed->at("api")));
}

TEST(Placement, ARefusalSaysWhatIsMissing) {
  auto graph = shop_graph();
  graph.mutable_services(1)->mutable_resources()->set_memory_mb(3000);  // api, 3 replicas
  const auto placed = place_services(graph, three_servers());
  ASSERT_EQ(placed.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(placed.status().message().find("service 'api' replica 3 of 3 needs 500m CPU and "
                                           "3000 MiB"),
            std::string::npos)
      << placed.status().message();
  EXPECT_NE(placed.status().message().find("at most"), std::string::npos);

  const auto none = place_services(shop_graph(), {{"srv-off", false, 1000, 1000}});
  EXPECT_EQ(none.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(none.status().message().find("no server of the cluster has an ONLINE agent"),
            std::string::npos);
}

TEST(Placement, CapacityIsUsedUp) {
  auto graph = shop_graph();
  graph.mutable_services(1)->set_replicas(4);
  graph.mutable_services(1)->mutable_resources()->set_memory_mb(1000);
  // srv-c has 1024 MiB: one api replica; srv-a and srv-b take the rest.
  const auto placed = place_services(graph, three_servers());
  ASSERT_TRUE(placed.ok()) << placed.status().to_string();
  const auto api = ids(placed->at("api"));
  EXPECT_EQ(std::count(api.begin(), api.end(), "srv-c"), 1);
  EXPECT_EQ(api.size(), 4u);
}

TEST(StartOrder, DependenciesFirstThenByName) {
  EXPECT_EQ(start_order(shop_graph()), (std::vector<std::string>{"worker", "api", "web"}));
  auto graph = shop_graph();
  graph.clear_edges();
  EXPECT_EQ(start_order(graph), (std::vector<std::string>{"api", "web", "worker"}));
}

Placement placement(std::map<std::string, std::vector<std::string>> by_service) {
  Placement p;
  for (auto& [service, servers] : by_service) {
    for (auto& s : servers) p[service].add_server_ids(s);
  }
  return p;
}

const Placement kNext = placement({{"web", {"a"}}, {"api", {"a", "b", "c"}}, {"worker", {"b"}}});
const Placement kPrevious =
    placement({{"web", {"b"}}, {"api", {"a", "b"}}, {"worker", {"c"}}, {"gone", {"a"}}});

TEST(RolloutPlan, RollingReplacesBatchesInStartOrder) {
  v1::Strategy s;
  s.mutable_rolling()->set_batch_size(2);
  s.mutable_rolling()->mutable_pause()->set_seconds(5);
  const auto plan = plan_rollout(shop_graph(), kNext, kPrevious, s);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  // worker (1), api (2 + 1), web (1), then the cleanup of what no batch stopped.
  ASSERT_EQ(plan->size(), 5u);
  const auto& first = (*plan)[0];
  EXPECT_EQ(first.kind, v1::STEP_KIND_ROLLING_BATCH);
  EXPECT_EQ(first.start, (std::vector<InstanceRef>{{"worker", 0, "b"}}));
  EXPECT_EQ(first.stop, (std::vector<InstanceRef>{{"worker", 0, "c"}}));
  EXPECT_EQ(first.weight, 20u);  // 1 of 5 new instances
  EXPECT_EQ(first.wait, milliseconds(5000));
  const auto& api = (*plan)[1];
  EXPECT_EQ(api.start, (std::vector<InstanceRef>{{"api", 0, "a"}, {"api", 1, "b"}}));
  EXPECT_EQ(api.stop, (std::vector<InstanceRef>{{"api", 0, "a"}, {"api", 1, "b"}}));
  EXPECT_EQ(api.services(), std::vector<std::string>{"api"});
  EXPECT_EQ(api.server_ids(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE((*plan)[2].stop.empty());  // the third api replica is new
  EXPECT_EQ((*plan)[3].weight, 100u);
  EXPECT_EQ((*plan)[3].wait, milliseconds(0));  // no pause after the last batch
  const auto& cleanup = (*plan)[4];
  EXPECT_EQ(cleanup.kind, v1::STEP_KIND_CLEANUP);
  EXPECT_EQ(cleanup.stop, (std::vector<InstanceRef>{{"gone", 0, "a"}}));
}

TEST(RolloutPlan, CanaryStartsEverythingThenShiftsWeights) {
  v1::Strategy s;
  s.mutable_canary()->add_weights(10);
  s.mutable_canary()->add_weights(50);
  s.mutable_canary()->mutable_bake_time()->set_seconds(30);
  s.mutable_canary()->set_max_error_rate(0.01);
  s.mutable_canary()->set_manual_promotion(true);
  const auto plan = plan_rollout(shop_graph(), kNext, kPrevious, s);
  ASSERT_TRUE(plan.ok()) << plan.status().to_string();
  ASSERT_EQ(plan->size(), 4u);  // 10, 50, 100 (appended), cleanup
  EXPECT_EQ((*plan)[0].weight, 10u);
  EXPECT_EQ((*plan)[0].start.size(), 5u);
  EXPECT_EQ((*plan)[0].start.front().service, "worker");  // in start order
  EXPECT_TRUE((*plan)[0].needs_promotion);
  // The error-rate gate watches each step for its bake time, inside the step.
  EXPECT_EQ((*plan)[1].observe, milliseconds(30000));
  EXPECT_EQ((*plan)[1].wait, milliseconds(0));
  EXPECT_EQ((*plan)[2].weight, 100u);
  EXPECT_EQ((*plan)[2].observe, milliseconds(30000));
  EXPECT_FALSE((*plan)[2].needs_promotion);
  EXPECT_DOUBLE_EQ((*plan)[2].max_error_rate, 0.01);
  EXPECT_EQ((*plan)[3].kind, v1::STEP_KIND_CLEANUP);
  EXPECT_EQ((*plan)[3].stop.size(), 5u);  // every previous instance

  s.mutable_canary()->add_weights(40);  // 10, 50, 40: not ascending
  const auto bad = plan_rollout(shop_graph(), kNext, kPrevious, s);
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("strategy.canary.weights[2]"), std::string::npos);
}

TEST(RolloutPlan, BlueGreenStagesSwitchesAndKeepsBlueForAWhile) {
  v1::Strategy s;
  s.mutable_blue_green()->mutable_bake_time()->set_seconds(10);
  s.mutable_blue_green()->mutable_scale_down_delay()->set_seconds(60);
  s.mutable_blue_green()->set_max_error_rate(0.05);
  const auto plan = plan_rollout(shop_graph(), kNext, kPrevious, s);
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 3u);
  EXPECT_EQ((*plan)[0].kind, v1::STEP_KIND_BLUE_GREEN_STAGE);
  EXPECT_EQ((*plan)[0].weight, 0u);
  EXPECT_EQ((*plan)[0].wait, milliseconds(10000));
  EXPECT_EQ((*plan)[1].kind, v1::STEP_KIND_TRAFFIC_SWITCH);
  EXPECT_EQ((*plan)[1].weight, 100u);
  EXPECT_EQ((*plan)[1].observe, milliseconds(60000));  // blue kept while the gate watches
  EXPECT_EQ((*plan)[1].wait, milliseconds(0));
  EXPECT_DOUBLE_EQ((*plan)[1].max_error_rate, 0.05);
  EXPECT_EQ((*plan)[2].kind, v1::STEP_KIND_CLEANUP);

  // A fast rollback skips the bake and the holds, whatever the strategy.
  v1::Strategy canary;
  canary.mutable_canary()->set_manual_promotion(true);
  const auto fast = plan_rollout(shop_graph(), kNext, kPrevious, canary, true);
  ASSERT_TRUE(fast.ok());
  ASSERT_EQ(fast->size(), 3u);
  EXPECT_EQ((*fast)[0].wait, milliseconds(0));
  EXPECT_FALSE((*fast)[0].needs_promotion);
}

TEST(RolloutPlan, AFirstDeploymentHasNothingToStop) {
  const auto plan = plan_rollout(shop_graph(), kNext, {}, v1::Strategy());
  ASSERT_TRUE(plan.ok());
  ASSERT_EQ(plan->size(), 5u);  // rolling, one replica per batch, no cleanup
  for (const auto& step : *plan) EXPECT_TRUE(step.stop.empty());
  const auto missing = plan_rollout(shop_graph(), placement({{"web", {"a"}}}), {}, v1::Strategy());
  EXPECT_EQ(missing.status().code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace axion::sagas
