// RecordDeploymentProgress: how the Project aggregate checks what the deployment saga records
// (only the saga, only this deployment, only forward, nothing after the end).
#include <gtest/gtest.h>

#include <string>

#include "commands/project_aggregate.h"
#include "project_test_support.h"

namespace axion::commands {
namespace {

using testing::expect_refused;
using testing::pack;
using testing::ProjectHarness;
namespace v1 = axion::v1;

struct Progress : ::testing::Test {
  ProjectHarness h;
  std::string id;
  void SetUp() override {
    h.registered_with_graph();
    id = h.deploy("production", "cmd-deploy");
  }
  v1::DeploymentStatusChanged change(v1::DeploymentStatus from, v1::DeploymentStatus to) {
    v1::DeploymentStatusChanged e;
    e.set_deployment_id(id);
    e.set_project_id("proj-1");
    e.set_from_status(from);
    e.set_to_status(to);
    return e;
  }
  v1::RecordDeploymentProgress record(std::initializer_list<google::protobuf::Any> events) {
    v1::RecordDeploymentProgress c;
    c.set_deployment_id(id);
    c.set_project_id("proj-1");
    for (const auto& e : events) *c.add_events() = e;
    return c;
  }
  Result<Decision> run(const v1::RecordDeploymentProgress& c, const std::string& actor = "system") {
    return h.run(c, "cmd-" + std::to_string(++n_), actor);
  }
  int n_ = 0;
};

TEST_F(Progress, SagaEventsAreAppendedAsGivenAndFolded) {
  v1::DeploymentConfigGenerated config;
  config.set_deployment_id(id);
  config.set_project_id("proj-1");
  config.mutable_config()->set_compose_hash(std::string(64, 'a'));
  auto r = run(record(
      {pack(change(v1::DEPLOYMENT_STATUS_PENDING, v1::DEPLOYMENT_STATUS_BUILDING)), pack(config),
       pack(change(v1::DEPLOYMENT_STATUS_BUILDING, v1::DEPLOYMENT_STATUS_PROVISIONING))}));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->events.size(), 3u);
  EXPECT_EQ(h.state.deployments.at(id).status, v1::DEPLOYMENT_STATUS_PROVISIONING);
  ASSERT_TRUE(run(record({pack(change(v1::DEPLOYMENT_STATUS_PROVISIONING,
                                      v1::DEPLOYMENT_STATUS_DEPLOYING))}))
                  .ok());
  // The end twice (the saga's habit): the event and the status change naming it.
  v1::DeploymentSucceeded ok;
  ok.set_deployment_id(id);
  ok.set_project_id("proj-1");
  ASSERT_TRUE(run(record({pack(ok), pack(change(v1::DEPLOYMENT_STATUS_DEPLOYING,
                                                v1::DEPLOYMENT_STATUS_SUCCESS))}))
                  .ok());
  EXPECT_TRUE(h.state.deployments.at(id).terminal);
  EXPECT_TRUE(h.state.active_by_environment.empty());
}

TEST_F(Progress, OnlyTheSagaMayRecord) {
  expect_refused(
      run(record({pack(change(v1::DEPLOYMENT_STATUS_PENDING, v1::DEPLOYMENT_STATUS_BUILDING))}),
          "alice"),
      StatusCode::kPermissionDenied);
}

TEST_F(Progress, StaleOrBackwardStatusChangesAreRefused) {
  // The saga believed it was BUILDING already: a stale decision.
  expect_refused(run(record({pack(
                     change(v1::DEPLOYMENT_STATUS_BUILDING, v1::DEPLOYMENT_STATUS_PROVISIONING))})),
                 StatusCode::kFailedPrecondition);
  // Skipping BUILDING is not a move the lifecycle has.
  expect_refused(
      run(record({pack(change(v1::DEPLOYMENT_STATUS_PENDING, v1::DEPLOYMENT_STATUS_DEPLOYING))})),
      StatusCode::kInvalidArgument, "events[0]");
  // Success only from DEPLOYING.
  v1::DeploymentSucceeded ok;
  ok.set_deployment_id(id);
  ok.set_project_id("proj-1");
  expect_refused(run(record({pack(ok)})), StatusCode::kFailedPrecondition);
}

TEST_F(Progress, EventsMustBeTheSagasAndAboutThisDeployment) {
  v1::ProjectRegistered other_type;
  other_type.set_project_id("proj-1");
  expect_refused(run(record({pack(other_type)})), StatusCode::kInvalidArgument, "events[0]");
  auto foreign = change(v1::DEPLOYMENT_STATUS_PENDING, v1::DEPLOYMENT_STATUS_BUILDING);
  foreign.set_deployment_id("dep-other");
  expect_refused(run(record({pack(foreign)})), StatusCode::kInvalidArgument, "events[0]");
  expect_refused(run(record({})), StatusCode::kInvalidArgument, "events");
  v1::RecordDeploymentProgress unknown = record({});
  unknown.set_deployment_id("dep-missing");
  *unknown.add_events() =
      pack(change(v1::DEPLOYMENT_STATUS_PENDING, v1::DEPLOYMENT_STATUS_BUILDING));
  expect_refused(run(unknown), StatusCode::kNotFound);
}

TEST_F(Progress, NothingAfterTheEnd) {
  v1::DeploymentFailed failed;
  failed.set_deployment_id(id);
  failed.set_project_id("proj-1");
  failed.set_reason("placement");
  v1::DeploymentPaused paused;
  paused.set_deployment_id(id);
  paused.set_project_id("proj-1");
  // In one record: an event after the end is refused, and nothing of the record lands.
  expect_refused(run(record({pack(failed), pack(paused)})), StatusCode::kInvalidArgument,
                 "events[1]");
  ASSERT_TRUE(run(record({pack(failed), pack(change(v1::DEPLOYMENT_STATUS_PENDING,
                                                    v1::DEPLOYMENT_STATUS_FAILED))}))
                  .ok());
  // After it: the deployment ended.
  expect_refused(run(record({pack(paused)})), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace axion::commands
