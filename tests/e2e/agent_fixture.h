// The agent end-to-end tests' fixture: an axion-agent process (flags, captured stderr), and
// one axion-server (embedded, short missed-heartbeat timeout) with a cluster and a server in
// it, API and bare agent-stream clients, and polling with a deadline.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <dirent.h>
#include <sys/stat.h>

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "axion/v1/agent.grpc.pb.h"
#include "axion/v1/infrastructure.grpc.pb.h"
#include "tests/e2e/server_process.h"
#include "tests/integration/log_backends.h"

namespace axion::testing {

namespace v1 = axion::v1;

inline const std::string kApiToken = "tester-token-0123456789";
inline constexpr int kOfflineAfterMs = 1500;

inline bool eventually(const std::function<bool()>& condition,
                       milliseconds timeout = milliseconds(30000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return condition();
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Pids of the live (not zombie) processes whose command line contains `needle`.
inline std::vector<pid_t> pids_with(const std::string& needle) {
  std::vector<pid_t> out;
  DIR* proc = opendir("/proc");
  if (!proc) return out;
  while (dirent* e = readdir(proc)) {
    const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
    if (pid <= 0) continue;
    std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
    std::replace(cmdline.begin(), cmdline.end(), '\0', ' ');
    if (cmdline.find(needle) == std::string::npos) continue;
    const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
    const auto close_paren = stat.rfind(')');
    if (close_paren == std::string::npos || close_paren + 2 >= stat.size() ||
        stat[close_paren + 2] == 'Z')
      continue;
    out.push_back(pid);
  }
  closedir(proc);
  return out;
}

// A running axion-agent with its flags; stderr goes to a file.
class AgentProcess {
 public:
  // `env` ("NAME=value") is set on top of this process's environment.
  explicit AgentProcess(std::vector<std::string> args, std::vector<std::string> env = {}) {
    log_path_ = scratch_dir("agent-log") + "/stderr.log";
    env.emplace_back("LOG_FORMAT=text");
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      const auto name = kv.substr(0, kv.find('=') + 1);
      if (std::none_of(env.begin(), env.end(), [&](const std::string& o) {
            return o.compare(0, name.size(), name) == 0;
          })) {
        env.push_back(kv);
      }
    }
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
    data_dir_ = scratch_dir("agent-e2e-data");
    server_env_ = {
        "AXION_DATA_DIR=" + data_dir_,
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

  void TearDown() override {
    server_.reset();  // killed before its data goes
    remove_scratch_dir(data_dir_);
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
  std::string data_dir_;
  int http_port_ = 0, grpc_port_ = 0;
  std::unique_ptr<ServerProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::InfrastructureService::Stub> infra_;
  std::unique_ptr<v1::AgentService::Stub> agents_;
  std::string cluster_id_, server_id_;
};


}  // namespace axion::testing
