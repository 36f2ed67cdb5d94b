// The deployment end-to-end tests' fixture: one axion-server (embedded) with a cluster, two
// servers of it on this host with real axion-agents (process, proxy and — where a Docker engine
// answers — compose runtimes), a registered project, helpers to publish the test service's
// graph, deploy, wait for the end, count a release's processes in /proc, and a load generator.
#pragma once

#include <dirent.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "axion/v1/deployment.grpc.pb.h"
#include "axion/v1/project.grpc.pb.h"
#include "tests/e2e/agent_fixture.h"

namespace axion::testing {

// GET / on the published port: the body ("<version> <instance>") or "" on any failure.
inline std::string front_get(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  auto res = client.Get("/");
  return res && res->status == 200 ? res->body : "";
}

// Requests the published port in a loop until stopped; counts answers by version and failures.
class Load {
 public:
  explicit Load(int port) : port_(port), thread_([this] { run(); }) {}
  ~Load() { stop(); }
  void stop() {
    running_ = false;
    if (thread_.joinable()) thread_.join();
  }
  int failures() const { return failures_; }
  int total() const { return total_; }
  std::string last_failure() const {
    std::lock_guard lock(mu_);
    return last_failure_;
  }

 private:
  void run() {
    httplib::Client client("127.0.0.1", port_);
    client.set_connection_timeout(2);
    client.set_read_timeout(5);
    while (running_) {
      auto res = client.Get("/");
      ++total_;
      if (!res || res->status != 200) {
        ++failures_;
        std::lock_guard lock(mu_);
        last_failure_ =
            res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error());
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  int port_;
  std::atomic<bool> running_{true};
  std::atomic<int> failures_{0}, total_{0};
  mutable std::mutex mu_;
  std::string last_failure_;
  std::thread thread_;
};

class DeploymentE2E : public AgentE2E {
 protected:
  void SetUp() override {
    extra_env_.push_back("AXION_PROGRESS_DEADLINE_MS=60000");
    AgentE2E::SetUp();
    if (HasFatalFailure()) return;
    projects_ = v1::ProjectService::NewStub(channel_);
    deployments_ = v1::DeploymentService::NewStub(channel_);
    dir_ = scratch_dir("deployment-e2e");
    marker_ = "d" + std::to_string(getpid()) + "x" + std::to_string(++counter_);
    front_ = free_port();
    for (int i = 0; i < 2; ++i) {
      v1::CreateServerRequest req;
      req.set_cluster_id(cluster_id_);
      req.set_name("local-" + std::to_string(i + 1));
      req.set_host("127.0.0.1");
      req.set_port(static_cast<std::uint32_t>(2200 + i));  // unique host:port in the cluster
      req.set_ssh_user("deploy");
      v1::CreateServerResponse made;
      const auto s = call([&](auto* c) { return infra_->CreateServer(c, req, &made); });
      ASSERT_TRUE(s.ok()) << s.error_message();
      servers_.push_back(made.server_id());
    }
    for (int i = 0; i < 2; ++i) start_agent_for(i);
    v1::RegisterProjectRequest reg;
    reg.set_name("shop");
    v1::RegisterProjectResponse made;
    ASSERT_TRUE(call([&](auto* c) { return projects_->RegisterProject(c, reg, &made); }).ok());
    project_id_ = made.project_id();
  }

  void TearDown() override {
    agents_running_.clear();
    // Empty when SetUp stopped early: pids_with("") would name every process on the machine.
    for (const auto& needle : {marker_, dir_})
      if (!needle.empty())
        for (pid_t pid : pids_with(needle)) kill(pid, SIGKILL);
    remove_scratch_dir(dir_);
    AgentE2E::TearDown();
  }

  void start_agent_for(int i) {
    const std::string dir = dir_ + "/agent-" + std::to_string(i);
    std::filesystem::create_directories(dir);
    if (!std::filesystem::exists(dir + "/token")) {
      v1::CreateAgentRegistrationTokenRequest req;
      req.set_cluster_id(cluster_id_);
      req.set_server_id(servers_[i]);
      v1::CreateAgentRegistrationTokenResponse resp;
      ASSERT_TRUE(
          call([&](auto* c) { return infra_->CreateAgentRegistrationToken(c, req, &resp); }).ok());
      std::ofstream(dir + "/token") << resp.token();
    }
    const int base = 31000 + i * 500 + (getpid() % 50) * 10;
    std::vector<std::string> args = {
        "--server",          address(),
        "--server-id",       servers_[i],
        "--state-dir",       dir + "/state",
        "--token-file",      dir + "/token",
        "--backoff-min-ms",  "100",
        "--backoff-max-ms",  "500",
        "--stop-timeout-ms", "2000",
        "--port-range",      std::to_string(base) + "-" + std::to_string(base + 400)};
    agents_running_.push_back(std::make_unique<AgentProcess>(args));
    ASSERT_TRUE(eventually([&] {
      v1::GetAgentStatusRequest req;
      req.set_server_id(servers_[i]);
      v1::GetAgentStatusResponse resp;
      return call([&](auto* c) { return infra_->GetAgentStatus(c, req, &resp); }).ok() &&
             resp.connected() && resp.status() == v1::AGENT_STATUS_ONLINE;
    })) << agents_running_.back()->log();
  }

  // web (2 replicas, published on front_, HTTP check) -START_ORDER-> api (1 replica).
  // `start_period_s`: web's probes do not count before it (a release that stays unhealthy
  // without failing, to cancel it mid-step).
  std::uint64_t publish(const std::string& version, std::vector<std::string> web_args = {},
                        int start_period_s = 0) {
    v1::PublishGraphRequest req;
    req.set_project_id(project_id_);
    const auto service = [&](const std::string& name, int replicas) {
      auto* s = req.add_services();
      s->set_name(name);
      s->set_image("axion.local/test-service:1");
      s->add_command(name == "web" && !web_command_.empty() ? web_command_
                                                            : AXION_TEST_SERVICE_BIN);
      s->add_args("--version");
      s->add_args(marker_ + "-" + version);
      s->set_replicas(static_cast<std::uint32_t>(replicas));
      auto* p = s->add_ports();
      p->set_name("http");
      p->set_container_port(8080);
      p->set_protocol(v1::PORT_PROTOCOL_HTTP);
      auto* check = s->mutable_health_check();
      check->mutable_http()->set_path("/healthz");
      check->mutable_http()->set_port(8080);
      check->mutable_interval()->set_nanos(100'000'000);
      check->mutable_timeout()->set_nanos(100'000'000);
      check->set_healthy_threshold(1);
      check->set_unhealthy_threshold(3);
      (*s->mutable_env())["RELEASE"] = version;
      return s;
    };
    service("api", 1);
    auto* web = service("web", 2);
    web->mutable_ports(0)->set_host_port(static_cast<std::uint32_t>(front_));
    for (auto& a : web_args) web->add_args(a);
    if (start_period_s > 0)
      web->mutable_health_check()->mutable_start_period()->set_seconds(start_period_s);
    return send_graph(req);
  }

  // Publishes `req`'s services with the edge web -START_ORDER-> api; the new version.
  std::uint64_t send_graph(v1::PublishGraphRequest& req) {
    req.set_project_id(project_id_);
    auto* e = req.add_edges();
    e->set_from_service("web");
    e->set_to_service("api");
    e->set_kind(v1::EDGE_KIND_START_ORDER);
    v1::PublishGraphResponse resp;
    const auto s = call([&](auto* c) { return projects_->PublishGraph(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.graph_version();
  }

  std::string deploy(const v1::Strategy& strategy = {}, const v1::DeployOptions& options = {},
                     const std::string& environment = "production") {
    v1::DeployProjectRequest req;
    req.set_project_id(project_id_);
    req.set_environment(environment);
    *req.mutable_strategy() = strategy;
    *req.mutable_options() = options;
    v1::DeployProjectResponse resp;
    const auto s = call([&](auto* c) { return deployments_->DeployProject(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.deployment_id();
  }

  v1::Deployment get(const std::string& id) {
    v1::GetDeploymentRequest req;
    req.set_deployment_id(id);
    v1::GetDeploymentResponse resp;
    call([&](auto* c) { return deployments_->GetDeployment(c, req, &resp); });
    return resp.deployment();
  }

  // Waits for a terminal status; returns the deployment as the views show it then.
  v1::Deployment wait_end(const std::string& id, milliseconds timeout = milliseconds(90000)) {
    v1::Deployment d;
    if (id.empty()) {
      ADD_FAILURE() << "no deployment to wait for";
      return d;
    }
    const bool ended = eventually(
        [&] {
          d = get(id);
          return d.status() == v1::DEPLOYMENT_STATUS_SUCCESS ||
                 d.status() == v1::DEPLOYMENT_STATUS_FAILED ||
                 d.status() == v1::DEPLOYMENT_STATUS_CANCELLED;
        },
        timeout);
    EXPECT_TRUE(ended) << "deployment " << id << " is still " << d.ShortDebugString()
                       << "\nserver log:\n"
                       << server_->log();
    return d;
  }

  std::size_t count(const std::string& version) {
    return pids_with("--version " + marker_ + "-" + version).size();
  }

  std::string dir_, marker_, project_id_;
  std::string web_command_;  // web's command in what publish() sends; empty: the test service
  int front_ = 0;
  std::vector<std::string> servers_;
  std::vector<std::unique_ptr<AgentProcess>> agents_running_;
  std::unique_ptr<v1::ProjectService::Stub> projects_;
  std::unique_ptr<v1::DeploymentService::Stub> deployments_;
  static inline int counter_ = 0;
};

}  // namespace axion::testing
