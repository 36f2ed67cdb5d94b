// Cluster aggregate, cluster level: CreateCluster / UpdateCluster / DeleteCluster and their
// refusals, the Any dispatcher, event streams and versions, replay determinism and derive_id.
// Server commands: cluster_server_test.cc; agent commands and the saga's events:
// cluster_agent_test.cc; the input validators: cluster_validators_test.cc.
#include <gtest/gtest.h>

#include "cluster_test_support.h"

namespace axion::commands::testing {
namespace {

TEST(CreateCluster, EmitsClusterCreatedAndReturnsTheId) {
  auto cmd = create_cluster();
  const auto d = decide(ClusterState{}, cmd, ctx());
  const auto ev = only_event<v1::ClusterCreated>(d);
  EXPECT_EQ(ev.cluster_id(), "c-12");
  EXPECT_EQ(ev.name(), "prod");
  EXPECT_EQ(ev.description(), "production");
  EXPECT_EQ(ev.labels().at("tier"), "gold");
  EXPECT_EQ(ev.kind(), v1::CLUSTER_KIND_SERVERS);  // UNSPECIFIED is recorded as what it means
  EXPECT_EQ(d->ids.at("cluster_id"), "c-12");

  const ClusterState s = fold({}, d->events);
  EXPECT_TRUE(s.exists);
  EXPECT_FALSE(s.deleted);
  EXPECT_EQ(s.cluster_id, "c-12");
  EXPECT_EQ(s.name, "prod");
  EXPECT_EQ(s.labels.at("tier"), "gold");
  EXPECT_EQ(s.version, 1u);
}

TEST(CreateCluster, DerivesTheIdFromTheCommandIdWhenNoneIsGiven) {
  auto cmd = create_cluster("");
  const auto a = decide(ClusterState{}, cmd, ctx("cmd-7"));
  const auto b = decide(ClusterState{}, cmd, ctx("cmd-7"));
  const auto c = decide(ClusterState{}, cmd, ctx("cmd-8"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->ids.at("cluster_id"), derive_id("cls", "cmd-7"));
  EXPECT_EQ(a->ids.at("cluster_id"), b->ids.at("cluster_id"));
  EXPECT_NE(a->ids.at("cluster_id"), c->ids.at("cluster_id"));
  EXPECT_REFUSED(decide(ClusterState{}, cmd, ctx("")), StatusCode::kInvalidArgument, "command_id");
}

TEST(CreateCluster, RefusedWhenTheClusterExistsOrWasDeleted) {
  History h = with_cluster();
  EXPECT_REFUSED(decide(h.state, create_cluster(), ctx("again")), StatusCode::kAlreadyExists, "");
  v1::DeleteCluster del;
  del.set_cluster_id("c-12");
  h.step(del, ctx("delete"));
  EXPECT_REFUSED(decide(h.state, create_cluster(), ctx("again")), StatusCode::kAlreadyExists, "");
  // A state loaded for another cluster means the command was misrouted.
  EXPECT_REFUSED(decide(with_cluster().state, create_cluster("c-99"), ctx("x")),
                 StatusCode::kInvalidArgument, "cluster_id");
}

TEST(CreateCluster, RefusesNamesThatAreNotDnsLabels) {
  for (const std::string& name :
       std::vector<std::string>{"", "Prod", "-prod", "prod-", "pr_od", "pr.od", "a b",
                                "a;rm -rf /", "$(x)", "a\nb", std::string(64, 'a')}) {
    EXPECT_REFUSED(decide(ClusterState{}, create_cluster("c-1", name), ctx()),
                   StatusCode::kInvalidArgument, "name");
  }
  for (const std::string& name :
       std::vector<std::string>{"a", "prod-2", "0", std::string(63, 'z')}) {
    EXPECT_TRUE(decide(ClusterState{}, create_cluster("c-1", name), ctx()).ok()) << name;
  }
}

TEST(CreateCluster, RefusesUnboundedOrHostileFields) {
  auto labels = create_cluster();
  for (int i = 0; i < 65; ++i) (*labels.mutable_labels())["k" + std::to_string(i)] = "v";
  EXPECT_REFUSED(decide(ClusterState{}, labels, ctx()), StatusCode::kInvalidArgument, "labels");
  for (const std::string& key :
       std::vector<std::string>{"", " x", "a;b", "-a", "a\n", std::string(64, 'k')}) {
    auto cmd = create_cluster();
    (*cmd.mutable_labels())[key] = "v";
    EXPECT_REFUSED(decide(ClusterState{}, cmd, ctx()), StatusCode::kInvalidArgument, "labels");
  }
  for (const std::string& value :
       std::vector<std::string>{"two\nlines", std::string(256, 'v')}) {
    auto cmd = create_cluster();
    (*cmd.mutable_labels())["k"] = value;
    EXPECT_REFUSED(decide(ClusterState{}, cmd, ctx()), StatusCode::kInvalidArgument, "labels[k]");
  }
  auto desc = create_cluster();
  desc.set_description(std::string(1025, 'd'));
  EXPECT_REFUSED(decide(ClusterState{}, desc, ctx()), StatusCode::kInvalidArgument, "description");
  desc.set_description("bell\a");
  EXPECT_REFUSED(decide(ClusterState{}, desc, ctx()), StatusCode::kInvalidArgument, "description");
  auto kind = create_cluster();
  kind.set_kind(static_cast<v1::ClusterKind>(42));
  EXPECT_REFUSED(decide(ClusterState{}, kind, ctx()), StatusCode::kInvalidArgument, "kind");
  EXPECT_REFUSED(decide(ClusterState{}, create_cluster("c 1"), ctx()),
                 StatusCode::kInvalidArgument, "cluster_id");
}

v1::UpdateCluster update(std::string name, std::vector<std::string> mask = {}) {
  v1::UpdateCluster u;
  u.set_cluster_id("c-12");
  u.set_name(std::move(name));
  u.set_description("production");
  (*u.mutable_labels())["tier"] = "platinum";
  for (auto& p : mask) u.mutable_update_mask()->add_paths(p);
  return u;
}

TEST(UpdateCluster, RecordsTheFullNewValues) {
  History h = with_cluster();
  const auto d = h.step(update("prod-eu"), ctx("u1"));
  const auto ev = only_event<v1::ClusterUpdated>(d);
  EXPECT_EQ(ev.name(), "prod-eu");
  EXPECT_EQ(ev.description(), "production");
  EXPECT_EQ(ev.labels().at("tier"), "platinum");
  EXPECT_EQ(h.state.name, "prod-eu");
  EXPECT_EQ(h.state.labels.at("tier"), "platinum");
  EXPECT_EQ(h.state.version, 2u);
}

TEST(UpdateCluster, TheMaskLimitsWhatChanges) {
  History h = with_cluster();
  const auto ev = only_event<v1::ClusterUpdated>(h.step(update("ignored", {"labels"}), ctx()));
  EXPECT_EQ(ev.name(), "prod");  // not in the mask: kept, and not validated
  EXPECT_EQ(ev.labels().at("tier"), "platinum");
  EXPECT_REFUSED(decide(h.state, update("x", {"kind"}), ctx()), StatusCode::kInvalidArgument,
                 "update_mask");
  EXPECT_REFUSED(decide(h.state, update("Bad Name", {"name"}), ctx()),
                 StatusCode::kInvalidArgument, "name");
  auto labels = update("prod", {"labels"});
  (*labels.mutable_labels())["$(x)"] = "v";
  EXPECT_REFUSED(decide(h.state, labels, ctx()), StatusCode::kInvalidArgument, "labels");
  auto desc = update("prod", {"description"});
  desc.set_description("a\rb");
  EXPECT_REFUSED(decide(h.state, desc, ctx()), StatusCode::kInvalidArgument, "description");
}

TEST(UpdateCluster, SameValuesAreANoOp) {
  History h = with_cluster();
  auto same = update("prod");
  (*same.mutable_labels())["tier"] = "gold";
  const auto d = decide(h.state, same, ctx());
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->events.empty());
}

TEST(UpdateCluster, RefusedForAMissingOrDeletedCluster) {
  EXPECT_REFUSED(decide(ClusterState{}, update("x"), ctx()), StatusCode::kNotFound, "");
  History h = with_cluster();
  v1::DeleteCluster del;
  del.set_cluster_id("c-12");
  h.step(del, ctx("d"));
  EXPECT_REFUSED(decide(h.state, update("x"), ctx()), StatusCode::kNotFound, "");
  auto no_id = update("x");
  no_id.clear_cluster_id();
  EXPECT_REFUSED(decide(h.state, no_id, ctx()), StatusCode::kInvalidArgument, "cluster_id");
}

TEST(DeleteCluster, DeletesAnEmptyCluster) {
  History h = with_cluster();
  v1::DeleteCluster del;
  del.set_cluster_id("c-12");
  del.set_reason("decommissioned");
  const auto ev = only_event<v1::ClusterDeleted>(h.step(del, ctx("d")));
  EXPECT_EQ(ev.reason(), "decommissioned");
  EXPECT_TRUE(h.state.deleted);
  EXPECT_REFUSED(decide(h.state, del, ctx("d2")), StatusCode::kNotFound, "");
  EXPECT_REFUSED(decide(ClusterState{}, del, ctx()), StatusCode::kNotFound, "");
  del.set_reason(std::string(1025, 'r'));
  EXPECT_REFUSED(decide(with_cluster().state, del, ctx()), StatusCode::kInvalidArgument, "reason");
  del.set_cluster_id("c;12");
  EXPECT_REFUSED(decide(with_cluster().state, del, ctx()), StatusCode::kInvalidArgument,
                 "cluster_id");
}

TEST(DeleteCluster, RefusedWhileServersExistNamingThem) {
  std::string id;
  History h = with_server(&id);
  h.step(create_server("10.0.0.6", "web-2"), ctx("s2"));
  v1::DeleteCluster del;
  del.set_cluster_id("c-12");
  const auto d = decide(h.state, del, ctx());
  EXPECT_REFUSED(d, StatusCode::kFailedPrecondition, "");
  EXPECT_NE(d.status().message().find("2 server(s)"), std::string::npos) << d.status().message();
  EXPECT_NE(d.status().message().find(id + " (web-1, 10.0.0.5:22)"), std::string::npos);
  EXPECT_NE(d.status().message().find("web-2"), std::string::npos);
}

TEST(DeleteCluster, RefusedWhileDeploymentsUseIt) {
  History h = with_cluster();
  h.state.deployments = {"dep-1", "dep-2"};  // filled by the processor from the read model
  v1::DeleteCluster del;
  del.set_cluster_id("c-12");
  const auto d = decide(h.state, del, ctx());
  EXPECT_REFUSED(d, StatusCode::kFailedPrecondition, "");
  EXPECT_NE(d.status().message().find("2 deployment(s): dep-1, dep-2"), std::string::npos)
      << d.status().message();
}

TEST(Dispatch, RoutesEveryCommandTypeAndRefusesOthers) {
  for (const char* type :
       {"axion.v1.CreateCluster", "axion.v1.UpdateCluster", "axion.v1.DeleteCluster",
        "axion.v1.CreateServer", "axion.v1.ConfigureServer", "axion.v1.TestServerConnection",
        "axion.v1.InstallAgent", "axion.v1.UninstallAgent", "axion.v1.AgentRegistered",
        "axion.v1.AgentStatusChanged"}) {
    EXPECT_TRUE(is_cluster_command(type)) << type;
  }
  EXPECT_FALSE(is_cluster_command("axion.v1.ClusterCreated"));
  google::protobuf::Any any;
  any.PackFrom(create_cluster());
  const auto ok = decide_cluster_command(ClusterState{}, any, ctx());
  EXPECT_EQ(only_event<v1::ClusterCreated>(ok).cluster_id(), "c-12");

  any.PackFrom(v1::ClusterCreated{});
  EXPECT_REFUSED(decide_cluster_command(ClusterState{}, any, ctx()), StatusCode::kUnimplemented,
                 "");
  any.set_type_url("type.googleapis.com/axion.v1.CreateCluster");
  any.set_value("\xff\xff\xff");
  EXPECT_REFUSED(decide_cluster_command(ClusterState{}, any, ctx()),
                 StatusCode::kInvalidArgument, "");
}

TEST(Evolve, IgnoresUnknownTypesAndOtherClusters) {
  History h = with_cluster();
  const ClusterState before = h.state;
  google::protobuf::Any unknown;
  unknown.set_type_url("type.googleapis.com/axion.v9.SomethingNew");
  unknown.set_value("\x08\x01");
  EXPECT_EQ(evolve(before, unknown), before);
  v1::ClusterUpdated other;
  other.set_cluster_id("c-99");
  other.set_name("hijack");
  google::protobuf::Any any;
  any.PackFrom(other);
  EXPECT_EQ(evolve(before, any), before);
}

TEST(Replay, FoldingTheEmittedEventsReproducesTheState) {
  std::string id;
  History h = with_server(&id);
  h.step(update("prod-eu"), ctx("u"));
  v1::InstallAgent install;
  install.set_server_id(id);
  h.step(install, ctx("install"));
  v1::AgentInstalled installed;
  installed.set_server_id(id);
  installed.set_cluster_id("c-12");
  installed.set_install_id(derive_id("inst", "install"));
  installed.set_agent_version("1.2.0");
  installed.set_agent_id("agent-1");
  h.happen(installed);
  v1::AgentStatusChanged offline;
  offline.set_server_id(id);
  offline.set_to_status(v1::AGENT_STATUS_OFFLINE);
  offline.set_reason("heartbeat missed for 30s");
  h.step(offline, ctx("off", "system"));

  EXPECT_EQ(fold({}, h.events), h.state);
  EXPECT_EQ(fold({}, h.events), fold({}, h.events));
  EXPECT_EQ(h.state.version, 2u);                   // ClusterCreated, ClusterUpdated
  EXPECT_EQ(h.state.servers.at(id).version, 4u);    // created, install requested/done, offline
  EXPECT_EQ(h.state.servers.at(id).status, v1::SERVER_STATUS_UNREACHABLE);
}

TEST(Replay, EnvelopesSetVersionsEvenForUnknownTypes) {
  History h = with_cluster();
  v1::EventEnvelope env;
  env.set_aggregate_type("cluster");
  env.set_aggregate_id("c-12");
  env.set_sequence(2);
  env.mutable_payload()->set_type_url("type.googleapis.com/axion.v1.ClusterRenamedV2");
  const ClusterState s = evolve(h.state, env);
  EXPECT_EQ(s.version, 2u);
  EXPECT_EQ(s.name, "prod");
  EXPECT_EQ(aggregate_version(s, "cluster", "c-12"), 2u);
  EXPECT_EQ(aggregate_version(s, "cluster", "c-13"), 0u);
}

TEST(DeriveId, IsDeterministicAndDistinct) {
  const std::string a = derive_id("srv", "cmd-1");
  EXPECT_EQ(a, derive_id("srv", "cmd-1"));
  EXPECT_NE(a, derive_id("srv", "cmd-2"));
  EXPECT_NE(a, derive_id("srv", "cmd-1", "salt"));
  ASSERT_EQ(a.size(), 4u + 20u);
  EXPECT_EQ(a.substr(0, 4), "srv-");
  EXPECT_EQ(a.find_first_not_of("0123456789abcdef", 4), std::string::npos);
  // The same CreateServer retried after a crash creates the same server id.
  std::string first, second;
  with_server(&first);
  with_server(&second);
  EXPECT_EQ(first, derive_id("srv", "create-server"));
  EXPECT_EQ(first, second);
}

TEST(EventTarget, NamesTheEnvelopeStream) {
  std::string id;
  History h = with_server(&id);
  auto cluster = event_target(h.events[0]);
  ASSERT_TRUE(cluster.ok());
  EXPECT_EQ(cluster->aggregate_type, "cluster");
  EXPECT_EQ(cluster->aggregate_id, "c-12");
  EXPECT_EQ(cluster->partition_key, "");
  auto server = event_target(h.events[1]);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(server->aggregate_type, "server");
  EXPECT_EQ(server->aggregate_id, id);
  EXPECT_EQ(server->partition_key, "c-12");
  EXPECT_EQ(aggregate_version(h.state, "server", id), 1u);
  google::protobuf::Any any;
  any.PackFrom(create_cluster());
  EXPECT_FALSE(event_target(any).ok());
}

}  // namespace
}  // namespace axion::commands::testing
