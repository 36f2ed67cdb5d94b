// Tests of the Project aggregate's project commands (RegisterProject, PublishGraph), the command
// dispatcher, derive_id, and the fold: saga status events, unknown events, replay determinism.
// Deployment commands are tested in deployment_commands_test.cc.
#include "commands/project_aggregate.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "axion/v1/infrastructure.pb.h"
#include "commands/content_hash.h"
#include "project_test_support.h"

namespace axion::commands {
namespace {

using testing::context;
using testing::expect_refused;
using testing::fold;
using testing::graph_command;
using testing::ProjectHarness;
using testing::unpack;
namespace v1 = axion::v1;

v1::RegisterProject registration(const std::string& name = "shop") {
  v1::RegisterProject r;
  r.set_project_id("proj-1");
  r.set_name(name);
  r.set_description("The shop.\nAll of it.");
  r.set_repository_url("https://github.com/acme/shop.git");
  (*r.mutable_labels())["team"] = "payments";
  return r;
}

TEST(RegisterProject, RegistersAndDefaultsTheOwnerToTheActor) {
  ProjectHarness h;
  auto r = h.run(registration(), "cmd-1", "alice");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->events.size(), 1u);
  const auto e = unpack<v1::ProjectRegistered>(r->events[0]);
  EXPECT_EQ(e.project_id(), "proj-1");
  EXPECT_EQ(e.name(), "shop");
  EXPECT_EQ(e.owner(), "alice");
  EXPECT_EQ(e.labels().at("team"), "payments");
  EXPECT_EQ(r->ids.at("project_id"), "proj-1");
  EXPECT_TRUE(h.state.exists);
  EXPECT_EQ(h.state.owner, "alice");
  EXPECT_EQ(h.state.version, 1u);
}

TEST(RegisterProject, RefusesAnExistingProject) {
  ProjectHarness h;
  ASSERT_TRUE(h.run(registration(), "cmd-1").ok());
  expect_refused(h.run(registration("other"), "cmd-2"), StatusCode::kAlreadyExists);
  EXPECT_EQ(h.log.size(), 1u);
}

TEST(RegisterProject, RefusesHostileNames) {
  const std::vector<std::string> hostile = {"a;rm -rf /", "$(x)",        "shop\nprod",
                                            std::string(64, 's'), "caf\xc3\xa9", "",
                                            "Shop",               "-shop"};
  for (const std::string& bad : hostile) {
    ProjectHarness h;
    expect_refused(h.run(registration(bad), "cmd-1"), StatusCode::kInvalidArgument, "name");
    EXPECT_TRUE(h.log.empty());
  }
}

TEST(RegisterProject, RefusesBadFields) {
  struct Case {
    std::function<void(v1::RegisterProject&)> edit;
    std::string field;
  };
  const std::vector<Case> cases = {
      {[](auto& r) { r.set_project_id(""); }, "project_id"},
      {[](auto& r) { r.set_project_id("p 1"); }, "project_id"},
      {[](auto& r) { r.set_project_id(std::string(129, 'p')); }, "project_id"},
      {[](auto& r) { r.set_owner("bob smith"); }, "owner"},
      {[](auto& r) { r.set_description(std::string("x\x1b[2J", 5)); }, "description"},
      {[](auto& r) { r.set_description(std::string(4097, 'd')); }, "description"},
      {[](auto& r) { r.set_repository_url("file:///etc/passwd"); }, "repository_url"},
      {[](auto& r) { r.set_repository_url("https://x y"); }, "repository_url"},
      {[](auto& r) { r.set_repository_url("https://"); }, "repository_url"},
      {[](auto& r) { (*r.mutable_labels())["a b"] = "x"; }, "labels['a b']"},
      {[](auto& r) { (*r.mutable_labels())["k"] = "x\ny\r"; }, "labels['k']"},
  };
  for (const auto& c : cases) {
    ProjectHarness h;
    auto r = registration();
    c.edit(r);
    expect_refused(h.run(r, "cmd-1"), StatusCode::kInvalidArgument, c.field);
  }
  ProjectHarness h;
  auto r = registration();
  r.set_repository_url("git@github.com:acme/shop.git");
  EXPECT_TRUE(h.run(r, "cmd-1").ok());
}

TEST(RegisterProject, NeedsAnOwnerOrAnActor) {
  ProjectHarness h;
  expect_refused(h.run(registration(), "cmd-1", ""), StatusCode::kInvalidArgument, "owner");
}

TEST(PublishGraph, RefusesAnUnknownProject) {
  ProjectHarness h;
  auto r = h.run(graph_command({"api"}), "cmd-1");
  expect_refused(r, StatusCode::kNotFound);
  EXPECT_NE(r.status().message().find("'proj-1'"), std::string::npos);
}

TEST(PublishGraph, NumbersVersionsFromOneAndRecordsThePublish) {
  ProjectHarness h;
  ASSERT_TRUE(h.run(registration(), "cmd-1").ok());
  auto r = h.run(graph_command({"api", "worker"}, "abcdef1"), "cmd-2", "bob");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  ASSERT_EQ(r->events.size(), 1u);
  const auto g = unpack<v1::GraphPublished>(r->events[0]).graph();
  EXPECT_EQ(g.project_id(), "proj-1");
  EXPECT_EQ(g.version(), 1u);
  EXPECT_EQ(g.services_size(), 2);
  EXPECT_EQ(g.commit_hash(), "abcdef1");
  EXPECT_EQ(g.published_by(), "bob");
  EXPECT_EQ(g.published_at().seconds(), 1'700'000'000);
  EXPECT_EQ(g.published_at().nanos(), 123'000'000);
  EXPECT_EQ(g.content_hash(), graph_content_hash(g.services(), g.edges()));
  EXPECT_EQ(r->ids.at("graph_version"), "1");
  EXPECT_EQ(r->ids.at("content_hash"), g.content_hash());
  ASSERT_TRUE(h.run(graph_command({"api"}), "cmd-3").ok());
  EXPECT_EQ(h.state.latest_graph_version, 2u);
  EXPECT_EQ(h.state.graphs.size(), 2u);
}

TEST(PublishGraph, AnIdenticalRepublishOfTheLatestAppendsNothing) {
  ProjectHarness h;
  ASSERT_TRUE(h.run(registration(), "cmd-1").ok());
  ASSERT_TRUE(h.run(graph_command({"api"}, "abcdef1"), "cmd-2").ok());
  auto same = h.run(graph_command({"api"}, "abcdef1"), "cmd-3");
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->events.empty());
  EXPECT_EQ(same->ids.at("graph_version"), "1");
  // Same content from another commit: a new version (the commit is part of the record).
  auto other_commit = h.run(graph_command({"api"}, "abcdef2"), "cmd-4");
  ASSERT_TRUE(other_commit.ok());
  EXPECT_EQ(other_commit->ids.at("graph_version"), "2");
  ASSERT_TRUE(h.run(graph_command({"api", "db"}, "abcdef3"), "cmd-5").ok());
  // Back to an older graph: a new version 4, not a pointer to 2.
  auto back = h.run(graph_command({"api"}, "abcdef2"), "cmd-6");
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->ids.at("graph_version"), "4");
}

