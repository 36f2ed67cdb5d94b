#include "agent/compose_runtime.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>

#include "agent/compose_tasks.h"

namespace axion::agent {

using axion::v1::Task;
using axion::v1::TaskUpdate;

namespace {

[[maybe_unused]] bool terminal(axion::v1::TaskState state) {
  return state == axion::v1::TASK_STATE_SUCCEEDED || state == axion::v1::TASK_STATE_FAILED ||
         state == axion::v1::TASK_STATE_CANCELLED;
}

}  // namespace

ComposeRuntime::ComposeRuntime(ComposeRuntimeOptions options)
    : options_(std::move(options)), docker_(options_.env) {
  refresh();
  worker_ = std::thread([this] { work(); });
}

ComposeRuntime::~ComposeRuntime() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    for (auto& [id, record] : tasks_) {
      if (record.phase == Phase::kRunning) record.job->cancelled = true;
    }
  }
  cv_.notify_all();
  worker_.join();
}

void ComposeRuntime::refresh() {
  const DockerCli::Probe probe = docker_.probe(options_.probe_timeout);
  std::lock_guard lock(probe_mu_);
  compose_ = probe.compose;
  problem_ = probe.problem;
  const bool now = probe.engine && !probe.compose.empty();
  // Logged on the first probe and on changes, not on every refresh.
  if (available_.exchange(now) != now || !probed_) {
    if (now) {
      std::string command;
      for (const auto& part : compose_) command += (command.empty() ? "" : " ") + part;
      spdlog::info("compose runtime available (compose command: {})", command);
    } else {
      spdlog::warn("compose runtime not available: {}", problem_);
    }
  }
  probed_ = true;
}

std::string ComposeRuntime::unavailable_reason() const {
  std::lock_guard lock(probe_mu_);
  return available_.load() ? std::string() : problem_;
}

void ComposeRuntime::start(const Task& task, TaskSink& sink) {
  std::shared_ptr<Job> job;
  {
    std::unique_lock lock(mu_);
    if (auto it = tasks_.find(task.task_id()); it != tasks_.end()) {
      if (it->second.phase != Phase::kDone) {
        it->second.job->sink = &sink;  // a redelivery: the task reports to the newest stream
        return;
      }
      const TaskUpdate again = it->second.terminal;
      lock.unlock();
      sink.update(again);
      return;
    }
    job = std::make_shared<Job>();
    job->task = task;
    job->sink = &sink;
    tasks_[task.task_id()] = Record{.phase = Phase::kQueued, .job = job, .terminal = {}};
  }
  // ACCEPTED goes out before the worker can see the job, so it never follows RUNNING.
  sink.update(make_task_update(task, axion::v1::TASK_STATE_ACCEPTED, "queued"));
  {
    std::lock_guard lock(mu_);
    if (stopping_ || job->cancelled.load()) return;  // cancelled meanwhile: already reported
    queue_.push_back(job);
  }
  cv_.notify_all();
}

void ComposeRuntime::cancel(const std::string& task_id) {
  std::shared_ptr<Job> queued;
  {
    std::lock_guard lock(mu_);
    auto it = tasks_.find(task_id);
    if (it == tasks_.end() || it->second.phase == Phase::kDone) return;
    it->second.job->cancelled = true;
    if (it->second.phase == Phase::kQueued) {
      queued = it->second.job;
      std::erase(queue_, queued);
    }
  }
  cv_.notify_all();  // wakes a health wait of the running task
  if (queued) {
    finish(*queued, make_task_update(queued->task, axion::v1::TASK_STATE_CANCELLED,
                                     "cancelled before it started"));
  }
}

void ComposeRuntime::work() {
  while (true) {
    std::shared_ptr<Job> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      job = queue_.front();
      queue_.pop_front();
      auto it = tasks_.find(job->task.task_id());
      if (it == tasks_.end() || it->second.phase != Phase::kQueued) continue;
      it->second.phase = Phase::kRunning;
    }
    finish(*job, execute(*job));
  }
}

