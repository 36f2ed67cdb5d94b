// ProcessRuntime against real processes (axion-test-service): start and health checks, failures
// with exit codes and output, cancel, idempotent redelivery, adoption by a new runtime after the
// old one is gone, SIGKILL after the stop timeout, restart policy, and log rotation.
#include "agent/process_runtime.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "agent/instance_record.h"

namespace axion::agent {
namespace {

namespace v1 = axion::v1;
using namespace std::chrono_literals;

class RecordingSink : public TaskSink {
 public:
  void update(const v1::TaskUpdate& u) override {
    std::lock_guard lock(mu_);
    updates_.push_back(u);
    cv_.notify_all();
  }
  // The first update of `task_id` in `state` (or any terminal one if state is 0), waiting.
  std::optional<v1::TaskUpdate> wait_for(const std::string& task_id, int state = 0,
                                         std::size_t nth = 1) {
    std::unique_lock lock(mu_);
    std::optional<v1::TaskUpdate> found;
    cv_.wait_for(lock, 60s, [&] {
      std::size_t seen = 0;
      for (const auto& u : updates_) {
        const bool terminal = u.state() == v1::TASK_STATE_SUCCEEDED ||
                              u.state() == v1::TASK_STATE_FAILED ||
                              u.state() == v1::TASK_STATE_CANCELLED;
        if (u.task_id() == task_id && (state == 0 ? terminal : u.state() == state) &&
            ++seen == nth) {
          found = u;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::size_t count(const std::string& task_id) {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& u : updates_) n += u.task_id() == task_id;
    return n;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1::TaskUpdate> updates_;
};

bool eventually(const std::function<bool()>& condition) {
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

class ProcessRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* base = std::getenv("AXION_TEST_RUN_DIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/axion-proc-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    options_.stop_timeout = 2s;
    options_.restart_backoff_min = 100ms;
  }
  void TearDown() override {
    if (runtime_) runtime_->stop_all();
    runtime_.reset();
    std::filesystem::remove_all(dir_);
  }
  ProcessRuntime& runtime() {
    if (!runtime_) runtime_ = std::make_unique<ProcessRuntime>(dir_, options_);
    return *runtime_;
  }
  static v1::Task start_task(const std::string& task_id, const std::string& instance,
                             std::vector<std::string> args = {}) {
    v1::Task t;
    t.set_task_id(task_id);
    t.set_kind(v1::TASK_KIND_START_SERVICE);
    auto* p = t.mutable_spec()->mutable_process();
    p->set_service("web");
    p->set_instance_id(instance);
    p->add_argv(AXION_TEST_SERVICE_BIN);
    for (auto& a : args) p->add_argv(a);
    auto* port = p->add_ports();
    port->set_name("http");
    port->set_container_port(8080);
    auto* check = p->mutable_health_check();
    check->mutable_http()->set_path("/healthz");
    check->mutable_http()->set_port(8080);
    check->mutable_interval()->set_nanos(100000000);
    check->set_unhealthy_threshold(3);
    return t;
  }
  static v1::Task stop_task(const std::string& task_id, const std::string& instance,
                            v1::TaskKind kind = v1::TASK_KIND_STOP_SERVICE) {
    v1::Task t;
    t.set_task_id(task_id);
    t.set_kind(kind);
    t.mutable_spec()->mutable_process()->set_instance_id(instance);
    return t;
  }
  InstanceRecord record(const std::string& instance) {
    auto r = load_record(dir_ + "/instances/" + instance);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    return r.ok() ? *r : InstanceRecord{};
  }
  static std::string get(std::uint32_t port, const std::string& path) {
    httplib::Client client("127.0.0.1", static_cast<int>(port));
    client.set_connection_timeout(5);
    auto res = client.Get(path);
    return res && res->status == 200 ? res->body : "";
  }
  static bool gone(int pid) { return kill(pid, 0) != 0 && errno == ESRCH; }
  static std::string read(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::string dir_;
  ProcessRuntimeOptions options_;
  std::unique_ptr<ProcessRuntime> runtime_;
  RecordingSink sink_;
};

TEST_F(ProcessRuntimeTest, HealthyStartSucceedsAndServes) {
  runtime().start(start_task("t1", "web-1"), sink_);
  const auto done = sink_.wait_for("t1");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_SUCCEEDED) << done->detail() << done->output();
  EXPECT_EQ(done->detail(), "healthy");
  EXPECT_GE(done->health_samples_size(), 1);
  EXPECT_TRUE(sink_.wait_for("t1", v1::TASK_STATE_RUNNING));
  const auto r = record("web-1");
  ASSERT_EQ(r.ports.size(), 1u);
  EXPECT_EQ(get(r.ports[0].host_port, "/"), "v1 web-1\n");
  // The allocated host port is in the updates, for the proxy.
  EXPECT_EQ(done->ports().at("http"), r.ports[0].host_port);
  EXPECT_EQ(sink_.wait_for("t1", v1::TASK_STATE_RUNNING)->ports().at("http"), r.ports[0].host_port);
  const auto running = runtime().running();
  ASSERT_EQ(running.size(), 1u);
  EXPECT_EQ(running[0].instance_id(), "web-1");
  EXPECT_TRUE(running[0].healthy());
}

TEST_F(ProcessRuntimeTest, PrepareResolvesCommandsCreatesWorkdirsAndNamesEveryProblem) {
  v1::Task t;
  t.set_task_id("p1");
  t.set_kind(v1::TASK_KIND_PREPARE_INFRA);
  auto* prepare = t.mutable_spec()->mutable_prepare();
  auto* web = prepare->add_services();
  web->set_service("web");
  web->add_argv(AXION_TEST_SERVICE_BIN);
  web->set_workdir(dir_ + "/srv/web/data");
  auto* api = prepare->add_services();
  api->set_service("api");
  api->add_argv("sh");  // found in the PATH the instance gets
  api->add_argv("-c");
  prepare->set_min_free_disk_mb(1);
  runtime().start(t, sink_);
  const auto ready = sink_.wait_for("p1");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->state(), v1::TASK_STATE_SUCCEEDED) << ready->detail();
  EXPECT_NE(ready->detail().find("created " + dir_ + "/srv/web/data"), std::string::npos)
      << ready->detail();
  EXPECT_NE(ready->detail().find("api (/"), std::string::npos) << ready->detail();
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/srv/web/data"));
  EXPECT_TRUE(runtime().running().empty()) << "preparing starts nothing";

  // Every problem at once, so a person fixes them in one go; nothing is created for them.
  auto bad = t;
  bad.set_task_id("p2");
  auto* spec = bad.mutable_spec()->mutable_prepare();
  spec->mutable_services(0)->set_argv(0, "/opt/nowhere/web");
  spec->mutable_services(0)->set_workdir(dir_ + "/never");
  spec->mutable_services(1)->set_argv(0, "no-such-program-axion");
  (*spec->mutable_services(1)->mutable_env())["PATH"] = "/nonexistent";
  auto* image = spec->add_services();
  image->set_service("db");
  image->set_image("postgres:15");
  auto* relative = spec->add_services();
  relative->set_service("worker");
  relative->add_argv("sh");
  relative->set_workdir("data/worker");
  spec->set_min_free_disk_mb(1ull << 40);  // a petabyte
  runtime().start(bad, sink_);
  const auto refused = sink_.wait_for("p2");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->state(), v1::TASK_STATE_FAILED);
  for (const char* why :
       {"service web: cannot execute /opt/nowhere/web", "service api: command "
        "'no-such-program-axion' not found in PATH (/nonexistent)",
        "service db: the process runtime runs commands, not images",
        "service worker: the working directory 'data/worker' is not an absolute path",
        "MiB free, the release needs 1099511627776 MiB"})
    EXPECT_NE(refused->detail().find(why), std::string::npos) << why << "\n" << refused->detail();
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/never"));
}

TEST_F(ProcessRuntimeTest, RefusesImagesAndEmptyArgv) {
  auto image = start_task("t1", "web-1");
  image.mutable_spec()->mutable_process()->set_image("nginx:1");
  runtime().start(image, sink_);
  auto done = sink_.wait_for("t1");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_FAILED);
  EXPECT_NE(done->detail().find("use the compose runtime"), std::string::npos);
  auto empty = start_task("t2", "web-2");
  empty.mutable_spec()->mutable_process()->clear_argv();
  runtime().start(empty, sink_);
  done = sink_.wait_for("t2");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_FAILED);
  EXPECT_NE(done->detail().find("argv is empty"), std::string::npos);
}

TEST_F(ProcessRuntimeTest, UnhealthyServiceFailsWithSamplesAndOutput) {
  runtime().start(start_task("t1", "web-1", {"--unhealthy"}), sink_);
  const auto done = sink_.wait_for("t1");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_FAILED);
  EXPECT_NE(done->detail().find("unhealthy"), std::string::npos) << done->detail();
  EXPECT_GE(done->health_samples_size(), 3);
  EXPECT_LE(done->health_samples_size(), 10);
  // The first probe may find it not yet listening; the last got its answer.
  EXPECT_EQ(done->health_samples(done->health_samples_size() - 1).code(), 503);
  EXPECT_NE(done->output().find("listening on"), std::string::npos) << done->output();
  EXPECT_TRUE(gone(record("web-1").pid));
}

TEST_F(ProcessRuntimeTest, ProcessThatExitsAtOnceFailsWithItsExitCode) {
  runtime().start(start_task("t1", "web-1", {"--no-such-flag"}), sink_);
  const auto done = sink_.wait_for("t1");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(done->exit_code(), 2);
  EXPECT_NE(done->detail().find("exited with code 2"), std::string::npos) << done->detail();
  EXPECT_NE(done->output().find("usage"), std::string::npos) << done->output();
}

TEST_F(ProcessRuntimeTest, CancelStopsTheInstance) {
  runtime().start(start_task("t1", "web-1", {"--healthy-after-ms", "600000"}), sink_);
  ASSERT_TRUE(sink_.wait_for("t1", v1::TASK_STATE_RUNNING));
  const int pid = record("web-1").pid;
  ASSERT_GT(pid, 0);
  runtime().cancel("t1");
  runtime().cancel("unknown-task");
  const auto done = sink_.wait_for("t1");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_CANCELLED) << done->detail();
  EXPECT_TRUE(gone(pid));
}

TEST_F(ProcessRuntimeTest, SameTaskTwiceRunsOneProcess) {
  const auto task = start_task("t1", "web-1");
  runtime().start(task, sink_);
  runtime().start(task, sink_);
  ASSERT_TRUE(sink_.wait_for("t1"));
  runtime().start(task, sink_);  // finished: reports again
  const auto again = sink_.wait_for("t1", 0, 2);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->state(), v1::TASK_STATE_SUCCEEDED);
  const std::string out = read(dir_ + "/instances/web-1/stdout.log");
  EXPECT_EQ(out.find("listening on"), out.rfind("listening on")) << out;
  EXPECT_EQ(runtime().running().size(), 1u);
}

