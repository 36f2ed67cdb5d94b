// The agent's runtimes end to end: tasks submitted to a real axion-server (AgentTaskService)
// reach a real axion-agent, which runs real axion-test-service processes (process runtime),
// drives a real HAProxy (proxy runtime) and a real Docker engine (compose runtime), and the
// results come back through the server. Every test names its service processes with a unique
// --version marker, so it can count them in /proc: "runs once" is checked on the host itself.
#include <dirent.h>
#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "agent/command.h"
#include "tests/e2e/agent_task_fixture.h"
#include "tests/support/compose_project.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;

std::string http_get(int port, const std::string& path) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(2);
  client.set_read_timeout(5);
  auto res = client.Get(path);
  return res && res->status == 200 ? res->body : "";
}

class AgentRuntimeE2E : public AgentTaskE2E {
 protected:
  void SetUp() override {
    AgentTaskE2E::SetUp();
    dir_ = scratch_dir("agent-runtime");
    marker_ = "m" + std::to_string(getpid()) + "x" + std::to_string(++counter_);
  }
  void TearDown() override {
    agent_.reset();
    // The agent leaves services and HAProxy running by design; the test does not.
    for (const auto& needle : {marker_, dir_}) {
      for (pid_t pid : pids_with(needle)) kill(pid, SIGKILL);
    }
    if (!compose_project_.empty()) remove_compose_project(compose_project_);
    remove_scratch_dir(dir_);
    AgentTaskE2E::TearDown();
  }

  void start_agent_here() {
    agent_ = start_agent(dir_, {"--stop-timeout-ms", "2000"});
    ASSERT_GT(agent_->pid(), 0);
  }

  // START_SERVICE of axion-test-service (this test's marker as its version) on `port`, with an
  // HTTP health check on /healthz every 100 ms.
  v1::AgentTask service_task(const std::string& id, int port, std::vector<std::string> args = {}) {
    v1::AgentTask t = start_task(id, "web-1");
    auto* p = t.mutable_task()->mutable_spec()->mutable_process();
    p->clear_argv();
    p->add_argv(AXION_TEST_SERVICE_BIN);
    p->add_argv("--version");
    p->add_argv(marker_);
    for (auto& a : args) p->add_argv(a);
    auto* http = p->add_ports();
    http->set_name("http");
    http->set_container_port(8080);
    http->set_host_port(static_cast<std::uint32_t>(port));
    auto* check = p->mutable_health_check();
    check->mutable_http()->set_path("/healthz");
    check->mutable_http()->set_port(8080);
    check->mutable_interval()->set_nanos(100000000);
    check->set_unhealthy_threshold(3);
    return t;
  }
  // A start that stays RUNNING: healthy only after ten minutes, and failed probes do not count
  // before then (start period), so only a cancel ends it.
  v1::AgentTask slow_task(const std::string& id) {
    auto t = service_task(id, free_port(), {"--healthy-after-ms", "600000"});
    t.mutable_task()
        ->mutable_spec()
        ->mutable_process()
        ->mutable_health_check()
        ->mutable_start_period()
        ->set_seconds(600);
    return t;
  }
  v1::AgentTask stop_task(const std::string& id, v1::TaskKind kind = v1::TASK_KIND_STOP_SERVICE) {
    v1::AgentTask t;
    t.set_server_id(server_id_);
    t.mutable_task()->set_task_id(id);
    t.mutable_task()->set_kind(kind);
    t.mutable_task()->set_attempt(1);
    t.mutable_task()->mutable_spec()->mutable_process()->set_instance_id("web-1");
    return t;
  }
  v1::AgentTask compose_task(const std::string& id, v1::TaskKind kind, const std::string& yaml) {
    v1::AgentTask t;
    t.set_server_id(server_id_);
    t.mutable_task()->set_task_id(id);
    t.mutable_task()->set_kind(kind);
    t.mutable_task()->set_attempt(1);
    t.mutable_task()->mutable_spec()->set_compose_project(compose_project_);
    t.mutable_task()->mutable_spec()->set_compose_yaml(yaml);
    return t;
  }

  // Submits and waits for the terminal status.
  v1::AgentTaskStatus run(const v1::AgentTask& task, int seconds = 60) {
    const auto submitted = submit(task);
    EXPECT_TRUE(submitted.ok()) << submitted.error_message();
    return wait_terminal(task.task().task_id(), seconds);
  }
  // Waits until the agent reported `state` for the task.
  bool reached(const std::string& id, v1::TaskState state) {
    return eventually([&] { return get(id).last_update().state() == state; });
  }

