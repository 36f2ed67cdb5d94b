// axion-agent against axion-server, both real processes: an agent registers with a minted
// registration token and shows ONLINE with its version and host facts; heartbeats arrive (the
// last one advances); kill -9 makes it OFFLINE, SIGSTOP makes it OFFLINE after the missed-
// heartbeat timeout; a restart brings it back ONLINE with its stored credential (no token);
// SIGTERM stops it cleanly; it rides out a server restart; revoked, it registers again with a
// new token under its id. Every wait polls with a deadline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/e2e/agent_fixture.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST_F(AgentE2E, RegistersHeartbeatsGoesOfflineAndComesBackWithItsCredential) {
  const std::string dir = scratch_dir("agent-e2e-agent");
  const std::string state_dir = dir + "/state", token_file = dir + "/token";
  const std::string token = mint_token();
  ASSERT_THAT(token, StartsWith("axr_"));
  std::ofstream(token_file) << token << "\n";

  auto agent = std::make_unique<AgentProcess>(agent_args(state_dir, token_file));
  ASSERT_GT(agent->pid(), 0);
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_ONLINE; }))
      << agent->log() << server_->log();
  const auto online = status();
  EXPECT_EQ(online.version(), "0.1.0");
  EXPECT_THAT(online.agent_id(), StartsWith("agt-"));
  EXPECT_TRUE(online.connected());
  const std::string agent_id = online.agent_id();
  ASSERT_TRUE(eventually([&] {
    const auto v = server_view();
    return v.agent_status() == v1::AGENT_STATUS_ONLINE && v.capacity().cpu_millis() > 0;
  }));
  const auto view = server_view();
  EXPECT_EQ(view.agent_version(), "0.1.0");
  EXPECT_EQ(view.agent_id(), agent_id);
  EXPECT_EQ(view.status(), v1::SERVER_STATUS_READY);
  // What the agent offers (HAProxy comes with the test dependencies; the Docker engine with
  // scripts/test, which sets AXION_REQUIRE_DOCKER=1).
  EXPECT_THAT(view.agent_runtimes(), ::testing::Contains("process"));
  EXPECT_THAT(view.agent_runtimes(), ::testing::Contains("proxy"));
  if (const char* docker = std::getenv("AXION_REQUIRE_DOCKER"); docker && *docker == '1') {
    EXPECT_THAT(view.agent_runtimes(), ::testing::Contains("compose"));
  }

  // The identity is stored for the owner only, and the token never reached the server's log.
  struct stat st {};
  ASSERT_EQ(stat((state_dir + "/agent.state").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_THAT(read_file(state_dir + "/agent.state"), HasSubstr("agent_id=" + agent_id));
  EXPECT_THAT(read_file(state_dir + "/agent.state"), HasSubstr("credential=axc_"));
  EXPECT_THAT(server_->log(), Not(HasSubstr(token)));

  // Heartbeats: the last one advances, with the host's load.
  ASSERT_TRUE(eventually([&] { return status().has_last_heartbeat_at(); }));
  const auto first = status().last_heartbeat_at();
  ASSERT_TRUE(eventually([&] { return status().last_heartbeat_at().seconds() * 1000000000LL +
                                          status().last_heartbeat_at().nanos() >
                                      first.seconds() * 1000000000LL + first.nanos(); }));
  EXPECT_GT(status().load().memory_total_mb(), 0u);
  EXPECT_GT(status().load().disk_total_mb(), 0u);

  // kill -9: the stream breaks and the agent is OFFLINE.
  agent->signal(SIGKILL);
  EXPECT_EQ(agent->wait_exit(milliseconds(10000)), 128 + SIGKILL);
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_OFFLINE; }))
      << server_->log();
  EXPECT_FALSE(status().connected());
  EXPECT_EQ(server_view().status(), v1::SERVER_STATUS_UNREACHABLE);

  // Restarted without its token: the stored credential brings it back as the same agent.
  std::filesystem::remove(token_file);
  agent = std::make_unique<AgentProcess>(agent_args(state_dir, ""));
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_ONLINE; }))
      << agent->log();
  EXPECT_EQ(status().agent_id(), agent_id);
  EXPECT_THAT(agent->log(), HasSubstr("connected as agent " + agent_id));

  // Frozen (no heartbeats, the connection still open): OFFLINE after the missed-heartbeat
  // timeout; thawed, it reconnects and is ONLINE again.
  agent->signal(SIGSTOP);
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_OFFLINE; }))
      << server_->log();
  EXPECT_THAT(status().reason(), HasSubstr("no heartbeat for " + std::to_string(kOfflineAfterMs)));
  agent->signal(SIGCONT);
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_ONLINE; }))
      << agent->log();

  // SIGTERM: a clean exit, and the ended stream makes it OFFLINE.
  agent->signal(SIGTERM);
  EXPECT_EQ(agent->wait_exit(milliseconds(10000)), 0) << agent->log();
  EXPECT_THAT(agent->log(), HasSubstr("axion-agent stopped"));
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_OFFLINE; }));
  EXPECT_EQ(status().reason(), "agent stream ended");
}