TEST_F(ProcessRuntimeTest, NewRuntimeAdoptsTheRunningInstance) {
  auto task = start_task("t1", "web-1", {"--healthy-after-ms", "1500"});
  task.mutable_spec()
      ->mutable_process()
      ->mutable_health_check()
      ->mutable_start_period()
      ->set_seconds(30);
  runtime().start(task, sink_);
  ASSERT_TRUE(sink_.wait_for("t1", v1::TASK_STATE_RUNNING));
  const auto before = record("web-1");
  runtime_.reset();  // the agent dies mid-task; the service keeps running
  ASSERT_FALSE(gone(before.pid));
  EXPECT_TRUE(eventually([&] { return get(before.ports[0].host_port, "/") == "v1 web-1\n"; }));

  runtime().start(task, sink_);  // redelivered to the new agent process
  const auto done = sink_.wait_for("t1");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_SUCCEEDED) << done->detail();
  const auto after = record("web-1");
  EXPECT_EQ(after.pid, before.pid);
  EXPECT_EQ(after.start_time, before.start_time);
  EXPECT_EQ(get(after.ports[0].host_port, "/requests"), "1\n");  // the same process counted

  runtime_.reset();  // and a finished task is re-reported, not re-run
  runtime().start(task, sink_);
  const auto again = sink_.wait_for("t1", 0, 2);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_EQ(record("web-1").pid, before.pid);
}

