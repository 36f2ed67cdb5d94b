// ProcessRuntime: construction and adoption of recorded instances, the task entry points, and
// the supervisor loop (reaping, restarts, log rotation). The tasks themselves are in
// process_runtime_tasks.cc.
#include "agent/process_runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>

#include "agent/instance_env.h"
#include "agent/instance_logs.h"
#include "common/wall_clock.h"

namespace axion::agent {

namespace v1 = axion::v1;

namespace {

std::string log_path(const std::string& dir, const char* name) {
  return (std::filesystem::path(dir) / name).string();
}

}  // namespace

bool should_restart(v1::RestartPolicy policy, const ExitStatus& exit) {
  switch (policy) {
    case v1::RESTART_POLICY_NO:
      return false;
    case v1::RESTART_POLICY_ALWAYS:
    case v1::RESTART_POLICY_UNLESS_STOPPED:  // a stop on request never restarts anyway
      return true;
    default:  // UNSPECIFIED and ON_FAILURE
      return exit.failed();
  }
}

std::chrono::milliseconds next_backoff(std::chrono::milliseconds current,
                                       std::chrono::milliseconds max) {
  return std::min(current * 2, max);
}

ProcessRuntime::ProcessRuntime(std::string state_dir, ProcessRuntimeOptions options)
    : state_dir_(std::move(state_dir)), options_(options), agent_path_([] {
        const char* path = std::getenv("PATH");
        return std::string(path ? path : "");
      }()) {
  adopt_recorded_instances();
  supervisor_ = std::thread([this] { supervise(); });
}

ProcessRuntime::~ProcessRuntime() {
  {
    std::lock_guard lock(mu_);
    shutting_down_ = true;
  }
  cv_.notify_all();
  if (supervisor_.joinable()) supervisor_.join();
  // Tasks in progress end without a terminal update: their records let the next agent process
  // resume them when the control plane redelivers them. The services keep running.
  for (auto& [id, job] : jobs_) {
    if (job->thread.joinable()) job->thread.join();
  }
}

void ProcessRuntime::adopt_recorded_instances() {
  const auto root = std::filesystem::path(state_dir_) / "instances";
  std::error_code ec;
  if (!std::filesystem::is_directory(root, ec)) return;
  const auto now = Clock::now();
  for (const auto& entry : std::filesystem::directory_iterator(root, ec)) {
    if (!entry.is_directory()) continue;
    auto record = load_record(entry.path().string());
    if (!record.ok()) {
      spdlog::warn("process runtime: skipping {}: {}", entry.path().string(),
                   record.status().message());
      continue;
    }
    auto instance = std::make_unique<Instance>();
    instance->record = std::move(record).value();
    instance->dir = entry.path().string();
    const auto& r = instance->record;
    instance->running = r.pid > 0 && process_alive(r.pid, r.start_time);
    instance->task_succeeded = r.finished && r.terminal_state == v1::TASK_STATE_SUCCEEDED;
    instance->healthy = instance->task_succeeded && instance->running;
    instance->stop_requested = r.state == "stopped" || r.state == "failed";
    instance->backoff = options_.restart_backoff_min;
    instance->spawned_at = now - std::chrono::milliseconds(
                                     std::max<std::int64_t>(0, wall_clock_ms() - r.started_at_ms));
    if (instance->running) {
      spdlog::info("process runtime: adopted instance {} of {} (pid {})", r.instance_id, r.service,
                   r.pid);
    } else if (instance->task_succeeded && !instance->stop_requested &&
               should_restart(r.spec.restart_policy(), ExitStatus{false, -1, 0})) {
      // It died while no agent watched it: its restart policy still holds.
      instance->restart_due = true;
      instance->next_restart = now;
    }
    instances_[instance->record.instance_id] = std::move(instance);
  }
}

void ProcessRuntime::start(const v1::Task& task, TaskSink& sink) {
  std::unique_lock lock(mu_);
  if (shutting_down_) return;
  if (const auto it = jobs_.find(task.task_id()); it != jobs_.end()) {
    // A redelivery: a running task keeps going, a finished one says again how it ended.
    Job& job = *it->second;
    job.sink = &sink;
    if (!job.finished) return;
    const v1::TaskUpdate terminal = job.terminal;
    lock.unlock();
    sink.update(terminal);
    return;
  }
  auto job = std::make_unique<Job>();
  job->task = task;
  job->sink = &sink;
  Job* raw = job.get();
  jobs_[task.task_id()] = std::move(job);
  raw->thread = std::thread([this, raw] { run_job(*raw); });
}

void ProcessRuntime::cancel(const std::string& task_id) {
  {
    std::lock_guard lock(mu_);
    const auto it = jobs_.find(task_id);
    if (it == jobs_.end() || it->second->finished) return;
    it->second->cancel_requested = true;
  }
  cv_.notify_all();
}

std::vector<v1::RunningService> ProcessRuntime::running() const {
  std::lock_guard lock(mu_);
  std::vector<v1::RunningService> out;
  for (const auto& [id, instance] : instances_) {
    if (!instance->running) continue;
    const auto& r = instance->record;
    v1::RunningService s;
    s.set_service(r.service);
    s.set_deployment_id(r.deployment_id);
    s.set_instance_id(r.instance_id);
    s.set_healthy(instance->healthy);
    s.set_restart_count(r.restart_count);
    s.mutable_started_at()->set_seconds(r.started_at_ms / 1000);
    s.mutable_started_at()->set_nanos(static_cast<int>(r.started_at_ms % 1000) * 1000000);
    out.push_back(std::move(s));
  }
  return out;
}

void ProcessRuntime::stop_all() {
  std::vector<std::string> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, instance] : instances_) ids.push_back(id);
  }
  for (const auto& id : ids) stop_instance(id);
}

