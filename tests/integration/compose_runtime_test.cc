// ComposeRuntime against the real Docker engine of scripts/docker-engine (DOCKER_HOST) and the
// local images it builds (axion-test/web:1: busybox httpd serving $VERSION, with a health check).
// Without an engine the tests skip, or fail when AXION_REQUIRE_DOCKER=1 (scripts/test).
#include "agent/compose_runtime.h"

#include <gtest/gtest.h>
#include <httplib.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "agent/compose_tasks.h"
#include "tests/support/compose_project.h"
#include "tests/support/free_port.h"

namespace axion::agent {
namespace {

namespace v1 = axion::v1;
using std::chrono::milliseconds;

class RecordingSink : public TaskSink {
 public:
  void update(const v1::TaskUpdate& u) override {
    std::lock_guard lock(mu_);
    updates_.push_back(u);
    cv_.notify_all();
  }
  // The terminal update of `task_id`, waiting up to `timeout`.
  std::optional<v1::TaskUpdate> terminal(const std::string& task_id,
                                         milliseconds timeout = milliseconds(240000)) {
    std::unique_lock lock(mu_);
    std::optional<v1::TaskUpdate> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& u : updates_) {
        if (u.task_id() == task_id && u.state() >= v1::TASK_STATE_SUCCEEDED) found = u;
      }
      return found.has_value();
    });
    return found;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<v1::TaskUpdate> updates_;
};

using axion::testing::free_port;
using axion::testing::two_service_compose;

class ComposeRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    state_dir_ = std::filesystem::temp_directory_path() /
                 ("axion-compose-test-" + std::to_string(::getpid()));
    runtime_ = std::make_unique<ComposeRuntime>(options());
    if (!runtime_->available()) {
      const char* require = std::getenv("AXION_REQUIRE_DOCKER");
      if (require != nullptr && std::string(require) == "1") {
        FAIL() << "AXION_REQUIRE_DOCKER=1 but the compose runtime is not available: "
               << runtime_->unavailable_reason();
      }
      GTEST_SKIP() << "no Docker engine (start scripts/docker-engine and export DOCKER_HOST): "
                   << runtime_->unavailable_reason();
    }
    project_ = "axt-" + std::to_string(::getpid()) + "-" + std::to_string(counter_++);
  }
  void TearDown() override {
    if (runtime_ && runtime_->available() && !project_.empty()) {
      const auto u = run(v1::TASK_KIND_REMOVE_SERVICE, "");
      EXPECT_EQ(u.state(), v1::TASK_STATE_SUCCEEDED) << u.detail();
    }
    runtime_.reset();
    std::filesystem::remove_all(state_dir_);
  }
  ComposeRuntimeOptions options() const {
    ComposeRuntimeOptions o;
    o.state_dir = state_dir_;
    o.poll_interval = milliseconds(300);
    return o;
  }
  v1::TaskUpdate run(v1::TaskKind kind, const std::string& yaml) {
    v1::Task task;
    task.set_task_id(project_ + "-task-" + std::to_string(tasks_++));
    task.set_kind(kind);
    task.mutable_spec()->set_compose_project(project_);
    task.mutable_spec()->set_compose_yaml(yaml);
    runtime_->start(task, sink_);
    auto u = sink_.terminal(task.task_id());
    EXPECT_TRUE(u.has_value()) << "no terminal update for " << task.task_id();
    return u.value_or(v1::TaskUpdate{});
  }
  std::vector<std::string> project_containers() const {
    DockerCli docker({});
    auto c = docker.containers(project_, milliseconds(30000));
    EXPECT_TRUE(c.ok()) << c.status().to_string();
    std::vector<std::string> names;
    if (c.ok())
      for (const auto& s : *c) names.push_back(s.name);
    return names;
  }

  static inline int counter_ = 0;
  std::filesystem::path state_dir_;
  std::unique_ptr<ComposeRuntime> runtime_;
  std::string project_;
  int tasks_ = 0;
  RecordingSink sink_;
};

std::string get(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  auto res = client.Get("/");
  return res ? res->body : "";
}