TEST(PublishGraph, RefusesAnInvalidGraphWithItsField) {
  ProjectHarness h;
  ASSERT_TRUE(h.run(registration(), "cmd-1").ok());
  expect_refused(h.run(graph_command({"api", "a;rm -rf /"}), "cmd-2"),
                 StatusCode::kInvalidArgument, "services[1].name");
  auto g = graph_command({"api"});
  g.set_project_id("proj-2");
  expect_refused(h.run(g, "cmd-3"), StatusCode::kInvalidArgument, "project_id");
  EXPECT_EQ(h.state.latest_graph_version, 0u);
}

TEST(DecideProjectCommand, DispatchesOnThePayloadType) {
  ProjectState empty;
  google::protobuf::Any any;
  any.PackFrom(registration());
  auto r = decide_project_command(empty, any, context("cmd-1"));
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->events.size(), 1u);
  any.PackFrom(v1::LogPosition());
  expect_refused(decide_project_command(empty, any, context("cmd-2")),
                 StatusCode::kInvalidArgument);
  EXPECT_TRUE(is_project_command("axion.v1.DeployProject"));
  EXPECT_TRUE(is_project_command("axion.v1.PauseDeployment"));
  EXPECT_FALSE(is_project_command("axion.v1.CreateCluster"));
}