TaskUpdate ComposeRuntime::execute(Job& job) {
  if (job.cancelled.load()) {
    return make_task_update(job.task, axion::v1::TASK_STATE_CANCELLED,
                            "cancelled before it started");
  }
  std::vector<std::string> compose;
  {
    std::lock_guard lock(probe_mu_);
    compose = compose_;
  }
  const ComposeTaskContext ctx{
      .docker = docker_,
      .compose = std::move(compose),
      .state_dir = options_.state_dir,
      .poll_interval = options_.poll_interval,
      .command_timeout = options_.command_timeout,
      .default_timeout = options_.default_timeout,
      .cancelled = job.cancelled,
      .wait =
          [&](std::chrono::milliseconds d) {
            std::unique_lock lock(mu_);
            return !cv_.wait_for(lock, d, [&] { return job.cancelled.load() || stopping_; });
          },
      .progress = [&](const TaskUpdate& u) { report(job, u); },
  };
  spdlog::info("compose task {} ({} of project '{}') started", job.task.task_id(),
               axion::v1::TaskKind_Name(job.task.kind()), job.task.spec().compose_project());
  TaskUpdate result = run_compose_task(job.task, ctx);
  if (result.state() == axion::v1::TASK_STATE_SUCCEEDED &&
      job.task.kind() == axion::v1::TASK_KIND_APPLY_COMPOSE) {
    std::lock_guard lock(mu_);
    deployments_[job.task.spec().compose_project()] = job.task.deployment_id();
  }
  return result;
}

void ComposeRuntime::report(Job& job, const TaskUpdate& update) {
  TaskSink* sink;
  {
    std::lock_guard lock(mu_);
    sink = job.sink;
  }
  sink->update(update);
}

void ComposeRuntime::finish(Job& job, const TaskUpdate& update) {
  assert(terminal(update.state()));
  TaskSink* sink;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      // Interrupted because the agent stops, not cancelled by anyone: no result is journaled,
      // so the next agent process resumes the task (compose up and down are idempotent).
      spdlog::info("compose task {} interrupted by the agent's stop; it resumes at the next start",
                   job.task.task_id());
      return;
    }
    Record& record = tasks_[job.task.task_id()];
    if (record.phase == Phase::kDone) return;
    record.phase = Phase::kDone;
    record.terminal = update;
    record.job.reset();
    sink = job.sink;
    finished_order_.push_back(job.task.task_id());
    while (finished_order_.size() > options_.remembered_results) {
      tasks_.erase(finished_order_.front());
      finished_order_.pop_front();
    }
  }
  const auto log =
      update.state() == axion::v1::TASK_STATE_SUCCEEDED ? spdlog::level::info : spdlog::level::warn;
  spdlog::log(log, "compose task {} {}: {}", job.task.task_id(),
              axion::v1::TaskState_Name(update.state()), update.detail());
  sink->update(update);
}

std::vector<axion::v1::RunningService> ComposeRuntime::running() const {
  std::vector<axion::v1::RunningService> out;
  // Heartbeats wait for this: an engine slower than this leaves the list empty for one beat.
  auto containers =
      docker_.containers("", std::min(options_.probe_timeout, std::chrono::milliseconds(2000)));
  if (!containers.ok()) return out;
  std::map<std::string, std::string> deployments;
  {
    std::lock_guard lock(mu_);
    deployments = deployments_;
  }
  for (const auto& c : *containers) {
    // Only projects this agent applied (their directory exists), not other compose users'.
    std::error_code ec;
    if (!is_dns_label(c.project) ||
        !std::filesystem::is_directory(compose_project_dir(options_.state_dir, c.project), ec)) {
      continue;
    }
    if (c.status != "running" && c.status != "restarting") continue;
    axion::v1::RunningService s;
    s.set_service(c.service);
    s.set_instance_id(c.id.substr(0, 12));
    s.set_healthy(c.status == "running" && (c.health.empty() || c.health == "healthy"));
    s.set_restart_count(c.restart_count);
    if (auto it = deployments.find(c.project); it != deployments.end()) {
      s.set_deployment_id(it->second);
    }
    google::protobuf::Timestamp started;
    if (google::protobuf::util::TimeUtil::FromString(c.started_at, &started)) {
      *s.mutable_started_at() = started;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace axion::agent
