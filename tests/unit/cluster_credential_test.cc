// Cluster aggregate, agent credentials: a registration token is issued (only its hash), exchanged
// once for a long-lived credential when the agent registers, refused when wrong, reused, expired
// or revoked; a reconnect is authenticated by the credential's hash; the fold and the replay
// agree.
#include <gtest/gtest.h>

#include "cluster_test_support.h"

namespace axion::commands::testing {
namespace {

const std::string kToken(64, 'a');
const std::string kToken2(64, 'c');
const std::string kCredential(64, 'b');
constexpr std::int64_t kHour = 3600 * 1000;

v1::IssueAgentToken issue(const std::string& server_id, const std::string& hash = kToken,
                          std::int64_t ttl_s = 3600) {
  v1::IssueAgentToken c;
  c.set_server_id(server_id);
  c.set_cluster_id("c-12");
  c.set_token_hash(hash);
  c.mutable_ttl()->set_seconds(ttl_s);
  return c;
}

v1::RegisterAgent register_with(const std::string& server_id, const std::string& token = kToken,
                                const std::string& credential = kCredential) {
  v1::RegisterAgent c;
  c.set_server_id(server_id);
  c.set_cluster_id("c-12");
  c.set_token_hash(token);
  c.set_credential_hash(credential);
  c.set_version("0.1.0");
  c.add_runtimes("process");
  c.mutable_host()->set_hostname("web-1");
  c.mutable_host()->set_cpus(2);
  c.mutable_host()->set_memory_mb(4096);
  c.mutable_host()->set_disk_mb(50000);
  return c;
}

v1::ConnectAgent connect_as(const std::string& server_id, const std::string& agent_id,
                            const std::string& credential = kCredential) {
  v1::ConnectAgent c;
  c.set_server_id(server_id);
  c.set_cluster_id("c-12");
  c.set_agent_id(agent_id);
  c.set_credential_hash(credential);
  c.set_version("0.1.0");
  c.add_runtimes("process");
  c.mutable_host()->set_hostname("web-1");
  c.mutable_host()->set_cpus(2);
  c.mutable_host()->set_memory_mb(4096);
  c.mutable_host()->set_disk_mb(50000);
  return c;
}

CommandContext hub(std::string id, std::int64_t later_ms = 0) {
  CommandContext c = ctx(std::move(id), "system");
  c.now_ms += later_ms;
  return c;
}

v1::AgentStatusChanged offline(const std::string& server_id) {
  v1::AgentStatusChanged r;
  r.set_server_id(server_id);
  r.set_to_status(v1::AGENT_STATUS_OFFLINE);
  r.set_reason("heartbeat missed for 15s");
  return r;
}

// A server with a registration token issued and the agent registered with it.
History with_registered_agent(std::string* server_id, std::string* agent_id) {
  History h = with_server(server_id);
  h.step(issue(*server_id), ctx("issue"));
  const Decision d = h.step(register_with(*server_id), hub("register"));
  *agent_id = d.ids.count("agent_id") ? d.ids.at("agent_id") : "";
  return h;
}

TEST(IssueAgentToken, RecordsOnlyTheHashWithItsExpiry) {
  std::string id;
  History h = with_server(&id);
  const auto d = decide(h.state, issue(id), ctx("issue"));
  const auto ev = only_event<v1::AgentCredentialIssued>(d);
  EXPECT_EQ(ev.kind(), v1::AGENT_CREDENTIAL_KIND_REGISTRATION_TOKEN);
  EXPECT_EQ(ev.credential_hash(), kToken);
  EXPECT_EQ(ev.server_id(), id);
  EXPECT_EQ(ev.cluster_id(), "c-12");
  const std::int64_t expires = ctx().now_ms + kHour;
  EXPECT_EQ(ev.expires_at().seconds() * 1000, expires);
  EXPECT_EQ(d->ids.at("expires_at_ms"), std::to_string(expires));
  h.record(d->events);
  const ServerState& s = h.state.servers.at(id);
  EXPECT_EQ(s.registration_token, (AgentCredentialState{kToken, expires, false, false}));
  EXPECT_EQ(fold({}, h.events), h.state);
}

TEST(IssueAgentToken, Refusals) {
  std::string id;
  History h = with_server(&id);
  EXPECT_REFUSED(decide(h.state, issue(id, "ABC"), ctx()), StatusCode::kInvalidArgument,
                 "token_hash");
  EXPECT_REFUSED(decide(h.state, issue(id, std::string(64, 'A')), ctx()),
                 StatusCode::kInvalidArgument, "token_hash");
  EXPECT_REFUSED(decide(h.state, issue(id, kToken, 0), ctx()), StatusCode::kInvalidArgument,
                 "ttl");
  EXPECT_REFUSED(decide(h.state, issue(id, kToken, 8 * 24 * 3600), ctx()),
                 StatusCode::kInvalidArgument, "ttl");
  EXPECT_REFUSED(decide(h.state, issue("srv-none"), ctx()), StatusCode::kNotFound, "");
  h.step(issue(id), ctx("issue"));
  EXPECT_REFUSED(decide(h.state, issue(id), ctx()), StatusCode::kAlreadyExists, "");
}

TEST(RegisterAgent, ExchangesTheTokenForACredentialAndGoesOnline) {
  std::string id;
  History h = with_server(&id);
  h.step(issue(id), ctx("issue"));
  const auto d = decide(h.state, register_with(id), hub("register"));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  ASSERT_EQ(d->events.size(), 3u);
  v1::AgentCredentialIssued issued;
  v1::AgentRegistered registered;
  v1::AgentStatusChanged online;
  ASSERT_TRUE(d->events[0].UnpackTo(&issued));
  ASSERT_TRUE(d->events[1].UnpackTo(&registered));
  ASSERT_TRUE(d->events[2].UnpackTo(&online));
  const std::string agent_id = d->ids.at("agent_id");
  EXPECT_EQ(agent_id, derive_id("agt", "register"));  // a retried command names the same agent
  EXPECT_EQ(issued.kind(), v1::AGENT_CREDENTIAL_KIND_LONG_LIVED);
  EXPECT_EQ(issued.credential_hash(), kCredential);
  EXPECT_EQ(issued.agent_id(), agent_id);
  EXPECT_FALSE(issued.has_expires_at());
  EXPECT_EQ(registered.version(), "0.1.0");
  EXPECT_EQ(registered.runtimes(0), "process");
  EXPECT_EQ(online.from_status(), v1::AGENT_STATUS_UNKNOWN);
  EXPECT_EQ(online.to_status(), v1::AGENT_STATUS_ONLINE);
  h.record(d->events);
  const ServerState& s = h.state.servers.at(id);
  EXPECT_EQ(s.agent_status, v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(s.agent_id, agent_id);
  EXPECT_EQ(s.agent_runtimes, std::vector<std::string>{"process"});
  EXPECT_TRUE(s.registration_token.used);
  EXPECT_EQ(s.agent_credential.hash, kCredential);
  EXPECT_EQ(s.status, v1::SERVER_STATUS_READY);
  EXPECT_EQ(fold({}, h.events), h.state);
}

TEST(RegisterAgent, AReusedTokenIsRefused) {
  std::string id, agent;
  History h = with_registered_agent(&id, &agent);
  h.step(offline(id), hub("off"));
  const auto again = decide(h.state, register_with(id, kToken, kToken2), hub("register-2"));
  EXPECT_REFUSED(again, StatusCode::kUnauthenticated, "");
  EXPECT_NE(again.status().message().find("already used"), std::string::npos)
      << again.status().message();
}

TEST(RegisterAgent, WrongMissingExpiredAndRevokedTokensAreRefused) {
  std::string id;
  History h = with_server(&id);
  const auto none = decide(h.state, register_with(id), hub("r1"));
  EXPECT_REFUSED(none, StatusCode::kUnauthenticated, "");
  EXPECT_NE(none.status().message().find("CreateAgentRegistrationToken"), std::string::npos);
  h.step(issue(id), ctx("issue"));
  EXPECT_REFUSED(decide(h.state, register_with(id, kToken2), hub("r2")),
                 StatusCode::kUnauthenticated, "");
  const auto expired = decide(h.state, register_with(id), hub("r3", kHour));
  EXPECT_REFUSED(expired, StatusCode::kUnauthenticated, "");
  EXPECT_NE(expired.status().message().find("expired"), std::string::npos);
  EXPECT_TRUE(decide(h.state, register_with(id), hub("r4", kHour - 1)).ok());
  // A newer token replaces the older one.
  h.step(issue(id, kToken2), ctx("issue-2"));
  EXPECT_REFUSED(decide(h.state, register_with(id, kToken), hub("r5")),
                 StatusCode::kUnauthenticated, "");
  v1::RevokeAgentCredentials revoke;
  revoke.set_server_id(id);
  revoke.set_reason("token leaked");
  h.step(revoke, ctx("revoke"));
  EXPECT_REFUSED(decide(h.state, register_with(id, kToken2), hub("r6")),
                 StatusCode::kPermissionDenied, "");
  EXPECT_REFUSED(decide(h.state, register_with(id, kToken2, "xyz"), hub("r7")),
                 StatusCode::kInvalidArgument, "credential_hash");
  EXPECT_EQ(fold({}, h.events), h.state);
}

TEST(RegisterAgent, OnlyTheAgentHubMayRegister) {
  std::string id;
  History h = with_server(&id);
  h.step(issue(id), ctx("issue"));
  EXPECT_REFUSED(decide(h.state, register_with(id), ctx("r", "alice")),
                 StatusCode::kPermissionDenied, "");
  EXPECT_REFUSED(decide(h.state, connect_as(id, "agt-1"), ctx("c", "agent:agt-1")),
                 StatusCode::kPermissionDenied, "");
}

TEST(ConnectAgent, TheCredentialBringsTheAgentBackOnline) {
  std::string id, agent;
  History h = with_registered_agent(&id, &agent);
  // Already online: nothing changes.
  const auto same = decide(h.state, connect_as(id, agent), hub("c0"));
  ASSERT_TRUE(same.ok()) << same.status().to_string();
  EXPECT_TRUE(same->events.empty());
  h.step(offline(id), hub("off"));
  const auto back = only_event<v1::AgentStatusChanged>(
      decide(h.state, connect_as(id, agent), hub("c1")));
  EXPECT_EQ(back.from_status(), v1::AGENT_STATUS_OFFLINE);
  EXPECT_EQ(back.to_status(), v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(back.reason(), "agent reconnected");
  // An upgraded agent also records its new facts.
  v1::ConnectAgent upgraded = connect_as(id, agent);
  upgraded.set_version("0.2.0");
  const auto d = decide(h.state, upgraded, hub("c2"));
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  ASSERT_EQ(d->events.size(), 2u);
  EXPECT_TRUE(d->events[0].Is<v1::AgentRegistered>());
  EXPECT_TRUE(d->events[1].Is<v1::AgentStatusChanged>());
  h.record(d->events);
  EXPECT_EQ(h.state.servers.at(id).agent_version, "0.2.0");
  EXPECT_EQ(h.state.servers.at(id).agent_status, v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(fold({}, h.events), h.state);
}

TEST(ConnectAgent, WrongAgentWrongCredentialAndRevokedAreRefused) {
  std::string id, agent;
  History h = with_registered_agent(&id, &agent);
  h.step(offline(id), hub("off"));
  EXPECT_REFUSED(decide(h.state, connect_as(id, "agt-other"), hub("c1")),
                 StatusCode::kUnauthenticated, "");
  EXPECT_REFUSED(decide(h.state, connect_as(id, agent, kToken2), hub("c2")),
                 StatusCode::kUnauthenticated, "");
  // The registration token is not a credential.
  EXPECT_REFUSED(decide(h.state, connect_as(id, agent, kToken), hub("c3")),
                 StatusCode::kUnauthenticated, "");
  v1::RevokeAgentCredentials revoke;
  revoke.set_server_id(id);
  revoke.set_reason("decommissioned");
  const auto revoked = only_event<v1::AgentCredentialRevoked>(decide(h.state, revoke, ctx("rv")));
  EXPECT_EQ(revoked.agent_id(), agent);
  EXPECT_EQ(revoked.revoked_by(), "alice");
  h.step(revoke, ctx("rv"));
  EXPECT_TRUE(h.state.servers.at(id).agent_credential.revoked);
  EXPECT_REFUSED(decide(h.state, connect_as(id, agent), hub("c4")),
                 StatusCode::kPermissionDenied, "");
  // Nothing left to revoke.
  EXPECT_REFUSED(decide(h.state, revoke, ctx("rv2")), StatusCode::kFailedPrecondition, "");
  // A new token registers the agent again, and the new credential is live.
  h.step(issue(id, kToken2), ctx("issue-2"));
  h.step(register_with(id, kToken2, std::string(64, 'd')), hub("register-2"));
  EXPECT_FALSE(h.state.servers.at(id).agent_credential.revoked);
  EXPECT_EQ(fold({}, h.events), h.state);
}

TEST(AgentSessions, AnOfflineFromAReplacedStreamIsStale) {
  std::string id, agent;
  History h = with_server(&id);
  h.step(issue(id), ctx("issue"));
  auto reg = register_with(id);
  reg.set_session_id("sess-a");
  const Decision registered = h.step(reg, hub("register"));
  agent = registered.ids.at("agent_id");
  EXPECT_EQ(h.state.servers.at(id).agent_session, "sess-a");
  // The agent reconnects through another stream (maybe another axion-server) before the first
  // stream's end is reported: ONLINE -> ONLINE records the new stream.
  auto again = connect_as(id, agent);
  again.set_session_id("sess-b");
  const auto moved = only_event<v1::AgentStatusChanged>(decide(h.state, again, hub("c-b")));
  EXPECT_EQ(moved.from_status(), v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(moved.to_status(), v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(moved.session_id(), "sess-b");
  EXPECT_EQ(moved.reason(), "agent reconnected on a new stream");
  h.step(again, hub("c-b"));
  // The same stream again changes nothing.
  const auto same = decide(h.state, again, hub("c-b2"));
  ASSERT_TRUE(same.ok());
  EXPECT_TRUE(same->events.empty());
  // The old stream's OFFLINE is stale; the current one's is recorded.
  auto old_off = offline(id);
  old_off.set_session_id("sess-a");
  const auto stale = decide(h.state, old_off, hub("off-a"));
  ASSERT_TRUE(stale.ok()) << stale.status().to_string();
  EXPECT_TRUE(stale->events.empty());
  auto cur_off = offline(id);
  cur_off.set_session_id("sess-b");
  const auto off = only_event<v1::AgentStatusChanged>(decide(h.state, cur_off, hub("off-b")));
  EXPECT_EQ(off.to_status(), v1::AGENT_STATUS_OFFLINE);
  h.step(cur_off, hub("off-b"));
  EXPECT_EQ(fold({}, h.events), h.state);
}

TEST(AgentOnlyServer, IsCreatedWithoutSshSettingsAndRegistersWithAToken) {
  History h = with_cluster();
  auto cmd = create_server();
  cmd.set_auth_kind(v1::SSH_AUTH_KIND_UNSPECIFIED);
  cmd.clear_credential();
  const Decision created = h.step(cmd, ctx("create-server"));
  const std::string id = created.ids.at("server_id");
  // SSH work is refused, saying what to do instead.
  v1::TestServerConnection test;
  test.set_server_id(id);
  const auto no_ssh = decide(h.state, test, ctx());
  EXPECT_REFUSED(no_ssh, StatusCode::kFailedPrecondition, "");
  EXPECT_NE(no_ssh.status().message().find("CreateAgentRegistrationToken"), std::string::npos);
  v1::InstallAgent install;
  install.set_server_id(id);
  EXPECT_REFUSED(decide(h.state, install, ctx()), StatusCode::kFailedPrecondition, "");
  // A credential without an auth kind is still refused.
  auto half = create_server("10.0.0.9", "web-9");
  half.set_auth_kind(v1::SSH_AUTH_KIND_UNSPECIFIED);
  EXPECT_REFUSED(decide(h.state, half, ctx("c2")), StatusCode::kInvalidArgument, "auth_kind");
  h.step(issue(id), ctx("issue"));
  h.step(register_with(id), hub("register"));
  EXPECT_EQ(h.state.servers.at(id).agent_status, v1::AGENT_STATUS_ONLINE);
}

}  // namespace
}  // namespace axion::commands::testing
