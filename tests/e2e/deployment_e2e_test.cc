// Deployments end to end: a real axion-server (embedded) runs the deployment saga, two real
// axion-agents (two servers of one cluster, on this host) run real axion-test-service processes
// and real HAProxies, and a load generator hits the published port while v1 is replaced by v2.
// Processes are counted in /proc by a marker in their command line, so "stopped", "left
// running" and "ran once" are checked on the host itself.
#include <dirent.h>
#include <signal.h>

#include <atomic>
#include <thread>

#include "axion/v1/deployment.grpc.pb.h"
#include "axion/v1/project.grpc.pb.h"
#include "tests/e2e/agent_fixture.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;

std::vector<pid_t> pids_with(const std::string& needle) {
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

// GET / on the published port: the body ("<version> <instance>") or "" on any failure.
std::string front_get(int port) {
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
        last_failure_ = res ? "HTTP " + std::to_string(res->status) : httplib::to_string(res.error());
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
    extra_env_ = {"AXION_PROGRESS_DEADLINE_MS=60000"};
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
    for (const auto& needle : {marker_, dir_})
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
        "--server", address(), "--server-id", servers_[i], "--state-dir", dir + "/state",
        "--token-file", dir + "/token", "--backoff-min-ms", "100", "--backoff-max-ms", "500",
        "--stop-timeout-ms", "2000", "--port-range",
        std::to_string(base) + "-" + std::to_string(base + 400)};
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
      s->add_command(AXION_TEST_SERVICE_BIN);
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
    auto* e = req.add_edges();
    e->set_from_service("web");
    e->set_to_service("api");
    e->set_kind(v1::EDGE_KIND_START_ORDER);
    v1::PublishGraphResponse resp;
    const auto s = call([&](auto* c) { return projects_->PublishGraph(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.graph_version();
  }

  std::string deploy(const v1::Strategy& strategy = {}, const v1::DeployOptions& options = {}) {
    v1::DeployProjectRequest req;
    req.set_project_id(project_id_);
    req.set_environment("production");
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
                       << "\nserver log:\n" << server_->log();
    return d;
  }

  std::size_t count(const std::string& version) {
    return pids_with("--version " + marker_ + "-" + version).size();
  }

  std::string dir_, marker_, project_id_;
  int front_ = 0;
  std::vector<std::string> servers_;
  std::vector<std::unique_ptr<AgentProcess>> agents_running_;
  std::unique_ptr<v1::ProjectService::Stub> projects_;
  std::unique_ptr<v1::DeploymentService::Stub> deployments_;
  static inline int counter_ = 0;
};

TEST_F(DeploymentE2E, RollingV1ToV2ServesEveryRequestAndStopsV1) {
  publish("v1");
  const auto first = wait_end(deploy());
  ASSERT_EQ(first.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << first.ShortDebugString();
  EXPECT_EQ(count("v1"), 3u);  // api + 2 web
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));
  ASSERT_EQ(first.placement().at("web").server_ids_size(), 2);
  EXPECT_NE(first.placement().at("web").server_ids(0), first.placement().at("web").server_ids(1));

  publish("v2");
  Load load(front_);
  const auto second = wait_end(deploy());
  std::this_thread::sleep_for(milliseconds(300));
  load.stop();
  ASSERT_EQ(second.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << second.ShortDebugString();
  EXPECT_GT(load.total(), 50);
  EXPECT_EQ(load.failures(), 0) << load.last_failure();
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v2"));
  EXPECT_TRUE(eventually([&] { return count("v1") == 0; })) << "v1 instances left running";
  EXPECT_EQ(count("v2"), 3u);
}

TEST_F(DeploymentE2E, FailingHealthCheckKeepsV1ServingAndSaysWhy) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  publish("v2", {"--unhealthy"});
  Load load(front_);
  const auto failed = wait_end(deploy());
  load.stop();
  ASSERT_EQ(failed.status(), v1::DEPLOYMENT_STATUS_FAILED) << failed.ShortDebugString();
  EXPECT_EQ(failed.failure().service(), "web");
  EXPECT_FALSE(failed.failure().server_id().empty());
  EXPECT_EQ(failed.failure().cause(), v1::STATUS_CHANGE_CAUSE_HEALTH)
      << failed.failure().ShortDebugString();
  EXPECT_FALSE(failed.failure().last_health_samples().empty());
  EXPECT_FALSE(failed.failure().reason().empty());
  EXPECT_EQ(load.failures(), 0) << load.last_failure();
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));
  EXPECT_TRUE(eventually([&] { return count("v2") == 0; })) << "v2 instances left running";
  EXPECT_EQ(count("v1"), 3u);
}

