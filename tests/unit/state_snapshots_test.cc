// Aggregate snapshots (commands/state_snapshots.h): every field of a folded state survives the
// round trip through its snapshot message, corrupt snapshots are refused, and a restored
// aggregate decides exactly as the folded one.
#include <gtest/gtest.h>

#include "commands/aggregate_kinds.h"
#include "commands/state_snapshots.h"
#include "tests/unit/project_test_support.h"

namespace axion::commands {
namespace {

namespace v1 = axion::v1;
using testing::ProjectHarness;

DeploymentInfo full_deployment(const std::string& id, std::uint64_t ordinal) {
  DeploymentInfo d;
  d.deployment_id = id;
  d.environment = "staging";
  d.status = v1::DEPLOYMENT_STATUS_DEPLOYING;
  d.graph_version = 3;
  d.strategy.mutable_canary()->add_weights(10);
  d.strategy.mutable_canary()->add_weights(100);
  d.options.set_auto_rollback(true);
  d.options.set_supersede(true);
  d.strategy_kind = StrategyKind::kCanary;
  d.rollback_of = "dep-old";
  d.rollback_target = "dep-older";
  d.superseded_by = "dep-new";
  d.requested_by = "alice";
  d.created_at_ms = 1'700'000'000'123;
  d.ordinal = ordinal;
  d.current_step = 2;
  d.paused = true;
  d.cancel_requested = true;
  d.has_snapshot = true;
  d.terminal = false;
  return d;
}

ProjectState full_project() {
  ProjectState s;
  s.exists = true;
  s.project_id = "proj-1";
  s.name = "shop";
  s.owner = "team-a";
  s.version = 42;
  s.latest_graph_version = 3;
  s.graphs[1] = {"sha256:aa", ""};
  s.graphs[3] = {"sha256:cc", "0123abcd"};
  s.deployments["dep-1"] = full_deployment("dep-1", 1);
  s.deployments["dep-2"] = full_deployment("dep-2", 2);
  s.deployments["dep-2"].strategy_kind = StrategyKind::kBlueGreen;
  s.deployments["dep-2"].terminal = true;
  s.active_by_environment["staging"] = "dep-1";
  s.successes_by_environment["production"] = {"dep-0", "dep-2"};
  s.deployments_requested = 2;
  return s;
}

ClusterState full_cluster() {
  ClusterState c;
  c.exists = true;
  c.deleted = true;
  c.cluster_id = "c-12";
  c.name = "prod";
  c.description = "production";
  c.labels["tier"] = "gold";
  c.kind = v1::CLUSTER_KIND_SERVERS;
  c.version = 17;
  ServerState s;
  s.server_id = "srv-1";
  s.name = "web-1";
  s.host = "10.0.0.5";
  s.port = 2222;
  s.ssh_user = "deploy";
  s.auth_kind = v1::SSH_AUTH_KIND_PRIVATE_KEY;
  s.credential.set_key_id("kek-1");
  s.credential.set_nonce(std::string(12, '\x01'));
  s.credential.set_ciphertext(std::string("\x00\xff\x10", 3));
  s.host_key_fingerprint = "SHA256:abc";
  s.host_key_algorithm = "ssh-ed25519";
  s.status = v1::SERVER_STATUS_READY;
  s.labels["zone"] = "a";
  s.capacity = {4000, 8192, 100000};
  s.tested = true;
  s.last_report.set_reachable(true);
  s.created_by = "bob";
  s.agent_status = v1::AGENT_STATUS_ONLINE;
  s.agent_id = "agent-1";
  s.agent_version = "1.2.3";
  s.agent_runtimes = {"process", "compose"};
  s.agent_status_reason = "heartbeat";
  s.install.install_id = "inst-1";
  s.install.running = true;
  s.install.agent_version = "1.2.3";
  s.install.requested_by = "bob";
  s.install.last_step = v1::AGENT_INSTALL_STEP_UPLOAD_BINARY;
  s.install.last_outcome = v1::INSTALL_STEP_OUTCOME_SUCCEEDED;
  s.install.failed_step = v1::AGENT_INSTALL_STEP_CONNECT;
  s.install.failure_reason = "timeout";
  s.registration_token = {std::string(64, 'a'), 1'700'000'360'000, true, false};
  s.agent_credential = {std::string(64, 'b'), 0, false, true};
  s.agent_session = "sess-1";
  s.version = 9;
  c.servers["srv-1"] = s;
  s.server_id = "srv-2";
  s.host = "10.0.0.6";
  c.servers["srv-2"] = s;
  return c;
}

TEST(StateSnapshots, EveryProjectFieldSurvivesTheRoundTrip) {
  const ProjectState state = full_project();
  v1::ProjectSnapshot message;
  ASSERT_TRUE(message.ParseFromString(to_snapshot(state).SerializeAsString()));
  auto restored = from_snapshot(message);
  ASSERT_TRUE(restored.ok()) << restored.status().to_string();
  EXPECT_EQ(*restored, state);
  // And a change anywhere is seen (the comparison is not vacuous).
  ProjectState changed = state;
  changed.deployments["dep-1"].current_step = 3;
  EXPECT_FALSE(*from_snapshot(to_snapshot(changed)) == state);
}

TEST(StateSnapshots, EveryClusterFieldSurvivesTheRoundTrip) {
  const ClusterState state = full_cluster();
  v1::ClusterSnapshot message;
  ASSERT_TRUE(message.ParseFromString(to_snapshot(state).SerializeAsString()));
  auto restored = from_snapshot(message);
  ASSERT_TRUE(restored.ok()) << restored.status().to_string();
  EXPECT_EQ(*restored, state);
  ClusterState changed = state;
  changed.servers["srv-2"].install.failure_reason = "other";
  EXPECT_FALSE(*from_snapshot(to_snapshot(changed)) == state);
}

TEST(StateSnapshots, CorruptSnapshotsAreDataLoss) {
  v1::ProjectSnapshot twice = to_snapshot(full_project());
  *twice.add_deployments() = twice.deployments(0);
  EXPECT_EQ(from_snapshot(twice).status().code(), StatusCode::kDataLoss);
  v1::ProjectSnapshot strategy = to_snapshot(full_project());
  strategy.mutable_deployments(0)->set_strategy_kind(7);
  EXPECT_EQ(from_snapshot(strategy).status().code(), StatusCode::kDataLoss);
  v1::ClusterSnapshot servers = to_snapshot(full_cluster());
  *servers.add_servers() = servers.servers(0);
  EXPECT_EQ(from_snapshot(servers).status().code(), StatusCode::kDataLoss);

  auto state = project_kind().empty_state();
  EXPECT_EQ(state->restore("\xff\xff\xff not a snapshot").code(), StatusCode::kDataLoss);
}

// A restored aggregate is the folded one: same snapshot bytes, same decisions.
TEST(StateSnapshots, ARestoredAggregateDecidesAsTheFoldedOne) {
  ProjectHarness h;
  h.registered_with_graph();
  ASSERT_TRUE(h.run(testing::deploy_command("production"), "cmd-deploy-1").ok());

  auto folded = project_kind().empty_state();
  for (const auto& e : h.log) folded->evolve(e);
  auto restored = project_kind().empty_state();
  ASSERT_TRUE(restored->restore(folded->snapshot()).ok());
  EXPECT_EQ(restored->snapshot(), folded->snapshot());

  // The running deployment blocks a second one in either state, with the same refusal.
  google::protobuf::Any deploy;
  deploy.PackFrom(testing::deploy_command("production"));
  const auto ctx = testing::context("cmd-deploy-2");
  auto a = folded->decide(deploy, ctx);
  auto b = restored->decide(deploy, ctx);
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.status().code(), b.status().code());
  EXPECT_EQ(a.status().message(), b.status().message());
  // A deploy to another environment is accepted by both with identical events.
  deploy.PackFrom(testing::deploy_command("staging"));
  a = folded->decide(deploy, ctx);
  b = restored->decide(deploy, ctx);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->events.size(), b->events.size());
  for (std::size_t i = 0; i < a->events.size(); ++i) {
    EXPECT_EQ(a->events[i].SerializeAsString(), b->events[i].SerializeAsString());
  }
}

TEST(StateSnapshots, FoldVersionsAreDeclaredPerKind) {
  EXPECT_EQ(project_kind().fold_version(), kProjectFoldVersion);
  EXPECT_EQ(cluster_kind().fold_version(), kClusterFoldVersion);
  EXPECT_NE(project_kind().name(), cluster_kind().name());
}

}  // namespace
}  // namespace axion::commands