TEST_F(AgentE2E, TheAgentRidesOutAServerRestart) {
  const std::string dir = scratch_dir("agent-e2e-restart");
  std::ofstream(dir + "/token") << mint_token();
  AgentProcess agent(agent_args(dir + "/state", dir + "/token"));
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_ONLINE; }))
      << agent.log();
  const std::string agent_id = status().agent_id();
  httplib::Client http("127.0.0.1", http_port_);
  ASSERT_TRUE(eventually([&] {
    auto metrics = http.Get("/metrics");
    return metrics && metrics->body.find("axion_agents_connected 1\n") != std::string::npos;
  }));

  // A graceful stop ends the agent streams (recording them OFFLINE) instead of hanging on them.
  server_->signal(SIGTERM);
  ASSERT_EQ(server_->wait_exit(milliseconds(20000)), 0) << server_->log();
  EXPECT_THAT(server_->log(), HasSubstr("offline: axion-server stopped"));

  // Back on the same data: the agent reconnects by itself, as the same agent, ONLINE.
  server_ = std::make_unique<ServerProcess>(server_env_);
  ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server_->log();
  ASSERT_TRUE(eventually([&] {
    const auto s = status();
    return s.status() == v1::AGENT_STATUS_ONLINE && s.connected();
  })) << agent.log() << server_->log();
  EXPECT_EQ(status().agent_id(), agent_id);
}

TEST_F(AgentE2E, AfterAServerCrashItsAgentsThatDoNotReturnAreMarkedOffline) {
  const std::string dir = scratch_dir("agent-e2e-crash");
  std::ofstream(dir + "/token") << mint_token();
  auto gone = std::make_unique<AgentProcess>(agent_args(dir + "/state", dir + "/token"));
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_ONLINE; }))
      << gone->log();

  // kill -9 of the server: nobody records the stream's end. The agent dies before it could
  // reconnect (the server is down), so it never comes back.
  server_->signal(SIGKILL);
  server_->wait_exit(milliseconds(10000));
  gone.reset();
  server_ = std::make_unique<ServerProcess>(server_env_);
  httplib::Client http("127.0.0.1", http_port_);
  ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server_->log();
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_OFFLINE; }))
      << server_->log();
  EXPECT_THAT(status().reason(), HasSubstr("did not reconnect"));

  // An agent that does come back after a crash stays ONLINE past the sweep.
  AgentProcess back(agent_args(dir + "/state", ""));
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_ONLINE; }))
      << back.log();
  server_->signal(SIGKILL);
  server_->wait_exit(milliseconds(10000));
  server_ = std::make_unique<ServerProcess>(server_env_);
  ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server_->log();
  ASSERT_TRUE(eventually([&] { return status().connected(); })) << back.log();
  std::this_thread::sleep_for(milliseconds(kOfflineAfterMs * 2));
  EXPECT_EQ(status().status(), v1::AGENT_STATUS_ONLINE) << status().reason();
  EXPECT_TRUE(status().connected());
}

TEST_F(AgentE2E, ARevokedAgentRegistersAgainWithANewTokenUnderItsId) {
  const std::string dir = scratch_dir("agent-e2e-revoke");
  const std::string state_file = dir + "/state/agent.state";
  std::ofstream(dir + "/token") << mint_token();
  auto agent = std::make_unique<AgentProcess>(agent_args(dir + "/state", dir + "/token"));
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_ONLINE; }))
      << agent->log();
  const std::string agent_id = status().agent_id();
  const std::string first_identity = read_file(state_file);

  v1::RevokeAgentCredentialsRequest revoke;
  revoke.set_cluster_id(cluster_id_);
  revoke.set_server_id(server_id_);
  revoke.set_reason("rotating");
  v1::RevokeAgentCredentialsResponse revoked;
  ASSERT_TRUE(call([&](auto* c) { return infra_->RevokeAgentCredentials(c, revoke, &revoked); })
                  .ok());
  // Revocation ends its stream at once; its credential is refused from then on.
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_OFFLINE; }));
  EXPECT_EQ(status().reason(), "agent credentials revoked");
  ASSERT_TRUE(eventually([&] { return agent->log().find("revoked") != std::string::npos; }));
  EXPECT_EQ(status().status(), v1::AGENT_STATUS_OFFLINE);

  // A new token registers it again, under the same id, with a new credential.
  std::ofstream(dir + "/token.new") << mint_token();
  std::filesystem::rename(dir + "/token.new", dir + "/token");
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_ONLINE; }))
      << agent->log() << server_->log();
  EXPECT_EQ(status().agent_id(), agent_id);
  EXPECT_THAT(agent->log(), HasSubstr("revoked"));
  EXPECT_THAT(agent->log(), HasSubstr("registering again"));
  EXPECT_NE(read_file(state_file), first_identity);  // a new credential
}

}  // namespace
}  // namespace axion::testing