  std::string instance_stdout() { return read_file(dir_ + "/state/instances/web-1/stdout.log"); }

  // What a failed test left of its compose project (docker by argv, no shell).
  static inline int counter_ = 0;
  std::string dir_, marker_, compose_project_;
  std::unique_ptr<AgentProcess> agent_;
};

TEST_F(AgentRuntimeE2E, ARealServiceStartsHealthyServesAndStops) {
  start_agent_here();
  const int port = free_port();
  const auto started = run(service_task("start-web", port));
  ASSERT_EQ(started.last_update().state(), v1::TASK_STATE_SUCCEEDED)
      << started.last_update().detail() << "\n"
      << agent_->log();
  EXPECT_EQ(started.last_update().detail(), "healthy");
  EXPECT_EQ(started.last_update().ports().at("http"), static_cast<std::uint32_t>(port));
  EXPECT_GE(started.last_update().health_samples_size(), 1);
  EXPECT_FALSE(started.agent_id().empty());
  EXPECT_EQ(http_get(port, "/"), marker_ + " web-1\n");
  EXPECT_EQ(pids_with(marker_).size(), 1u);
  // Its output was streamed while the task ran (LogLines), and the server kept it.
  const auto with_logs = get("start-web");
  ASSERT_GE(with_logs.log_lines_size(), 1) << agent_->log();
  EXPECT_EQ(with_logs.log_lines(0).line(),
            "axion-test-service " + marker_ + " listening on " + std::to_string(port));
  EXPECT_EQ(with_logs.log_lines(0).stream(), v1::LOG_STREAM_STDOUT);
  EXPECT_EQ(with_logs.log_lines(0).service(), "web");
  EXPECT_EQ(with_logs.log_lines(0).task_id(), "start-web");

  const auto stopped = run(stop_task("stop-web"));
  EXPECT_EQ(stopped.last_update().state(), v1::TASK_STATE_SUCCEEDED)
      << stopped.last_update().detail();
  EXPECT_TRUE(eventually([&] { return pids_with(marker_).empty(); }));
  EXPECT_EQ(http_get(port, "/"), "");
}

// A service that prints bytes that are not UTF-8: its lines still reach the server (cleaned),
// and the stream they travel on survives to carry the result.
TEST_F(AgentRuntimeE2E, OutputThatIsNotUtf8KeepsTheStreamAlive) {
  start_agent_here();
  const int port = free_port();
  auto task = service_task("start-binary", port);
  auto* p = task.mutable_task()->mutable_spec()->mutable_process();
  // The test's own argv through sh (no user input): print raw bytes, then become the service.
  p->clear_argv();
  for (const char* a :
       {"/bin/sh", "-c", "printf '\\377\\376 raw\\n' && exec \"$0\" --version \"$1\"",
        AXION_TEST_SERVICE_BIN}) {
    p->add_argv(a);
  }
  p->add_argv(marker_);
  const auto done = run(task);
  ASSERT_EQ(done.last_update().state(), v1::TASK_STATE_SUCCEEDED)
      << done.last_update().detail() << "\n"
      << agent_->log();
  EXPECT_TRUE(status().connected());
  const auto kept = get("start-binary");
  ASSERT_GE(kept.log_lines_size(), 1);
  EXPECT_EQ(kept.log_lines(0).line(), "\xEF\xBF\xBD\xEF\xBF\xBD raw");
}

TEST_F(AgentRuntimeE2E, AFailingHealthCheckIsReportedWithItsSamplesAndOutput) {
  start_agent_here();
  const auto done = run(service_task("start-sick", free_port(), {"--unhealthy"}));
  const auto& update = done.last_update();
  ASSERT_EQ(update.state(), v1::TASK_STATE_FAILED) << update.detail();
  EXPECT_THAT(update.detail(), HasSubstr("unhealthy"));
  ASSERT_GE(update.health_samples_size(), 3);
  EXPECT_EQ(update.health_samples(update.health_samples_size() - 1).code(), 503);
  EXPECT_THAT(update.output(), HasSubstr("listening on"));
  // A start that failed leaves nothing running.
  EXPECT_TRUE(eventually([&] { return pids_with(marker_).empty(); }));
}

