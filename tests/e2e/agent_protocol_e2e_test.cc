// The agent protocol's edges, through bare gRPC streams: a newer stream replaces an older one
// (whose end then records nothing), wrong, reused and revoked tokens and credentials, a first
// message that is not a Hello, an unknown server, a token shown only once; and the TLS agent
// listener with a self-signed certificate, and its start-up checks.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "tests/e2e/agent_fixture.h"
#include "tests/e2e/tls_cert.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

TEST_F(AgentE2E, ANewerStreamReplacesTheOlderWhichThenCannotMarkItOffline) {
  struct Open {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ServerMessage>> stream;
    v1::AgentWelcome welcome;
  };
  const auto open = [&](const std::string& token, const std::string& agent_id) {
    auto o = std::make_unique<Open>();
    o->stream = agents_->Connect(&o->ctx);
    v1::AgentMessage m;
    m.mutable_hello()->set_server_id(server_id_);
    m.mutable_hello()->set_token(token);
    m.mutable_hello()->set_agent_id(agent_id);
    m.mutable_hello()->set_version("1.0.0");
    o->stream->Write(m);
    v1::ServerMessage reply;
    if (o->stream->Read(&reply)) o->welcome = reply.welcome();
    return o;
  };
  auto first = open(mint_token(), "");
  ASSERT_FALSE(first->welcome.credential().empty());
  const std::string agent_id = first->welcome.agent_id();
  auto second = open(first->welcome.credential(), agent_id);
  ASSERT_EQ(second->welcome.agent_id(), agent_id);
  // The first stream is ended by the server...
  v1::ServerMessage ignored;
  EXPECT_FALSE(first->stream->Read(&ignored));
  const grpc::Status replaced = first->stream->Finish();
  EXPECT_EQ(replaced.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_THAT(replaced.error_message(), HasSubstr("replaced"));
  // ...and its end does not make the agent OFFLINE: the second stream is its connection.
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_ONLINE; }));
  v1::AgentMessage beat;
  beat.mutable_heartbeat()->set_memory_total_mb(1234);
  ASSERT_TRUE(second->stream->Write(beat));
  ASSERT_TRUE(eventually([&] { return status().load().memory_total_mb() == 1234; }));
  EXPECT_EQ(status().status(), v1::AGENT_STATUS_ONLINE);
  EXPECT_TRUE(status().connected());
  // Ending the current stream does.
  second->stream->WritesDone();
  second->stream->Finish();
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_OFFLINE; }));
}

