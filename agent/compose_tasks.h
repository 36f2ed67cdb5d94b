// The work of the compose runtime's tasks, one call per task run to its terminal TaskUpdate:
// APPLY_COMPOSE writes <state dir>/compose/<project>/docker-compose.yml, runs `up -d
// --remove-orphans` and waits until every container of the project runs and passes its health
// check; STOP_SERVICE / REMOVE_SERVICE of a project run `down` (REMOVE also drops the volumes
// and the directory). Commands and waits end early when the task is cancelled (CANCELLED) or its
// deadline passes (CANCELLED "deadline passed"). Queueing and idempotency live in
// compose_runtime.*.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "agent/compose_cli.h"
#include "axion/v1/agent.pb.h"

namespace axion::agent {

struct ComposeTaskContext {
  const DockerCli& docker;
  std::vector<std::string> compose;  // argv prefix of the compose command
  std::filesystem::path state_dir;
  std::chrono::milliseconds poll_interval;
  std::chrono::milliseconds command_timeout;  // one docker/compose command at most
  std::chrono::milliseconds default_timeout;  // a task without a deadline: FAILED after this
  const std::atomic<bool>& cancelled;
  // Sleeps up to the duration; returns false early once the task is cancelled.
  std::function<bool(std::chrono::milliseconds)> wait;
  // RUNNING progress (never a terminal state).
  std::function<void(const axion::v1::TaskUpdate&)> progress;
};

axion::v1::TaskUpdate run_compose_task(const axion::v1::Task& task, const ComposeTaskContext& ctx);

// <state dir>/compose/<project>: where a project's compose file lives.
std::filesystem::path compose_project_dir(const std::filesystem::path& state_dir,
                                          const std::string& project);

// A TaskUpdate for `task` stamped now; `output` is cut to its last 64 KiB.
axion::v1::TaskUpdate make_task_update(const axion::v1::Task& task, axion::v1::TaskState state,
                                       std::string detail, std::string output = {});

}  // namespace axion::agent