TEST_F(DeploymentE2E, AutoRollbackAfterAFailureRestoresV1) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  publish("v2", {"--unhealthy"});
  v1::DeployOptions options;
  options.set_auto_rollback(true);
  const std::string bad = deploy({}, options);
  ASSERT_EQ(wait_end(bad).status(), v1::DEPLOYMENT_STATUS_FAILED);
  // The rollback is a new deployment; find it in the list.
  v1::Deployment rollback;
  ASSERT_TRUE(eventually([&] {
    v1::ListDeploymentsRequest req;
    req.set_project_id(project_id_);
    v1::ListDeploymentsResponse resp;
    call([&](auto* c) { return deployments_->ListDeployments(c, req, &resp); });
    for (const auto& d : resp.deployments())
      if (d.rollback_of() == bad) rollback = d;
    return !rollback.deployment_id().empty();
  }));
  const auto done = wait_end(rollback.deployment_id());
  EXPECT_EQ(done.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << done.ShortDebugString();
  EXPECT_EQ(done.graph_version(), 1u);
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));
  EXPECT_TRUE(eventually([&] { return count("v2") == 0; }));
}

TEST_F(DeploymentE2E, CancelStopsTheNewReleaseAndFreesTheEnvironment) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  publish("v2", {"--healthy-after-ms", "600000"}, 600);
  const std::string id = deploy();
  // Cancel while web's v2 instances run but are not healthy yet.
  ASSERT_TRUE(eventually([&] { return count("v2") >= 2; })) << server_->log();
  v1::CancelDeploymentRequest req;
  req.set_project_id(project_id_);
  req.set_deployment_id(id);
  req.set_reason("taking too long");
  v1::CancelDeploymentResponse resp;
  ASSERT_TRUE(call([&](auto* c) { return deployments_->CancelDeployment(c, req, &resp); }).ok());
  const auto cancelled = wait_end(id);
  EXPECT_EQ(cancelled.status(), v1::DEPLOYMENT_STATUS_CANCELLED) << cancelled.ShortDebugString();
  EXPECT_EQ(cancelled.cancel_reason(), "taking too long");
  EXPECT_EQ(count("v2"), 0u) << "the cancelled release is still running";
  EXPECT_EQ(count("v1"), 3u);
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));
  // Nothing is left locked: the next deployment starts at once and succeeds.
  publish("v3");
  const auto next = wait_end(deploy());
  EXPECT_EQ(next.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << next.ShortDebugString();
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v3"));
}