TEST_F(AgentRuntimeE2E, CancelOfARunningTaskStopsItsProcess) {
  start_agent_here();
  const auto task = slow_task("start-slow");
  ASSERT_TRUE(submit(task).ok());
  ASSERT_TRUE(reached("start-slow", v1::TASK_STATE_RUNNING)) << agent_->log();
  ASSERT_EQ(pids_with(marker_).size(), 1u);

  const auto cancelled = cancel("start-slow");
  ASSERT_TRUE(cancelled.ok()) << cancelled.error_message();
  const auto done = wait_terminal("start-slow");
  EXPECT_EQ(done.last_update().state(), v1::TASK_STATE_CANCELLED) << done.last_update().detail();
  EXPECT_TRUE(done.cancel_requested());
  EXPECT_TRUE(eventually([&] { return pids_with(marker_).empty(); }));
}

// The server delivers an unfinished task again to an agent that reconnects (here: after the
// server crashed); the agent, already running it, neither starts a second process nor loses it.
TEST_F(AgentRuntimeE2E, ATaskDeliveredTwiceRunsOnce) {
  start_agent_here();
  const auto task = slow_task("start-twice");
  ASSERT_TRUE(submit(task).ok());
  ASSERT_TRUE(submit(task).ok());  // the same task again: accepted, not queued twice
  ASSERT_TRUE(reached("start-twice", v1::TASK_STATE_RUNNING));
  const auto first = pids_with(marker_);
  ASSERT_EQ(first.size(), 1u);

  server_->signal(SIGKILL);
  server_->wait_exit(milliseconds(10000));
  server_ = std::make_unique<ServerProcess>(server_env_);
  httplib::Client http("127.0.0.1", http_port_);
  ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server_->log();
  ASSERT_TRUE(eventually([&] { return status().connected(); })) << agent_->log();
  // Redelivered on reconnect: the agent reports on, and still runs the one process.
  ASSERT_TRUE(eventually([&] {
    return metric("axion_agent_task_deliveries_total") != "" &&
           metric("axion_agent_task_deliveries_total") != "0";
  })) << server_->log();
  const auto cancelled = cancel("start-twice");
  ASSERT_TRUE(cancelled.ok()) << cancelled.error_message();
  const auto done = wait_terminal("start-twice");
  EXPECT_EQ(done.last_update().state(), v1::TASK_STATE_CANCELLED) << done.last_update().detail();
  const std::string out = instance_stdout();
  EXPECT_EQ(out.find("listening on"), out.rfind("listening on")) << out;
  EXPECT_TRUE(eventually([&] { return pids_with(marker_).empty(); }));
}

// kill -9 of the agent while a start waits for health: the service keeps running, and the
// restarted agent adopts it (same pid), finishes the task and reports it once.
TEST_F(AgentRuntimeE2E, AnAgentKilledMidTaskResumesWithoutStartingTheServiceAgain) {
  start_agent_here();
  const int port = free_port();
  auto task = service_task("start-resume", port, {"--healthy-after-ms", "4000"});
  task.mutable_task()
      ->mutable_spec()
      ->mutable_process()
      ->mutable_health_check()
      ->mutable_start_period()
      ->set_seconds(60);
  ASSERT_TRUE(submit(task).ok());
  ASSERT_TRUE(reached("start-resume", v1::TASK_STATE_RUNNING));
  const auto before = pids_with(marker_);
  ASSERT_EQ(before.size(), 1u);

  agent_->signal(SIGKILL);
  ASSERT_EQ(agent_->wait_exit(milliseconds(10000)), 128 + SIGKILL);
  ASSERT_EQ(pids_with(marker_), before);  // the service outlives its agent
  start_agent_here();
  const auto done = wait_terminal("start-resume", 90);
  ASSERT_EQ(done.last_update().state(), v1::TASK_STATE_SUCCEEDED)
      << done.last_update().detail() << "\n"
      << agent_->log();
  EXPECT_EQ(pids_with(marker_), before);
  EXPECT_EQ(http_get(port, "/"), marker_ + " web-1\n");
  const std::string out = instance_stdout();
  EXPECT_EQ(out.find("listening on"), out.rfind("listening on")) << out;
  EXPECT_TRUE(eventually([&] { return metric("axion_agent_task_results_total") == "1"; }));
}