TEST_F(ComposeRuntimeTest, TwoServicesComeUpHealthyAndAnUpdateServesTheNewVersion) {
  const int port = free_port();
  auto u = run(v1::TASK_KIND_APPLY_COMPOSE, two_service_compose(port, "v1"));
  ASSERT_EQ(u.state(), v1::TASK_STATE_SUCCEEDED) << u.detail() << "\n" << u.output();
  EXPECT_EQ(u.detail(), "api: running healthy; web: running healthy");
  EXPECT_EQ(get(port), "v1\n");

  u = run(v1::TASK_KIND_APPLY_COMPOSE, two_service_compose(port, "v2"));
  ASSERT_EQ(u.state(), v1::TASK_STATE_SUCCEEDED) << u.detail() << "\n" << u.output();
  EXPECT_EQ(get(port), "v2\n");
  EXPECT_EQ(project_containers().size(), 2u);
}

TEST_F(ComposeRuntimeTest, AFailingHealthCheckFailsNamingTheContainer) {
  const std::string yaml =
      "version: \"2.4\"\nservices:\n  sick:\n    image: axion-test/web:1\n"
      "    healthcheck:\n      test: [\"CMD\", \"false\"]\n      interval: 1s\n      retries: 2\n";
  const auto u = run(v1::TASK_KIND_APPLY_COMPOSE, yaml);
  EXPECT_EQ(u.state(), v1::TASK_STATE_FAILED) << u.detail();
  EXPECT_NE(u.detail().find("sick: running unhealthy"), std::string::npos) << u.detail();
}

TEST_F(ComposeRuntimeTest, RemoveLeavesNoContainerAndNoFiles) {
  auto u = run(v1::TASK_KIND_APPLY_COMPOSE, two_service_compose(free_port(), "v1"));
  ASSERT_EQ(u.state(), v1::TASK_STATE_SUCCEEDED) << u.detail() << "\n" << u.output();
  u = run(v1::TASK_KIND_REMOVE_SERVICE, "");
  EXPECT_EQ(u.state(), v1::TASK_STATE_SUCCEEDED) << u.detail();
  EXPECT_TRUE(project_containers().empty());
  EXPECT_FALSE(std::filesystem::exists(compose_project_dir(state_dir_, project_)));
}

TEST_F(ComposeRuntimeTest, InvalidProjectNameFails) {
  v1::Task task;
  task.set_task_id("bad-name");
  task.set_kind(v1::TASK_KIND_APPLY_COMPOSE);
  task.mutable_spec()->set_compose_project("Bad_Name");
  task.mutable_spec()->set_compose_yaml("services: {}\n");
  runtime_->start(task, sink_);
  const auto u = sink_.terminal("bad-name");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->state(), v1::TASK_STATE_FAILED);
  EXPECT_NE(u->detail().find("is invalid"), std::string::npos) << u->detail();
}

TEST(ComposeRuntimeUnavailable, NoEngineMeansNotAvailableAndDispatchFails) {
  const auto dir = std::filesystem::temp_directory_path() / "axion-compose-nothing";
  std::filesystem::create_directories(dir);
  ComposeRuntimeOptions o;
  o.state_dir = dir;
  o.env["DOCKER_HOST"] = "unix://" + (dir / "nobody-listens.sock").string();
  o.probe_timeout = milliseconds(20000);
  auto runtime = std::make_unique<ComposeRuntime>(o);
  EXPECT_FALSE(runtime->available());
  EXPECT_FALSE(runtime->unavailable_reason().empty());
  Runtimes runtimes;
  runtimes.add(std::move(runtime));
  RecordingSink sink;
  v1::Task task;
  task.set_task_id("no-engine");
  task.set_kind(v1::TASK_KIND_APPLY_COMPOSE);
  task.mutable_spec()->set_compose_project("p");
  runtimes.dispatch(task, sink);
  const auto u = sink.terminal("no-engine", milliseconds(1000));
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->state(), v1::TASK_STATE_FAILED);
  EXPECT_NE(u->detail().find("runtime 'compose' is not available"), std::string::npos)
      << u->detail();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace axion::agent