ProcessRuntime::Instance* ProcessRuntime::find_locked(const std::string& instance_id) {
  const auto it = instances_.find(instance_id);
  return it == instances_.end() ? nullptr : it->second.get();
}

void ProcessRuntime::persist_locked(const Instance& instance) {
  const Status saved = save_record(instance.dir, instance.record);
  if (!saved.ok()) {
    // The instance runs on; only an agent restart would lose track of it.
    spdlog::error("process runtime: cannot record instance {}: {}", instance.record.instance_id,
                  saved.message());
  }
}

ProbeContext ProcessRuntime::probe_context_locked(const Instance& instance) const {
  const auto& spec = instance.record.spec;
  return ProbeContext{
      instance.record.ports, build_environment(spec, instance.record.ports, agent_path_),
      spec.workdir().empty() ? instance.dir : spec.workdir(), service_path(spec, agent_path_)};
}

Status ProcessRuntime::launch_locked(Instance& instance) {
  auto& r = instance.record;
  const auto& spec = r.spec;
  std::error_code ec;
  std::filesystem::create_directories(instance.dir, ec);
  if (ec) return unavailable("cannot create " + instance.dir + ": " + ec.message());
  const std::string path_env = service_path(spec, agent_path_);
  auto program = resolve_program(spec.argv(0), path_env);
  if (!program.ok()) return program.status();
  // Files, not pipes: the service keeps writing after the agent dies; O_APPEND keeps its writes
  // at the end when the agent truncates a file for rotation.
  const int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
  const int out = open(log_path(instance.dir, "stdout.log").c_str(), flags, 0640);
  const int err = open(log_path(instance.dir, "stderr.log").c_str(), flags, 0640);
  if (out < 0 || err < 0) {
    const std::string why = std::strerror(errno);
    if (out >= 0) close(out);
    if (err >= 0) close(err);
    return unavailable("cannot open the log files in " + instance.dir + ": " + why);
  }
  SpawnRequest request{*program,
                       {spec.argv().begin(), spec.argv().end()},
                       build_environment(spec, r.ports, agent_path_),
                       spec.workdir().empty() ? instance.dir : spec.workdir(),
                       out,
                       err};
  auto pid = spawn_process(request);
  close(out);
  close(err);
  if (!pid.ok()) return pid.status();
  r.pid = *pid;
  // A process that already exited is still a zombie of ours here, so its start time is there.
  r.start_time = process_start_time(*pid).value_or(0);
  r.started_at_ms = wall_clock_ms();
  r.state = "running";
  instance.running = true;
  instance.last_exit.reset();
  instance.healthy = false;
  instance.restart_due = false;
  instance.spawned_at = Clock::now();
  persist_locked(instance);
  spdlog::info("process runtime: started instance {} of {} (pid {}): {}", r.instance_id, r.service,
               r.pid, *program);
  return ok_status();
}