// SWITCH_TRAFFIC: the agent's HAProxy sends a service's port to the instance it names.
TEST_F(AgentRuntimeE2E, TheEdgeProxySendsTrafficToTheInstance) {
  start_agent_here();
  const int port = free_port();
  ASSERT_EQ(run(service_task("start-web", port)).last_update().state(), v1::TASK_STATE_SUCCEEDED);
  const int front = free_port();
  v1::AgentTask sw;
  sw.set_server_id(server_id_);
  sw.mutable_task()->set_task_id("switch-web");
  sw.mutable_task()->set_kind(v1::TASK_KIND_SWITCH_TRAFFIC);
  sw.mutable_task()->set_attempt(1);
  auto* proxy = sw.mutable_task()->mutable_spec()->mutable_proxy();
  proxy->set_service("web");
  proxy->set_listen_port(static_cast<std::uint32_t>(front));
  proxy->set_protocol(v1::PORT_PROTOCOL_HTTP);
  auto* backend = proxy->add_backends();
  backend->set_instance_id("web-1");
  backend->set_address("127.0.0.1:" + std::to_string(port));
  backend->set_weight(100);
  const auto switched = run(sw);
  ASSERT_EQ(switched.last_update().state(), v1::TASK_STATE_SUCCEEDED)
      << switched.last_update().detail() << "\n"
      << agent_->log();
  EXPECT_TRUE(eventually([&] { return http_get(front, "/") == marker_ + " web-1\n"; }));

  // A bad spec is refused with its reason, and the proxy keeps serving.
  auto bad = sw;
  bad.mutable_task()->set_task_id("switch-bad");
  bad.mutable_task()->mutable_spec()->mutable_proxy()->mutable_backends(0)->set_address(
      "not an address");
  const auto refused = run(bad);
  EXPECT_EQ(refused.last_update().state(), v1::TASK_STATE_FAILED);
  EXPECT_FALSE(refused.last_update().detail().empty());
  EXPECT_EQ(http_get(front, "/"), marker_ + " web-1\n");
}

// The compose runtime through the agent: a two-service project with a health check and
// depends_on comes up healthy, is updated, and is torn down (scripts/docker-engine's engine).
TEST_F(AgentRuntimeE2E, AComposeProjectComesUpIsUpdatedAndIsTornDown) {
  const char* docker_host = std::getenv("DOCKER_HOST");
  if (docker_host == nullptr || *docker_host == '\0') {
    const char* require = std::getenv("AXION_REQUIRE_DOCKER");
    if (require != nullptr && std::string(require) == "1") {
      FAIL() << "AXION_REQUIRE_DOCKER=1 but DOCKER_HOST is not set";
    }
    GTEST_SKIP() << "no Docker engine: start scripts/docker-engine and export DOCKER_HOST";
  }
  compose_project_ = "axe2e-" + marker_;
  start_agent_here();
  const int port = free_port();
  const auto yaml = [&](const std::string& version) { return two_service_compose(port, version); };
  auto up = run(compose_task("compose-v1", v1::TASK_KIND_APPLY_COMPOSE, yaml("v1")), 300);
  ASSERT_EQ(up.last_update().state(), v1::TASK_STATE_SUCCEEDED) << up.last_update().detail() << "\n"
                                                                << up.last_update().output() << "\n"
                                                                << agent_->log();
  EXPECT_EQ(up.last_update().detail(), "api: running healthy; web: running healthy");
  EXPECT_EQ(http_get(port, "/"), "v1\n");

  up = run(compose_task("compose-v2", v1::TASK_KIND_APPLY_COMPOSE, yaml("v2")), 300);
  ASSERT_EQ(up.last_update().state(), v1::TASK_STATE_SUCCEEDED) << up.last_update().detail();
  EXPECT_EQ(http_get(port, "/"), "v2\n");

  const auto down = run(compose_task("compose-down", v1::TASK_KIND_REMOVE_SERVICE, ""), 300);
  EXPECT_EQ(down.last_update().state(), v1::TASK_STATE_SUCCEEDED) << down.last_update().detail();
  EXPECT_EQ(http_get(port, "/"), "");
}

// Without a Docker engine the agent does not offer compose, and a compose task fails saying so.
TEST_F(AgentRuntimeE2E, ComposeTasksAreRefusedWhereNoEngineAnswers) {
  agent_ = start_agent(dir_, {}, {"DOCKER_HOST=unix://" + dir_ + "/no-docker.sock"});
  v1::AgentTask t;
  t.set_server_id(server_id_);
  t.mutable_task()->set_task_id("compose-nowhere");
  t.mutable_task()->set_kind(v1::TASK_KIND_APPLY_COMPOSE);
  t.mutable_task()->mutable_spec()->set_compose_project("shop");
  t.mutable_task()->mutable_spec()->set_compose_yaml("services: {}\n");
  const auto done = run(t);
  EXPECT_EQ(done.last_update().state(), v1::TASK_STATE_FAILED);
  EXPECT_THAT(done.last_update().detail(), HasSubstr("runtime 'compose' is not available"));
  EXPECT_THAT(done.last_update().detail(), HasSubstr("process"));
}

}  // namespace
}  // namespace axion::testing