TEST_F(ProcessRuntimeTest, StopKillsAServiceThatIgnoresSigterm) {
  options_.stop_timeout = 300ms;
  runtime().start(start_task("t1", "web-1", {"--ignore-sigterm"}), sink_);
  ASSERT_TRUE(sink_.wait_for("t1"));
  const int pid = record("web-1").pid;
  runtime().start(stop_task("s1", "web-1"), sink_);
  const auto done = sink_.wait_for("s1");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_NE(done->detail().find("SIGKILL"), std::string::npos) << done->detail();
  EXPECT_TRUE(gone(pid));
  runtime().start(stop_task("s2", "web-1"), sink_);  // already stopped: still fine
  ASSERT_TRUE(sink_.wait_for("s2"));
  EXPECT_EQ(sink_.wait_for("s2")->state(), v1::TASK_STATE_SUCCEEDED);
  runtime().start(stop_task("r1", "web-1", v1::TASK_KIND_REMOVE_SERVICE), sink_);
  ASSERT_TRUE(sink_.wait_for("r1"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/instances/web-1"));
}

TEST_F(ProcessRuntimeTest, RestartPolicyAlwaysRestartsAKilledChild) {
  auto task = start_task("t1", "web-1");
  task.mutable_spec()->mutable_process()->set_restart_policy(v1::RESTART_POLICY_ALWAYS);
  runtime().start(task, sink_);
  ASSERT_EQ(sink_.wait_for("t1")->state(), v1::TASK_STATE_SUCCEEDED);
  const int first = record("web-1").pid;
  kill(first, SIGKILL);
  ASSERT_TRUE(eventually([&] {
    const auto r = runtime().running();
    return r.size() == 1 && r[0].restart_count() == 1;
  }));
  const auto r = record("web-1");
  EXPECT_NE(r.pid, first);
  EXPECT_FALSE(gone(r.pid));
  EXPECT_TRUE(eventually([&] { return get(r.ports[0].host_port, "/") == "v1 web-1\n"; }));
}

TEST_F(ProcessRuntimeTest, ExecAndTcpHealthChecks) {
  auto exec = start_task("t1", "web-1");
  auto* check = exec.mutable_spec()->mutable_process()->mutable_health_check();
  check->mutable_exec()->add_argv("true");
  runtime().start(exec, sink_);
  auto done = sink_.wait_for("t1");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_SUCCEEDED) << done->detail();

  auto failing = start_task("t2", "web-2");
  failing.mutable_spec()->mutable_process()->mutable_health_check()->mutable_exec()->add_argv(
      "false");
  runtime().start(failing, sink_);
  done = sink_.wait_for("t2");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(done->health_samples(0).code(), 1);

  auto tcp = start_task("t3", "web-3");
  tcp.mutable_spec()->mutable_process()->mutable_health_check()->mutable_tcp()->set_port(8080);
  runtime().start(tcp, sink_);
  done = sink_.wait_for("t3");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_SUCCEEDED) << done->detail();

  v1::Task probe = stop_task("h1", "web-3", v1::TASK_KIND_HEALTH_CHECK);
  runtime().start(probe, sink_);
  done = sink_.wait_for("h1");
  ASSERT_TRUE(done);
  EXPECT_EQ(done->state(), v1::TASK_STATE_SUCCEEDED) << done->detail();
}

TEST_F(ProcessRuntimeTest, LogsLandInFilesAndRotate) {
  options_.log_max_bytes = 16;  // the service's first line is longer
  options_.log_keep = 2;
  runtime().start(start_task("t1", "web-1"), sink_);
  ASSERT_TRUE(sink_.wait_for("t1"));
  const std::string base = dir_ + "/instances/web-1/stdout.log";
  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(base + ".1"); }));
  EXPECT_NE(read(base + ".1").find("listening on"), std::string::npos);
  EXPECT_LE(std::filesystem::file_size(base), 16u);
}

}  // namespace
}  // namespace axion::agent