TEST(DeriveId, IsDeterministicPerCommand) {
  EXPECT_EQ(derive_id("dep", "cmd-1"), derive_id("dep", "cmd-1"));
  EXPECT_NE(derive_id("dep", "cmd-1"), derive_id("dep", "cmd-2"));
  const std::string id = derive_id("dep", "cmd-1");
  ASSERT_EQ(id.size(), 24u);
  EXPECT_EQ(id.substr(0, 4), "dep-");
  EXPECT_EQ(id.find_first_not_of("0123456789abcdef", 4), std::string::npos);
  // A retried command decides the same events, byte for byte.
  ProjectHarness h;
  h.registered_with_graph();
  v1::DeployProject c;
  c.set_environment("production");
  auto a = decide(h.state, c, context("cmd-deploy"));
  auto b = decide(h.state, c, context("cmd-deploy"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->ids.at("deployment_id"), derive_id("dep", "cmd-deploy"));
  ASSERT_EQ(a->events.size(), b->events.size());
  EXPECT_EQ(a->events[0].SerializeAsString(), b->events[0].SerializeAsString());
}

TEST(Evolve, FollowsTheSagasStatusEventsToATerminalStatus) {
  ProjectHarness h;
  h.registered_with_graph();
  const std::string a = h.deploy("production", "cmd-a");
  EXPECT_EQ(h.state.deployments.at(a).status, v1::DEPLOYMENT_STATUS_PENDING);
  EXPECT_EQ(h.state.active_by_environment.at("production"), a);
  h.status(a, v1::DEPLOYMENT_STATUS_BUILDING);
  EXPECT_EQ(h.state.deployments.at(a).status, v1::DEPLOYMENT_STATUS_BUILDING);
  h.status(a, v1::DEPLOYMENT_STATUS_SUCCESS);  // reported twice: as a change and as the event
  h.succeed(a);
  const auto& d = h.state.deployments.at(a);
  EXPECT_TRUE(d.terminal);
  EXPECT_EQ(d.status, v1::DEPLOYMENT_STATUS_SUCCESS);
  EXPECT_FALSE(h.state.active_by_environment.contains("production"));
  EXPECT_EQ(h.state.successes_by_environment.at("production"), std::vector<std::string>{a});
  h.status(a, v1::DEPLOYMENT_STATUS_DEPLOYING);  // a late report cannot revive it
  EXPECT_EQ(h.state.deployments.at(a).status, v1::DEPLOYMENT_STATUS_SUCCESS);

  const std::string b = h.deploy("production", "cmd-b");
  h.fail(b);
  EXPECT_EQ(h.state.deployments.at(b).status, v1::DEPLOYMENT_STATUS_FAILED);
  const std::string c = h.deploy("production", "cmd-c");
  v1::DeploymentCancelled cancelled;
  cancelled.set_deployment_id(c);
  h.event(cancelled);
  EXPECT_EQ(h.state.deployments.at(c).status, v1::DEPLOYMENT_STATUS_CANCELLED);
  EXPECT_TRUE(h.state.active_by_environment.empty());
  v1::DeploymentSnapshotted snap;
  snap.mutable_snapshot()->set_deployment_id(a);
  h.event(snap);
  EXPECT_TRUE(h.state.deployments.at(a).has_snapshot);
}

TEST(Evolve, IgnoresUnknownEventTypesButCountsThem) {
  ProjectHarness h;
  h.registered_with_graph();
  ProjectState before = h.state;
  v1::ClusterCreated foreign;  // not a project event: as unknown as a future type
  h.event(foreign);
  before.version += 1;
  EXPECT_EQ(h.state, before);
  google::protobuf::Any future;
  future.set_type_url("type.googleapis.com/axion.v9.SomethingNew");
  future.set_value("\x0a\x03xyz");
  ProjectState next = evolve(h.state, future);
  EXPECT_EQ(next.version, h.state.version + 1);
}

TEST(Evolve, ReplayOfTheLogReproducesTheState) {
  ProjectHarness h;
  h.registered_with_graph();
  ASSERT_TRUE(h.run(graph_command({"api"}, "abcdef1"), "cmd-graph-2").ok());
  const std::string a = h.deploy("production", "cmd-a");
  h.succeed(a);
  const std::string b = h.deploy("production", "cmd-b");
  h.succeed(b);
  h.deploy("staging", "cmd-s");
  v1::DeployProject c;
  c.set_environment("staging");
  c.mutable_options()->set_supersede(true);
  ASSERT_TRUE(h.run(c, "cmd-s2").ok());
  v1::RollbackDeployment rb;
  rb.set_deployment_id(b);
  ASSERT_TRUE(h.run(rb, "cmd-rb").ok());
  v1::CancelDeployment cancel;
  cancel.set_deployment_id(derive_id("dep", "cmd-rb"));
  ASSERT_TRUE(h.run(cancel, "cmd-cancel").ok());

  EXPECT_EQ(fold(h.log), h.state);
  EXPECT_EQ(fold(h.log), fold(h.log));
  // Through envelopes, with the event time taken from occurred_at.
  ProjectState via_envelopes;
  for (const auto& e : h.log) {
    v1::EventEnvelope env;
    *env.mutable_payload() = e;
    env.mutable_occurred_at()->set_seconds(1'700'000'000);
    env.mutable_occurred_at()->set_nanos(123'000'000);
    via_envelopes = evolve(std::move(via_envelopes), env);
  }
  EXPECT_EQ(via_envelopes, h.state);
  EXPECT_EQ(h.state.version, h.log.size());
  EXPECT_EQ(h.state.deployments.at(a).created_at_ms, 1'700'000'000'123);
}

}  // namespace
}  // namespace axion::commands