TEST_F(AgentE2E, RefusesWrongReusedAndRevokedTokensAndCredentials) {
  // A wrong token, a token for an unknown server, a first message that is not a Hello.
  mint_token();
  const auto wrong = hello("axr_not-the-token");
  EXPECT_EQ(wrong.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(wrong.status.error_message(), HasSubstr("not valid"));
  v1::AgentMessage unknown;
  unknown.mutable_hello()->set_server_id("3f2504e0-4f89-41d3-9a0c-0305e82c3301");
  unknown.mutable_hello()->set_token("axr_x");
  EXPECT_EQ(say(unknown).status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  v1::AgentMessage beat;
  beat.mutable_heartbeat()->set_cpu_percent(1);
  const auto no_hello = say(beat);
  EXPECT_EQ(no_hello.status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(no_hello.status.error_message(), HasSubstr("Hello"));
  EXPECT_EQ(status().status(), v1::AGENT_STATUS_UNKNOWN);  // none of that recorded anything

  // A token is shown once: the same idempotency key does not show it again.
  const std::string token = mint_token("mint-1");
  v1::CreateAgentRegistrationTokenRequest again;
  again.set_cluster_id(cluster_id_);
  again.set_server_id(server_id_);
  v1::CreateAgentRegistrationTokenResponse resp;
  const auto retried = call(
      [&](auto* c) { return infra_->CreateAgentRegistrationToken(c, again, &resp); }, "mint-1");
  EXPECT_EQ(retried.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_TRUE(resp.token().empty());

  // Registration: Welcome with a credential; runtimes and version reach the views.
  const auto registered = hello(token, "", {"process", "compose"});
  ASSERT_TRUE(registered.welcome.agent_id().size()) << registered.status.error_message();
  EXPECT_THAT(registered.welcome.credential(), StartsWith("axc_"));
  EXPECT_EQ(registered.welcome.server_id(), server_id_);
  EXPECT_EQ(registered.welcome.cluster_id(), cluster_id_);
  EXPECT_EQ(registered.welcome.heartbeat_interval().nanos(), 200 * 1000000);
  ASSERT_TRUE(eventually([&] {
    const auto v = server_view();
    return v.agent_runtimes_size() == 2 && v.agent_version() == "9.9.9";
  }));
  EXPECT_EQ(server_view().agent_runtimes(0), "process");
  EXPECT_EQ(server_view().agent_runtimes(1), "compose");
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_OFFLINE; }));

  // The token is spent.
  const auto reused = hello(token, "", {"process"});
  EXPECT_EQ(reused.status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_THAT(reused.status.error_message(), HasSubstr("already used"));
  EXPECT_TRUE(reused.welcome.credential().empty());

  // The credential: a wrong one is refused, the right one admitted without a new credential.
  const std::string agent_id = registered.welcome.agent_id();
  EXPECT_EQ(hello("axc_wrong", agent_id).status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  const auto back = hello(registered.welcome.credential(), agent_id, {"process", "compose"});
  EXPECT_EQ(back.welcome.agent_id(), agent_id) << back.status.error_message();
  EXPECT_TRUE(back.welcome.credential().empty());

  // Revoked: PERMISSION_DENIED, saying what to do.
  v1::RevokeAgentCredentialsRequest revoke;
  revoke.set_cluster_id(cluster_id_);
  revoke.set_server_id(server_id_);
  revoke.set_reason("host decommissioned");
  v1::RevokeAgentCredentialsResponse revoked;
  ASSERT_TRUE(call([&](auto* c) { return infra_->RevokeAgentCredentials(c, revoke, &revoked); })
                  .ok());
  const auto denied = hello(registered.welcome.credential(), agent_id, {"process", "compose"});
  EXPECT_EQ(denied.status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(denied.status.error_message(), HasSubstr("revoked"));
  EXPECT_THAT(server_->log(), Not(HasSubstr(token)));
  EXPECT_THAT(server_->log(), Not(HasSubstr(registered.welcome.credential())));
}

// The same server with a TLS listener for agents (AXION_AGENT_ADDR + certificate).
class AgentTlsE2E : public AgentE2E {
 protected:
  AgentTlsE2E() {
    const std::string dir = scratch_dir("agent-tls");
    const auto [cert, key] = self_signed_certificate();
    cert_file_ = dir + "/cert.pem";
    std::ofstream(cert_file_) << cert;
    std::ofstream(dir + "/key.pem") << key;
    agent_port_ = free_port();
    extra_env_ = {"AXION_AGENT_ADDR=127.0.0.1:" + std::to_string(agent_port_),
                  "AXION_AGENT_TLS_CERT=" + cert_file_, "AXION_AGENT_TLS_KEY=" + dir + "/key.pem"};
  }
  std::string cert_file_;
  int agent_port_ = 0;
};

TEST_F(AgentTlsE2E, AnAgentRegistersOverTlsAndPlaintextIsRefusedThere) {
  const std::string dir = scratch_dir("agent-tls-agent");
  std::ofstream(dir + "/token") << mint_token();
  AgentProcess agent({"--server", "localhost:" + std::to_string(agent_port_), "--server-id",
                      server_id_, "--state-dir", dir + "/state", "--token-file", dir + "/token",
                      "--tls-ca", cert_file_, "--backoff-min-ms", "100", "--backoff-max-ms",
                      "500"});
  ASSERT_TRUE(eventually([&] { return status().status() == v1::AGENT_STATUS_ONLINE; }))
      << agent.log() << server_->log();
  EXPECT_THAT(server_->log(), HasSubstr("agents also connect on 127.0.0.1:" +
                                        std::to_string(agent_port_) + " (TLS)"));
  // A plaintext client cannot talk to the TLS listener.
  auto plain = v1::AgentService::NewStub(grpc::CreateChannel(
      "127.0.0.1:" + std::to_string(agent_port_), grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  auto stream = plain->Connect(&ctx);
  v1::AgentMessage m;
  m.mutable_hello()->set_server_id(server_id_);
  m.mutable_hello()->set_token("axr_x");
  stream->Write(m);
  v1::ServerMessage reply;
  EXPECT_FALSE(stream->Read(&reply));
  EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST(AgentListener, PlaintextOffLoopbackIsRefusedAtStartUp) {
  ServerProcess server({"AXION_DATA_DIR=" + scratch_dir("agent-listener"),
                        "AXION_AGENT_ADDR=0.0.0.0:" + std::to_string(free_port())});
  EXPECT_EQ(server.wait_exit(milliseconds(10000)), 2);
  EXPECT_THAT(server.log(), HasSubstr("AXION_AGENT_TLS_CERT"));
}

}  // namespace
}  // namespace axion::testing
