// axion-agent against axion-server, both real processes: an agent registers with a minted
// registration token and shows ONLINE with its version and host facts; heartbeats arrive (the
// last one advances); kill -9 makes it OFFLINE, SIGSTOP makes it OFFLINE after the missed-
// heartbeat timeout; a restart brings it back ONLINE with its stored credential (no token);
// SIGTERM stops it cleanly. And the protocol's refusals, through a bare gRPC client: wrong,
// reused and revoked tokens and credentials, a first message that is not a Hello, an unknown
// server, a token shown only once. Every wait polls with a deadline.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>

#include <grpcpp/grpcpp.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <functional>

#include "axion/v1/agent.grpc.pb.h"
#include "axion/v1/infrastructure.grpc.pb.h"
#include "tests/e2e/server_process.h"
#include "tests/integration/log_backends.h"

namespace axion::testing {
namespace {

namespace v1 = axion::v1;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

const std::string kApiToken = "tester-token-0123456789";
constexpr int kOfflineAfterMs = 1500;

bool eventually(const std::function<bool()>& condition, milliseconds timeout = milliseconds(30000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return condition();
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A running axion-agent with its flags; stderr goes to a file.
class AgentProcess {
 public:
  explicit AgentProcess(std::vector<std::string> args) {
    log_path_ = scratch_dir("agent-log") + "/stderr.log";
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    env.emplace_back("LOG_FORMAT=text");
    std::vector<char*> envp;
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    std::string bin = AXION_AGENT_BIN;
    args.insert(args.begin(), bin);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    if (posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), envp.data()) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~AgentProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void signal(int sig) { kill(pid_, sig); }
  // Exit code (128 + signal if killed), or -1 if still running after `timeout`.
  int wait_exit(milliseconds timeout) {
    int code = -1;
    eventually(
        [&] {
          int status = 0;
          if (waitpid(pid_, &status, WNOHANG) != pid_) return false;
          exited_ = true;
          code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
          return true;
        },
        timeout);
    return code;
  }
  std::string log() const { return read_file(log_path_); }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string log_path_;
};

// One axion-server with a cluster and a server in it, and clients for both services.
class AgentE2E : public ::testing::Test {
 protected:
  void SetUp() override {
    http_port_ = free_port();
    grpc_port_ = free_port();
    server_env_ = {
        "AXION_DATA_DIR=" + scratch_dir("agent-e2e-data"),
        "AXION_HTTP_ADDR=127.0.0.1:" + std::to_string(http_port_),
        "AXION_GRPC_ADDR=127.0.0.1:" + std::to_string(grpc_port_),
        "AXION_API_TOKENS=tester=" + kApiToken,
        "AXION_AGENT_OFFLINE_AFTER_MS=" + std::to_string(kOfflineAfterMs),
        "AXION_AGENT_HEARTBEAT_MS=200", "LOG_FORMAT=text"};
    for (const auto& kv : extra_env_) server_env_.push_back(kv);
    server_ = std::make_unique<ServerProcess>(server_env_);
    ASSERT_GT(server_->pid(), 0);
    httplib::Client http("127.0.0.1", http_port_);
    ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server_->log();
    channel_ = grpc::CreateChannel(address(), grpc::InsecureChannelCredentials());
    infra_ = v1::InfrastructureService::NewStub(channel_);
    agents_ = v1::AgentService::NewStub(channel_);

    v1::CreateClusterRequest cluster;
    cluster.set_name("prod");
    v1::CreateClusterResponse created;
    ASSERT_TRUE(call([&](auto* c) { return infra_->CreateCluster(c, cluster, &created); }).ok());
    cluster_id_ = created.cluster_id();
    v1::CreateServerRequest server;
    server.set_cluster_id(cluster_id_);
    server.set_name("web-1");
    server.set_host("10.0.0.5");
    server.set_ssh_user("deploy");
    v1::CreateServerResponse made;
    const auto made_status = call([&](auto* c) { return infra_->CreateServer(c, server, &made); });
    ASSERT_TRUE(made_status.ok()) << made_status.error_message();
    server_id_ = made.server_id();
  }

  std::string address() const { return "127.0.0.1:" + std::to_string(grpc_port_); }

  grpc::Status call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc,
                    const std::string& idempotency_key = "") {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + kApiToken);
    if (!idempotency_key.empty()) ctx.AddMetadata("idempotency-key", idempotency_key);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return rpc(&ctx);
  }

  std::string mint_token(const std::string& key = "") {
    v1::CreateAgentRegistrationTokenRequest req;
    req.set_cluster_id(cluster_id_);
    req.set_server_id(server_id_);
    v1::CreateAgentRegistrationTokenResponse resp;
    const auto s =
        call([&](auto* c) { return infra_->CreateAgentRegistrationToken(c, req, &resp); }, key);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.token();
  }

  v1::GetAgentStatusResponse status() {
    v1::GetAgentStatusRequest req;
    req.set_server_id(server_id_);
    v1::GetAgentStatusResponse resp;
    call([&](auto* c) { return infra_->GetAgentStatus(c, req, &resp); });
    return resp;
  }

  v1::Server server_view() {
    v1::ListClusterServersRequest req;
    req.set_cluster_id(cluster_id_);
    v1::ListClusterServersResponse resp;
    call([&](auto* c) { return infra_->ListClusterServers(c, req, &resp); });
    return resp.servers_size() == 1 ? resp.servers(0) : v1::Server();
  }

  // A bare agent stream: sends `hello` first and returns the first reply, or the status the
  // server ended the stream with.
  struct Outcome {
    grpc::Status status;
    v1::AgentWelcome welcome;
  };
  Outcome say(const v1::AgentMessage& first) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    auto stream = agents_->Connect(&ctx);
    stream->Write(first);
    v1::ServerMessage reply;
    Outcome out;
    if (stream->Read(&reply) && reply.has_welcome()) out.welcome = reply.welcome();
    stream->WritesDone();
    out.status = stream->Finish();
    return out;
  }
  Outcome hello(const std::string& token, const std::string& agent_id = "",
                std::vector<std::string> runtimes = {}) {
    v1::AgentMessage m;
    m.mutable_hello()->set_server_id(server_id_);
    m.mutable_hello()->set_token(token);
    m.mutable_hello()->set_agent_id(agent_id);
    m.mutable_hello()->set_version("9.9.9");
    for (auto& r : runtimes) m.mutable_hello()->add_runtimes(r);
    return say(m);
  }