bool ProcessRuntime::refresh_locked(Instance& instance) {
  if (!instance.running) return false;
  auto& r = instance.record;
  const auto exit = poll_exit(r.pid, r.start_time);
  if (!exit) return false;
  instance.running = false;
  instance.healthy = false;
  instance.last_exit = exit;
  // Stragglers of its process group (children it left) go with it.
  signal_group(r.pid, SIGKILL);
  r.state = instance.stop_requested ? "stopped" : "exited";
  spdlog::info("process runtime: instance {} of {} (pid {}) {}", r.instance_id, r.service, r.pid,
               exit->describe());
  if (instance.task_succeeded && !instance.stop_requested &&
      should_restart(r.spec.restart_policy(), *exit)) {
    // A process that ran for a minute earned a fresh backoff.
    if (Clock::now() - instance.spawned_at > std::chrono::minutes(1) ||
        instance.backoff.count() == 0) {
      instance.backoff = options_.restart_backoff_min;
    }
    instance.restart_due = true;
    instance.next_restart = Clock::now() + instance.backoff;
    instance.backoff = next_backoff(instance.backoff, options_.restart_backoff_max);
  }
  persist_locked(instance);
  cv_.notify_all();
  return true;
}

void ProcessRuntime::supervise() {
  auto next_rotation = Clock::now();
  std::unique_lock lock(mu_);
  while (!shutting_down_) {
    std::vector<std::string> logs;
    std::vector<std::thread> done;
    const auto now = Clock::now();
    for (auto& [id, instance] : instances_) {
      if (instance->running) {
        refresh_locked(*instance);
      } else if (instance->restart_due && !instance->stop_requested &&
                 now >= instance->next_restart) {
        ++instance->record.restart_count;
        const Status launched = launch_locked(*instance);
        if (!launched.ok()) {
          spdlog::error("process runtime: cannot restart instance {}: {}", id, launched.message());
          instance->restart_due = true;
          instance->next_restart = now + instance->backoff;
          instance->backoff = next_backoff(instance->backoff, options_.restart_backoff_max);
        } else {
          // Healthy as far as anyone knows: its START proved the command; heartbeats report it.
          instance->healthy = true;
        }
      }
      if (now >= next_rotation) {
        logs.push_back(log_path(instance->dir, "stdout.log"));
        logs.push_back(log_path(instance->dir, "stderr.log"));
      }
    }
    for (auto& [id, job] : jobs_) {
      if (job->finished && job->thread.joinable()) done.push_back(std::move(job->thread));
    }
    if (now >= next_rotation) next_rotation = now + std::chrono::seconds(1);
    lock.unlock();
    for (auto& t : done) t.join();
    for (const auto& path : logs) {
      const auto rotated = rotate_if_larger(path, options_.log_max_bytes, options_.log_keep);
      if (!rotated.ok()) spdlog::warn("process runtime: {}", rotated.status().message());
    }
    lock.lock();
    cv_.wait_for(lock, options_.poll_interval, [this] { return shutting_down_; });
  }
}

}  // namespace axion::agent
