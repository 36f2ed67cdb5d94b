// Cluster aggregate, agents: TestServerConnection, InstallAgent's request (the install's steps,
// cancel and removal are in cluster_install_test.cc), agent registration and ONLINE/OFFLINE transitions (only real ones
// produce events), who may report them, and the fold of the saga's events.
#include <gtest/gtest.h>

#include "cluster_test_support.h"

namespace axion::commands::testing {
namespace {

v1::InstallAgent install(const std::string& server_id, std::string version = "") {
  v1::InstallAgent c;
  c.set_server_id(server_id);
  c.set_agent_version(std::move(version));
  return c;
}

v1::AgentRegistered registered(const std::string& server_id, std::string agent = "agent-1",
                               std::string version = "1.2.0") {
  v1::AgentRegistered r;
  r.set_server_id(server_id);
  r.set_agent_id(std::move(agent));
  r.set_version(std::move(version));
  r.add_runtimes("docker");
  r.mutable_host()->set_cpus(4);
  r.mutable_host()->set_memory_mb(8192);
  r.mutable_host()->set_disk_mb(100000);
  r.mutable_host()->set_os("debian 12");
  return r;
}

v1::AgentStatusChanged status(const std::string& server_id, v1::AgentStatus to,
                              std::string reason = "heartbeat missed for 30s") {
  v1::AgentStatusChanged r;
  r.set_server_id(server_id);
  r.set_to_status(to);
  r.set_reason(std::move(reason));
  return r;
}

// A server with agent-1 registered and ONLINE.
History with_agent(std::string* id) {
  History h = with_server(id);
  h.step(registered(*id), ctx("reg", "system"));
  return h;
}

TEST(TestServerConnection, WithoutAReportIsAcceptedWithoutEvents) {
  std::string id;
  History h = with_server(&id);
  v1::TestServerConnection t;
  t.set_server_id(id);
  t.set_pin_host_key(true);
  const auto d = decide(h.state, t, ctx());
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_TRUE(d->events.empty());
  t.set_server_id("srv-none");
  EXPECT_REFUSED(decide(h.state, t, ctx()), StatusCode::kNotFound, "");
  t.set_server_id("srv;x");
  EXPECT_REFUSED(decide(h.state, t, ctx()), StatusCode::kInvalidArgument, "server_id");
  t.set_server_id(id);
  EXPECT_REFUSED(decide(ClusterState{}, t, ctx()), StatusCode::kNotFound, "");
}

TEST(TestServerConnection, RecordsTheReportAndPinsTheFirstKeySeen) {
  std::string id;
  History h = with_server(&id);
  v1::TestServerConnection t;
  t.set_server_id(id);
  t.set_pin_host_key(true);
  auto* r = t.mutable_report();
  r->set_reachable(true);
  r->set_authenticated(true);
  r->set_arch("x86_64");
  r->set_cpu_count(4);
  r->set_memory_mb(8000);
  r->set_disk_mb(50000);
  r->set_host_key_fingerprint("SHA256:first");
  r->set_host_key_algorithm("ssh-ed25519");
  const Decision first = h.step(t, ctx("test-1"));
  ASSERT_EQ(first.events.size(), 2u);
  v1::HostKeyPinned pinned;
  ASSERT_TRUE(first.events[1].UnpackTo(&pinned));
  EXPECT_EQ(pinned.fingerprint(), "SHA256:first");
  EXPECT_EQ(pinned.algorithm(), "ssh-ed25519");
  const ServerState& s = h.state.servers.at(id);
  EXPECT_EQ(s.host_key_fingerprint, "SHA256:first");
  EXPECT_TRUE(s.tested);
  EXPECT_EQ(s.capacity.cpu_millis, 4000u);
  // Tested again: recorded, nothing pinned twice; another key is refused.
  EXPECT_EQ(h.step(t, ctx("test-2")).events.size(), 1u);
  r->set_host_key_fingerprint("SHA256:other");
  EXPECT_REFUSED(decide(h.state, t, ctx()), StatusCode::kFailedPrecondition, "");
  // Without pin_host_key nothing is pinned.
  std::string other;
  History fresh = with_server(&other);
  t.set_server_id(other);
  t.set_pin_host_key(false);
  EXPECT_EQ(fresh.step(t, ctx("test-3")).events.size(), 1u);
  EXPECT_TRUE(fresh.state.servers.at(other).host_key_fingerprint.empty());
}

TEST(InstallAgent, RecordsTheRequest) {
  std::string id;
  History h = with_server(&id);
  const auto d = h.step(install(id, "1.2.0"), ctx("install", "alice"));
  const auto ev = only_event<v1::AgentInstallRequested>(d);
  EXPECT_EQ(ev.install_id(), derive_id("inst", "install"));
  EXPECT_EQ(d.ids.at("install_id"), ev.install_id());
  EXPECT_EQ(ev.cluster_id(), "c-12");
  EXPECT_EQ(ev.agent_version(), "1.2.0");
  EXPECT_EQ(ev.requested_by(), "alice");
  const ServerState& s = h.state.servers.at(id);
  EXPECT_EQ(s.agent_status, v1::AGENT_STATUS_INSTALLING);
  EXPECT_TRUE(s.install.running);
  auto given = install(id);
  given.set_install_id("inst-gateway-1");
  EXPECT_EQ(only_event<v1::AgentInstallRequested>(decide(with_server(&id).state, given, ctx()))
                .install_id(),
            "inst-gateway-1");
}

TEST(InstallAgent, Refusals) {
  std::string id;
  History h = with_server(&id);
  EXPECT_REFUSED(decide(h.state, install("srv-none"), ctx()), StatusCode::kNotFound, "");
  EXPECT_REFUSED(decide(h.state, install(id, "1.0; curl x | sh"), ctx()),
                 StatusCode::kInvalidArgument, "agent_version");
  h.step(install(id), ctx("first"));
  const auto d = decide(h.state, install(id), ctx("second"));
  EXPECT_REFUSED(d, StatusCode::kFailedPrecondition, "");
  EXPECT_NE(d.status().message().find(derive_id("inst", "first")), std::string::npos);

  v1::AgentInstallFailed failed;
  failed.set_server_id(id);
  failed.set_cluster_id("c-12");
  failed.set_install_id(derive_id("inst", "first"));
  h.happen(failed);
  auto reused = install(id);
  reused.set_install_id(derive_id("inst", "first"));
  EXPECT_REFUSED(decide(h.state, reused, ctx("third")), StatusCode::kAlreadyExists, "");
  EXPECT_REFUSED(decide(h.state, install(id), ctx("")), StatusCode::kInvalidArgument,
                 "command_id");
  EXPECT_TRUE(decide(h.state, install(id), ctx("third")).ok());  // a retry after a failure
}

TEST(InstallAgent, ReinstallingWhatRunsIsANoOpButAnUpgradeIsNot) {
  std::string id;
  History h = with_agent(&id);
  for (const std::string& version : std::vector<std::string>{"", "1.2.0"}) {
    const auto d = decide(h.state, install(id, version), ctx("again"));
    ASSERT_TRUE(d.ok()) << d.status().to_string();
    EXPECT_TRUE(d->events.empty()) << version;
  }
  EXPECT_EQ(only_event<v1::AgentInstallRequested>(decide(h.state, install(id, "1.3.0"), ctx()))
                .agent_version(),
            "1.3.0");
}

TEST(InstallSaga, TheFoldFollowsStepsSuccessAndFailure) {
  std::string id;
  History h = with_server(&id);
  h.step(install(id, "1.2.0"), ctx("i1"));
  const std::string i1 = derive_id("inst", "i1");
  v1::AgentInstallStepCompleted step;
  step.set_server_id(id);
  step.set_cluster_id("c-12");
  step.set_install_id(i1);
  step.set_step(v1::AGENT_INSTALL_STEP_UPLOAD_BINARY);
  step.set_outcome(v1::INSTALL_STEP_OUTCOME_SUCCEEDED);
  h.happen(step);
  EXPECT_EQ(h.state.servers.at(id).install.last_step, v1::AGENT_INSTALL_STEP_UPLOAD_BINARY);
  v1::AgentInstalled done;
  done.set_server_id(id);
  done.set_cluster_id("c-12");
  done.set_install_id(i1);
  done.set_agent_version("1.2.0");
  done.set_agent_id("agent-1");
  h.happen(done);
  const ServerState& s = h.state.servers.at(id);
  EXPECT_FALSE(s.install.running);
  EXPECT_EQ(s.agent_status, v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(s.agent_id, "agent-1");
  EXPECT_EQ(s.status, v1::SERVER_STATUS_READY);

  h.step(install(id, "1.3.0"), ctx("i2"));
  v1::AgentInstallFailed failed;
  failed.set_server_id(id);
  failed.set_cluster_id("c-12");
  failed.set_install_id(i1);  // a stale attempt's report changes nothing but the sequence
  h.happen(failed);
  EXPECT_TRUE(h.state.servers.at(id).install.running);
  failed.set_install_id(derive_id("inst", "i2"));
  failed.set_step(v1::AGENT_INSTALL_STEP_CHECK_REQUIREMENTS);
  failed.set_reason("systemd not found");
  h.happen(failed);
  const ServerState& f = h.state.servers.at(id);
  EXPECT_FALSE(f.install.running);
  EXPECT_EQ(f.install.failed_step, v1::AGENT_INSTALL_STEP_CHECK_REQUIREMENTS);
  EXPECT_EQ(f.install.failure_reason, "systemd not found");
  EXPECT_EQ(f.agent_status, v1::AGENT_STATUS_FAILED);
  EXPECT_EQ(f.status, v1::SERVER_STATUS_ERROR);
  EXPECT_EQ(f.version, 7u);  // created, 2 requests, step, installed, 2 failures
  EXPECT_EQ(fold({}, h.events), h.state);
}

TEST(AgentRegistered, RecordsTheAgentOnceAndRepeatsAreNoOps) {
  std::string id;
  History h = with_server(&id);
  const auto ev = only_event<v1::AgentRegistered>(h.step(registered(id), ctx("r", "system")));
  EXPECT_EQ(ev.cluster_id(), "c-12");  // filled in by the aggregate
  const ServerState& s = h.state.servers.at(id);
  EXPECT_EQ(s.agent_id, "agent-1");
  EXPECT_EQ(s.agent_status, v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(s.status, v1::SERVER_STATUS_READY);
  EXPECT_EQ(s.capacity, (Capacity{4000, 8192, 100000}));
  EXPECT_EQ(s.agent_runtimes, std::vector<std::string>{"docker"});
  const auto again = decide(h.state, registered(id), ctx("r2", "agent:agent-1"));
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_TRUE(again->events.empty());
  EXPECT_EQ(only_event<v1::AgentRegistered>(decide(h.state, registered(id, "agent-1", "1.3.0"),
                                                   ctx("r3", "system")))
                .version(),
            "1.3.0");
}

TEST(AgentRegistered, Refusals) {
  std::string id;
  History h = with_agent(&id);
  EXPECT_REFUSED(decide(h.state, registered(id), ctx("r", "alice")),
                 StatusCode::kPermissionDenied, "");
  EXPECT_REFUSED(decide(h.state, registered(id), ctx("r", "agent:agent-2")),
                 StatusCode::kPermissionDenied, "");
  EXPECT_REFUSED(decide(h.state, registered(id, "agent 1"), ctx("r", "system")),
                 StatusCode::kInvalidArgument, "agent_id");
  EXPECT_REFUSED(decide(h.state, registered("srv-none"), ctx("r", "system")),
                 StatusCode::kNotFound, "");
  EXPECT_REFUSED(decide(h.state, registered(id, "agent-1", "1.2.0\n"), ctx("r", "system")),
                 StatusCode::kInvalidArgument, "version");
  auto runtime = registered(id);
  runtime.add_runtimes("rm -rf");
  EXPECT_REFUSED(decide(h.state, runtime, ctx("r", "system")), StatusCode::kInvalidArgument,
                 "runtimes[1]");
  auto elsewhere = registered(id);
  elsewhere.set_cluster_id("c-13");
  EXPECT_REFUSED(decide(h.state, elsewhere, ctx("r", "system")), StatusCode::kInvalidArgument,
                 "cluster_id");
  auto facts = registered(id);
  facts.mutable_host()->set_os("debian\x1b[31m");
  EXPECT_REFUSED(decide(h.state, facts, ctx("r", "system")), StatusCode::kInvalidArgument,
                 "host.os");
  // A second agent may not take over a server whose agent is online.
  EXPECT_REFUSED(decide(h.state, registered(id, "agent-2"), ctx("r", "system")),
                 StatusCode::kFailedPrecondition, "");
  h.step(status(id, v1::AGENT_STATUS_OFFLINE), ctx("off", "system"));
  EXPECT_TRUE(decide(h.state, registered(id, "agent-2"), ctx("r", "system")).ok());
}

TEST(AgentStatus, OnlyRealTransitionsProduceEvents) {
  std::string id;
  History h = with_agent(&id);
  const auto same = decide(h.state, status(id, v1::AGENT_STATUS_ONLINE, "ok"), ctx("s", "system"));
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->events.empty());  // ONLINE -> ONLINE

  const auto ev = only_event<v1::AgentStatusChanged>(
      h.step(status(id, v1::AGENT_STATUS_OFFLINE), ctx("off", "system")));
  EXPECT_EQ(ev.from_status(), v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(ev.to_status(), v1::AGENT_STATUS_OFFLINE);
  EXPECT_EQ(ev.agent_id(), "agent-1");
  EXPECT_EQ(ev.reason(), "heartbeat missed for 30s");
  EXPECT_EQ(h.state.servers.at(id).status, v1::SERVER_STATUS_UNREACHABLE);
  EXPECT_EQ(h.state.servers.at(id).agent_status_reason, "heartbeat missed for 30s");

  const auto again = decide(h.state, status(id, v1::AGENT_STATUS_OFFLINE), ctx("o2", "system"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->events.empty());  // OFFLINE -> OFFLINE

  h.step(status(id, v1::AGENT_STATUS_ONLINE, "reconnected"), ctx("on", "agent:agent-1"));
  EXPECT_EQ(h.state.servers.at(id).agent_status, v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(h.state.servers.at(id).status, v1::SERVER_STATUS_READY);
  EXPECT_EQ(fold({}, h.events), h.state);
}

TEST(AgentStatus, ARestartedHubClosesOnlyTheStreamsItsEarlierRunLeftOpen) {
  std::string id;
  History h = with_agent(&id);
  const auto sys = ctx("s", "system");
  h.step(status(id, v1::AGENT_STATUS_OFFLINE), sys);
  auto online = status(id, v1::AGENT_STATUS_ONLINE, "connected");
  online.set_session_id("i1:boot1:abc");
  h.step(online, sys);
  ASSERT_EQ(h.state.servers.at(id).agent_session, "i1:boot1:abc");
  auto orphan = status(id, v1::AGENT_STATUS_OFFLINE, "its axion-server stopped");
  orphan.set_hub_instance("i1");
  // Another instance's hub, or this instance's current run: not orphaned, nothing recorded.
  orphan.set_hub_boot("boot1");
  EXPECT_TRUE(decide(h.state, orphan, sys)->events.empty());
  auto other = orphan;
  other.set_hub_instance("i2");
  other.set_hub_boot("boot9");
  EXPECT_TRUE(decide(h.state, other, sys)->events.empty());
  // This instance's earlier run opened it: OFFLINE, naming that session.
  orphan.set_hub_boot("boot2");
  const auto ev = only_event<v1::AgentStatusChanged>(h.step(orphan, sys));
  EXPECT_EQ(ev.to_status(), v1::AGENT_STATUS_OFFLINE);
  EXPECT_EQ(ev.session_id(), "i1:boot1:abc");
  EXPECT_TRUE(ev.hub_instance().empty());
  EXPECT_EQ(h.state.servers.at(id).agent_status, v1::AGENT_STATUS_OFFLINE);
  // Only OFFLINE may name a hub, and its ids are checked.
  auto bad = status(id, v1::AGENT_STATUS_ONLINE, "x");
  bad.set_hub_instance("i1");
  bad.set_hub_boot("boot3");
  EXPECT_REFUSED(decide(h.state, bad, sys), StatusCode::kInvalidArgument, "hub_instance");
  orphan.set_hub_boot("b;oot");
  EXPECT_REFUSED(decide(h.state, orphan, sys), StatusCode::kInvalidArgument, "hub_boot");
}

TEST(AgentStatus, Refusals) {
  std::string id;
  History h = with_agent(&id);
  const auto sys = ctx("s", "system");
  EXPECT_REFUSED(decide(h.state, status(id, v1::AGENT_STATUS_INSTALLING), sys),
                 StatusCode::kInvalidArgument, "to_status");
  EXPECT_REFUSED(decide(h.state, status(id, v1::AGENT_STATUS_OFFLINE, ""), sys),
                 StatusCode::kInvalidArgument, "reason");
  EXPECT_REFUSED(decide(h.state, status(id, v1::AGENT_STATUS_OFFLINE), ctx("s", "mallory")),
                 StatusCode::kPermissionDenied, "");
  EXPECT_REFUSED(decide(h.state, status(id, v1::AGENT_STATUS_OFFLINE), ctx("s", "agent:agent-9")),
                 StatusCode::kPermissionDenied, "");
  auto wrong = status(id, v1::AGENT_STATUS_OFFLINE);
  wrong.set_agent_id("agent-9");
  EXPECT_REFUSED(decide(h.state, wrong, sys), StatusCode::kFailedPrecondition, "");
  EXPECT_REFUSED(decide(h.state, status("srv-none", v1::AGENT_STATUS_OFFLINE), sys),
                 StatusCode::kNotFound, "");
  std::string bare;
  const History no_agent = with_server(&bare);
  EXPECT_REFUSED(decide(no_agent.state, status(bare, v1::AGENT_STATUS_ONLINE), sys),
                 StatusCode::kFailedPrecondition, "");  // no agent registered
  v1::AgentUninstalled gone;
  gone.set_server_id(id);
  gone.set_cluster_id("c-12");
  h.happen(gone);
  EXPECT_REFUSED(decide(h.state, status(id, v1::AGENT_STATUS_ONLINE, "back"), sys),
                 StatusCode::kFailedPrecondition, "");
}

TEST(ConnectionTest, TheFoldRecordsReportsHostKeysAndCredentials) {
  std::string id;
  History h = with_server(&id);
  v1::ServerConnectionTested tested;
  tested.set_server_id(id);
  tested.set_cluster_id("c-12");
  tested.mutable_report()->set_reachable(true);
  tested.mutable_report()->set_authenticated(true);
  tested.mutable_report()->set_cpu_count(2);
  tested.mutable_report()->set_memory_mb(4096);
  h.happen(tested);
  EXPECT_EQ(h.state.servers.at(id).status, v1::SERVER_STATUS_REACHABLE);
  EXPECT_EQ(h.state.servers.at(id).capacity.cpu_millis, 2000u);
  tested.mutable_report()->set_authenticated(false);
  h.happen(tested);
  EXPECT_EQ(h.state.servers.at(id).status, v1::SERVER_STATUS_ERROR);
  tested.mutable_report()->set_reachable(false);
  h.happen(tested);
  EXPECT_EQ(h.state.servers.at(id).status, v1::SERVER_STATUS_UNREACHABLE);
  v1::HostKeyPinned pinned;
  pinned.set_server_id(id);
  pinned.set_cluster_id("c-12");
  pinned.set_fingerprint("SHA256:abc");
  pinned.set_algorithm("ssh-ed25519");
  h.happen(pinned);
  EXPECT_EQ(h.state.servers.at(id).host_key_fingerprint, "SHA256:abc");
  v1::AgentCredentialIssued issued;
  issued.set_server_id(id);
  issued.set_cluster_id("c-12");
  const ServerState before = h.state.servers.at(id);
  h.happen(issued);
  EXPECT_EQ(h.state.servers.at(id).version, before.version + 1);  // takes a sequence, no more
  EXPECT_EQ(fold({}, h.events), h.state);
}

}  // namespace
}  // namespace axion::commands::testing
