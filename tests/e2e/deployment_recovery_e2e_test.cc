// Deployments end to end, continued: WatchDeployment, canary and blue-green without a failed
// request, and kill -9 of axion-server at several points of a deployment.
#include <functional>

#include "tests/e2e/deployment_fixture.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;

TEST_F(DeploymentE2E, WatchDeploymentStreamsTheSnapshotThenEventsUntilTheEnd) {
  publish("v1");
  const std::string id = deploy();
  ASSERT_FALSE(id.empty());
  const auto watch = [&](std::uint64_t after, grpc::Status* status) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + kApiToken);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::WatchDeploymentRequest req;
    req.set_deployment_id(id);
    req.set_after_sequence(after);
    auto stream = deployments_->WatchDeployment(&ctx, req);
    std::vector<v1::WatchDeploymentResponse> got;
    v1::WatchDeploymentResponse m;
    while (stream->Read(&m)) got.push_back(m);
    *status = stream->Finish();
    return got;
  };
  grpc::Status status;
  const auto live = watch(0, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GE(live.size(), 2u);
  EXPECT_TRUE(live.front().has_snapshot());
  std::uint64_t last = live.front().snapshot().version();
  bool stepped = false;
  for (std::size_t i = 1; i < live.size(); ++i) {
    ASSERT_TRUE(live[i].has_event());
    EXPECT_GT(live[i].event().sequence(), last) << "events out of order or repeated";
    last = live[i].event().sequence();
    stepped = stepped || live[i].event().type() == "axion.v1.DeploymentStepStarted";
  }
  EXPECT_TRUE(stepped || live.front().snapshot().current_step() > 0);
  EXPECT_EQ(live.back().event().type(), "axion.v1.DeploymentSucceeded");
  // After the end: the snapshot alone, already terminal.
  const auto after = watch(0, &status);
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].snapshot().status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  // Resuming after a sequence: only later events, no snapshot, up to the end.
  const std::uint64_t from = live.size() > 3 ? live[live.size() - 3].event().sequence() : 0;
  if (from > 0) {
    const auto resumed = watch(from, &status);
    ASSERT_TRUE(status.ok());
    ASSERT_EQ(resumed.size(), 2u);
    EXPECT_TRUE(resumed[0].has_event());
    EXPECT_EQ(resumed[1].event().type(), "axion.v1.DeploymentSucceeded");
  }
  // Refusals: unknown deployment, no token.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + kApiToken);
    v1::WatchDeploymentRequest req;
    req.set_deployment_id("dep-does-not-exist");
    auto stream = deployments_->WatchDeployment(&ctx, req);
    v1::WatchDeploymentResponse m;
    EXPECT_FALSE(stream->Read(&m));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::WatchDeploymentRequest req;
    req.set_deployment_id(id);
    auto stream = deployments_->WatchDeployment(&ctx, req);
    v1::WatchDeploymentResponse m;
    EXPECT_FALSE(stream->Read(&m));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
}

class StrategyE2E : public DeploymentE2E, public ::testing::WithParamInterface<std::string> {};

TEST_P(StrategyE2E, V1ToV2WithoutAFailedRequest) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  publish("v2");
  v1::Strategy strategy;
  if (GetParam() == "canary") {
    strategy.mutable_canary()->add_weights(20);
    strategy.mutable_canary()->add_weights(60);
    strategy.mutable_canary()->mutable_bake_time()->set_nanos(300'000'000);
    strategy.mutable_canary()->set_max_error_rate(0.01);  // the proxies' reports must pass it
  } else {
    strategy.mutable_blue_green()->mutable_bake_time()->set_nanos(300'000'000);
    strategy.mutable_blue_green()->mutable_scale_down_delay()->set_nanos(300'000'000);
    strategy.mutable_blue_green()->set_max_error_rate(0.01);
  }
  Load load(front_);
  const auto done = wait_end(deploy(strategy));
  std::this_thread::sleep_for(milliseconds(300));
  load.stop();
  ASSERT_EQ(done.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << done.ShortDebugString();
  EXPECT_EQ(load.failures(), 0) << load.last_failure();
  EXPECT_GT(load.total(), 50);
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v2"));
  EXPECT_TRUE(eventually([&] { return count("v1") == 0; }));
  // The gate read HAProxy's counters of the new instances: traffic, and none of it failed.
  std::string reports;
  for (const auto& agent : agents_running_) reports += agent->log();
  EXPECT_THAT(reports, ::testing::ContainsRegex("web: 0 of [1-9][0-9]* requests failed"));
}

INSTANTIATE_TEST_SUITE_P(Strategies, StrategyE2E, ::testing::Values("canary", "blue_green"));

// kill -9 of axion-server at several points of a deployment: after a restart it still ends,
// and no instance was started twice (each release's processes are exactly its replicas).
TEST_F(DeploymentE2E, ServerKilledMidDeploymentResumesAndRunsNothingTwice) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  struct Point {
    std::string name;
    std::function<bool(const std::string& id, const std::string& version)> reached;
  };
  const std::vector<Point> points = {
      {"right after DeployProject", [](const std::string&, const std::string&) { return true; }},
      {"DEPLOYING",
       [&](const std::string& id, const std::string&) {
         return get(id).status() == v1::DEPLOYMENT_STATUS_DEPLOYING;
       }},
      {"first new instance up",
       [&](const std::string&, const std::string& v) { return count(v) >= 1; }},
      {"every new instance up",
       [&](const std::string&, const std::string& v) { return count(v) >= 3; }},
  };
  int release = 1;
  for (const auto& point : points) {
    ++release;
    const std::string version = "v" + std::to_string(release);
    const std::string previous = "v" + std::to_string(release - 1);
    publish(version);
    const std::string id = deploy();
    ASSERT_TRUE(eventually([&] { return point.reached(id, version); }, milliseconds(20000)))
        << point.name;
    server_.reset();  // kill -9
    server_ = std::make_unique<ServerProcess>(server_env_);
    httplib::Client http("127.0.0.1", http_port_);
    ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server_->log();
    const auto done = wait_end(id);
    EXPECT_EQ(done.status(), v1::DEPLOYMENT_STATUS_SUCCESS)
        << "killed at " << point.name << ": " << done.ShortDebugString();
    EXPECT_EQ(count(version), 3u) << "killed at " << point.name;
    EXPECT_TRUE(eventually([&] { return count(previous) == 0; })) << "killed at " << point.name;
    EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-" + version)) << point.name;
  }
}

}  // namespace
}  // namespace axion::testing