  std::vector<std::string> agent_args(const std::string& state_dir, const std::string& token_file) {
    std::vector<std::string> args = {"--server", address(), "--server-id", server_id_,
                                     "--state-dir", state_dir, "--backoff-min-ms", "100",
                                     "--backoff-max-ms", "500"};
    if (!token_file.empty()) {
      args.push_back("--token-file");
      args.push_back(token_file);
    }
    return args;
  }

  std::vector<std::string> extra_env_;  // set by a derived fixture before SetUp
  std::vector<std::string> server_env_;
  int http_port_ = 0, grpc_port_ = 0;
  std::unique_ptr<ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::InfrastructureService::Stub> infra_;
  std::unique_ptr<v1::AgentService::Stub> agents_;
  std::string cluster_id_, server_id_;
};

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
  EXPECT_TRUE(view.agent_runtimes().empty());  // no runtime yet (issue 6, part 2)

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

// A self-signed certificate for localhost / 127.0.0.1 and its key, PEM.
std::pair<std::string, std::string> self_signed_certificate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -60);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("localhost"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  for (const auto& [nid, value] : std::vector<std::pair<int, const char*>>{
           {NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1"},
           {NID_basic_constraints, "critical,CA:TRUE"},
           {NID_key_usage, "critical,digitalSignature,keyCertSign"}}) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(cert, key, EVP_sha256());
  const auto pem = [](auto write) {
    BIO* bio = BIO_new(BIO_s_mem());
    write(bio);
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio, &data);
    std::string out(data, static_cast<std::size_t>(n));
    BIO_free(bio);
    return out;
  };
  std::string cert_pem = pem([&](BIO* b) { PEM_write_bio_X509(b, cert); });
  std::string key_pem =
      pem([&](BIO* b) { PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr); });
  X509_free(cert);
  EVP_PKEY_free(key);
  return {cert_pem, key_pem};
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
