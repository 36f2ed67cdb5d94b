// The "compose" runtime: runs APPLY_COMPOSE and STOP/REMOVE_SERVICE of a compose project with
// the host's Docker engine and compose command (compose_tasks.* does the work). Tasks queue for
// one worker thread, so two tasks never drive compose at once; a task id seen before is not run
// again — a finished one re-reports its terminal update, a queued or running one reports to the
// newest sink. Available when a Docker engine answers and a compose command exists (probed at
// construction and by refresh()).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/compose_cli.h"
#include "agent/runtime.h"

namespace axion::agent {

struct ComposeRuntimeOptions {
  // Compose files live in <state_dir>/compose/<project>/docker-compose.yml.
  std::filesystem::path state_dir;
  // Set on top of the agent's environment for docker and compose (e.g. DOCKER_HOST); without
  // it they use the agent's own.
  std::map<std::string, std::string> env;
  std::chrono::milliseconds poll_interval{500};                         // health polling
  std::chrono::milliseconds command_timeout{std::chrono::minutes(10)};  // one command
  std::chrono::milliseconds default_timeout{std::chrono::minutes(10)};  // tasks without deadline
  std::chrono::milliseconds probe_timeout{std::chrono::seconds(10)};    // availability checks
  std::size_t remembered_results = 1000;  // terminal updates kept for redelivered task ids
};

class ComposeRuntime final : public Runtime {
 public:
  // Probes the engine (blocks up to a few probe timeouts) and starts the worker thread.
  explicit ComposeRuntime(ComposeRuntimeOptions options);
  // Stops the running task's command and drops queued tasks, reporting nothing (the agent's
  // journal resumes them at its next start), joins.
  ~ComposeRuntime() override;
  ComposeRuntime(const ComposeRuntime&) = delete;
  ComposeRuntime& operator=(const ComposeRuntime&) = delete;

  std::string_view name() const override { return "compose"; }
  bool available() const override { return available_.load(); }
  // Reports ACCEPTED at once; the worker reports RUNNING and the terminal update. `sink` must
  // stay valid until the task's terminal update (or this runtime's destruction).
  void start(const axion::v1::Task& task, TaskSink& sink) override;
  // A queued task reports CANCELLED at once, a running one when its command is killed.
  void cancel(const std::string& task_id) override;

  // Probes the engine and the compose command again (blocking, like the constructor).
  void refresh();
  // Why available() is false; empty when it is true.
  std::string unavailable_reason() const;
  // The containers of the projects this agent applied (blocking: runs docker ps and inspect);
  // empty if the engine does not answer.
  std::vector<axion::v1::RunningService> running() const override;

 private:
  struct Job {
    axion::v1::Task task;
    TaskSink* sink;
    std::atomic<bool> cancelled{false};
  };
  enum class Phase { kQueued, kRunning, kDone };
  struct Record {
    Phase phase = Phase::kQueued;
    std::shared_ptr<Job> job;
    axion::v1::TaskUpdate terminal;
  };

  void work();
  axion::v1::TaskUpdate execute(Job& job);
  void report(Job& job, const axion::v1::TaskUpdate& update);
  // Records and reports the terminal update, once per task id (later calls are ignored).
  void finish(Job& job, const axion::v1::TaskUpdate& update);

  const ComposeRuntimeOptions options_;
  const DockerCli docker_;

  mutable std::mutex probe_mu_;
  std::atomic<bool> available_{false};
  std::vector<std::string> compose_;  // guarded by probe_mu_
  std::string problem_;               // guarded by probe_mu_
  bool probed_ = false;               // guarded by probe_mu_

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  std::deque<std::shared_ptr<Job>> queue_;
  std::map<std::string, Record> tasks_;
  std::deque<std::string> finished_order_;          // oldest first, for forgetting
  std::map<std::string, std::string> deployments_;  // project -> deployment of its last apply
  std::thread worker_;
};

}  // namespace axion::agent