TEST_F(DeploymentE2E, WatchDeploymentStreamsTheSnapshotThenEventsUntilTheEnd) {
  publish("v1");
  const std::string id = deploy();
  ASSERT_FALSE(id.empty());
  const auto watch = [&](std::uint64_t after, grpc::Status* status) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + kApiToken);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    v1::WatchDeploymentRequest req;
    req.set_deployment_id(id);
    req.set_after_sequence(after);
    auto stream = deployments_->WatchDeployment(&ctx, req);
    std::vector<v1::WatchDeploymentResponse> got;
    v1::WatchDeploymentResponse m;
    while (stream->Read(&m)) got.push_back(m);
    *status = stream->Finish();
    return got;
  };
  grpc::Status status;
  const auto live = watch(0, &status);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_GE(live.size(), 2u);
  EXPECT_TRUE(live.front().has_snapshot());
  std::uint64_t last = live.front().snapshot().version();
  bool stepped = false;
  for (std::size_t i = 1; i < live.size(); ++i) {
    ASSERT_TRUE(live[i].has_event());
    EXPECT_GT(live[i].event().sequence(), last) << "events out of order or repeated";
    last = live[i].event().sequence();
    stepped = stepped || live[i].event().type() == "axion.v1.DeploymentStepStarted";
  }
  EXPECT_TRUE(stepped || live.front().snapshot().current_step() > 0);
  EXPECT_EQ(live.back().event().type(), "axion.v1.DeploymentSucceeded");
  // After the end: the snapshot alone, already terminal.
  const auto after = watch(0, &status);
  ASSERT_TRUE(status.ok());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].snapshot().status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  // Resuming after a sequence: only later events, no snapshot, up to the end.
  const std::uint64_t from = live.size() > 3 ? live[live.size() - 3].event().sequence() : 0;
  if (from > 0) {
    const auto resumed = watch(from, &status);
    ASSERT_TRUE(status.ok());
    ASSERT_EQ(resumed.size(), 2u);
    EXPECT_TRUE(resumed[0].has_event());
    EXPECT_EQ(resumed[1].event().type(), "axion.v1.DeploymentSucceeded");
  }
  // Refusals: unknown deployment, no token.
  {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + kApiToken);
    v1::WatchDeploymentRequest req;
    req.set_deployment_id("dep-does-not-exist");
    auto stream = deployments_->WatchDeployment(&ctx, req);
    v1::WatchDeploymentResponse m;
    EXPECT_FALSE(stream->Read(&m));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::NOT_FOUND);
  }
  {
    grpc::ClientContext ctx;
    v1::WatchDeploymentRequest req;
    req.set_deployment_id(id);
    auto stream = deployments_->WatchDeployment(&ctx, req);
    v1::WatchDeploymentResponse m;
    EXPECT_FALSE(stream->Read(&m));
    EXPECT_EQ(stream->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
}

class StrategyE2E : public DeploymentE2E,
                    public ::testing::WithParamInterface<std::string> {};

TEST_P(StrategyE2E, V1ToV2WithoutAFailedRequest) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  publish("v2");
  v1::Strategy strategy;
  if (GetParam() == "canary") {
    strategy.mutable_canary()->add_weights(20);
    strategy.mutable_canary()->add_weights(60);
    strategy.mutable_canary()->mutable_bake_time()->set_nanos(300'000'000);
  } else {
    strategy.mutable_blue_green()->mutable_bake_time()->set_nanos(300'000'000);
    strategy.mutable_blue_green()->mutable_scale_down_delay()->set_nanos(300'000'000);
  }
  Load load(front_);
  const auto done = wait_end(deploy(strategy));
  std::this_thread::sleep_for(milliseconds(300));
  load.stop();
  ASSERT_EQ(done.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << done.ShortDebugString();
  EXPECT_EQ(load.failures(), 0) << load.last_failure();
  EXPECT_GT(load.total(), 50);
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v2"));
  EXPECT_TRUE(eventually([&] { return count("v1") == 0; }));
}

INSTANTIATE_TEST_SUITE_P(Strategies, StrategyE2E, ::testing::Values("canary", "blue_green"));

// kill -9 of axion-server at several points of a deployment: after a restart it still ends,
// and no instance was started twice (each release's processes are exactly its replicas).
TEST_F(DeploymentE2E, ServerKilledMidDeploymentResumesAndRunsNothingTwice) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  struct Point {
    std::string name;
    std::function<bool(const std::string& id, const std::string& version)> reached;
  };
  const std::vector<Point> points = {
      {"right after DeployProject", [](const std::string&, const std::string&) { return true; }},
      {"DEPLOYING",
       [&](const std::string& id, const std::string&) {
         return get(id).status() == v1::DEPLOYMENT_STATUS_DEPLOYING;
       }},
      {"first new instance up",
       [&](const std::string&, const std::string& v) { return count(v) >= 1; }},
      {"every new instance up",
       [&](const std::string&, const std::string& v) { return count(v) >= 3; }},
  };
  int release = 1;
  for (const auto& point : points) {
    ++release;
    const std::string version = "v" + std::to_string(release);
    const std::string previous = "v" + std::to_string(release - 1);
    publish(version);
    const std::string id = deploy();
    ASSERT_TRUE(eventually([&] { return point.reached(id, version); }, milliseconds(20000)))
        << point.name;
    server_.reset();  // kill -9
    server_ = std::make_unique<ServerProcess>(server_env_);
    httplib::Client http("127.0.0.1", http_port_);
    ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server_->log();
    const auto done = wait_end(id);
    EXPECT_EQ(done.status(), v1::DEPLOYMENT_STATUS_SUCCESS)
        << "killed at " << point.name << ": " << done.ShortDebugString();
    EXPECT_EQ(count(version), 3u) << "killed at " << point.name;
    EXPECT_TRUE(eventually([&] { return count(previous) == 0; })) << "killed at " << point.name;
    EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-" + version)) << point.name;
  }
}

}  // namespace
}  // namespace axion::testing
