// ProcessRuntime's tasks: START_SERVICE (spawn or adopt, then watch until healthy), STOP_SERVICE
// and REMOVE_SERVICE (graceful stop), HEALTH_CHECK (watch a running instance), PREPARE_INFRA
// (process_runtime_prepare.cc), and the shared
// watch loop that decides how each ends.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <filesystem>
#include <set>

#include "agent/instance_env.h"
#include "agent/instance_logs.h"
#include "agent/process_runtime.h"

namespace axion::agent {

namespace v1 = axion::v1;

namespace {

constexpr std::size_t kOutputLimit = 64 * 1024;
// LogLines: at most this many per output file and pass (a pass every 100 ms or probe), cut
// at this length.
constexpr std::size_t kLogLinesPerPass = 200;
constexpr std::size_t kLogLineBytes = 4096;

google::protobuf::Timestamp now_timestamp() {
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  google::protobuf::Timestamp t;
  t.set_seconds(std::chrono::duration_cast<std::chrono::seconds>(wall).count());
  t.set_nanos(static_cast<int>(std::chrono::duration_cast<std::chrono::nanoseconds>(wall).count() %
                               1000000000));
  return t;
}

std::optional<v1::HealthCheck> check_of(const v1::ProcessSpec& spec) {
  if (!spec.has_health_check() ||
      spec.health_check().kind_case() == v1::HealthCheck::KIND_NOT_SET) {
    return std::nullopt;
  }
  return spec.health_check();
}

std::string output_file(const std::string& dir, const char* name) {
  return (std::filesystem::path(dir) / name).string();
}

std::string output_of(const std::string& dir) {
  return output_tail(output_file(dir, "stdout.log"), output_file(dir, "stderr.log"), kOutputLimit);
}

void set_ports(v1::TaskUpdate& update, const std::vector<PortBinding>& ports) {
  for (const auto& p : ports) {
    (*update.mutable_ports())[p.name.empty() ? std::to_string(p.container_port) : p.name] =
        p.host_port;
  }
}

}  // namespace

void ProcessRuntime::report(Job& job, v1::TaskUpdate update) {
  update.set_task_id(job.task.task_id());
  *update.mutable_at() = now_timestamp();
  TaskSink* sink;
  {
    std::lock_guard lock(mu_);
    sink = job.sink;
  }
  sink->update(update);
}

void ProcessRuntime::forward_output(Job& job, OutputFollowers& output) {
  TaskSink* sink;
  {
    std::lock_guard lock(mu_);
    sink = job.sink;
  }
  const auto& spec = job.task.spec().process();
  for (auto [follower, stream] : {std::pair{&output.out, v1::LOG_STREAM_STDOUT},
                                  std::pair{&output.err, v1::LOG_STREAM_STDERR}}) {
    for (auto& text : follower->next_lines(kLogLinesPerPass, kLogLineBytes)) {
      v1::LogLine line;
      line.set_task_id(job.task.task_id());
      line.set_deployment_id(job.task.deployment_id());
      line.set_service(spec.service());
      line.set_stream(stream);
      line.set_line(std::move(text));
      *line.mutable_at() = now_timestamp();
      sink->log(line);
    }
  }
}

void ProcessRuntime::finish(Job& job, v1::TaskState state, std::string detail,
                            std::optional<ExitStatus> exit, std::string output) {
  v1::TaskUpdate update;
  update.set_task_id(job.task.task_id());
  update.set_state(state);
  update.set_detail(std::move(detail));
  if (exit) update.set_exit_code(exit->code);
  if (output.size() > kOutputLimit) output = output.substr(output.size() - kOutputLimit);
  update.set_output(std::move(output));
  *update.mutable_at() = now_timestamp();
  TaskSink* sink;
  {
    std::lock_guard lock(mu_);
    for (const auto& s : job.samples) *update.add_health_samples() = s;
    job.terminal = update;
    job.finished = true;
    sink = job.sink;
    // A START's outcome is part of its instance's record, re-reported on redelivery after an
    // agent restart.
    if (job.task.kind() == v1::TASK_KIND_START_SERVICE) {
      Instance* instance = find_locked(job.task.spec().process().instance_id());
      if (instance && instance->record.task_id == job.task.task_id()) {
        auto& r = instance->record;
        r.finished = true;
        r.terminal_state = state;
        r.detail = update.detail();
        r.exit_code = update.exit_code();
        r.output = update.output();
        instance->task_succeeded = state == v1::TASK_STATE_SUCCEEDED;
        instance->healthy = instance->task_succeeded && instance->running;
        if (state != v1::TASK_STATE_SUCCEEDED) r.state = "failed";
        persist_locked(*instance);
        set_ports(update, r.ports);
      }
    }
  }
  sink->update(update);
}

void ProcessRuntime::run_job(Job& job) {
  switch (job.task.kind()) {
    case v1::TASK_KIND_START_SERVICE:
      return run_start(job);
    case v1::TASK_KIND_STOP_SERVICE:
      return run_stop(job, false);
    case v1::TASK_KIND_REMOVE_SERVICE:
      return run_stop(job, true);
    case v1::TASK_KIND_HEALTH_CHECK:
      return run_health_check(job);
    case v1::TASK_KIND_PREPARE_INFRA:
      return run_prepare(job);
    default:
      return finish(
          job, v1::TASK_STATE_FAILED,
          "the process runtime does not run " + v1::TaskKind_Name(job.task.kind()) + " tasks");
  }
}

void ProcessRuntime::run_start(Job& job) {
  const auto& spec = job.task.spec().process();
  const auto failed = [&](std::string detail) {
    finish(job, v1::TASK_STATE_FAILED, std::move(detail));
  };
  if (!spec.image().empty()) {
    return failed("the process runtime runs commands, not images; use the compose runtime");
  }
  if (spec.argv().empty()) {
    return failed(
        "spec.process.argv is empty: START_SERVICE needs the command to run (an "
        "absolute path or a name found in PATH, then its arguments)");
  }
  if (!is_dns_label(spec.instance_id())) {
    return failed("spec.process.instance_id '" + spec.instance_id() +
                  "' is not a DNS label (1-63 of a-z, 0-9 and '-')");
  }
  if (!spec.service().empty() && !is_dns_label(spec.service())) {
    return failed("spec.process.service '" + spec.service() +
                  "' is not a DNS label (1-63 of a-z, 0-9 and '-')");
  }
  if (!spec.workdir().empty() && !std::filesystem::is_directory(spec.workdir())) {
    return failed("the working directory '" + spec.workdir() + "' does not exist on this host");
  }
  if (deadline_passed(job.task)) return finish(job, v1::TASK_STATE_CANCELLED, "deadline passed");

  const std::string id = spec.instance_id();
  const std::string hash = spec_hash(spec);
  std::unique_lock lock(mu_);
  Instance* instance = find_locked(id);
  if (instance) refresh_locked(*instance);
  if (instance && instance->record.task_id == job.task.task_id() && instance->record.finished) {
    // Finished before an agent restart: say again how it ended, start nothing.
    const auto& r = instance->record;
    const auto state = static_cast<v1::TaskState>(r.terminal_state);
    const std::string detail = r.detail, output = r.output;
    const int code = r.exit_code;
    lock.unlock();
    return finish(job, state, detail,
                  code != 0 ? std::optional<ExitStatus>(ExitStatus{true, code, 0}) : std::nullopt,
                  output);
  }
  bool adopted = false;
  if (instance && instance->running) {
    if (instance->record.spec_hash == hash) {
      adopted = true;  // the process that runs is the one asked for: no second one
    } else {
      lock.unlock();
      stop_instance(id);  // the old spec's process makes room for the new one
      lock.lock();
      instance = find_locked(id);
    }
  }
  if (!instance) {
    auto fresh = std::make_unique<Instance>();
    fresh->dir = (std::filesystem::path(state_dir_) / "instances" / id).string();
    instance = fresh.get();
    instances_[id] = std::move(fresh);
  }
  auto& r = instance->record;
  r.instance_id = id;
  r.service = spec.service();
  r.deployment_id = job.task.deployment_id();
  r.task_id = job.task.task_id();
  r.finished = false;
  r.terminal_state = 0;
  r.detail.clear();
  r.output.clear();
  r.exit_code = 0;
  instance->stop_requested = false;
  instance->task_succeeded = false;
  instance->restart_due = false;
  instance->backoff = options_.restart_backoff_min;
  // Output from here on is this task's (the files are appended to across restarts).
  OutputFollowers output{LineFollower(output_file(instance->dir, "stdout.log"),
                                      file_size(output_file(instance->dir, "stdout.log"))),
                         LineFollower(output_file(instance->dir, "stderr.log"),
                                      file_size(output_file(instance->dir, "stderr.log")))};
  std::string detail;
  if (adopted) {
    persist_locked(*instance);
    detail = "instance " + id + " already runs (pid " + std::to_string(r.pid) + "); checking it";
  } else {
    r.spec = spec;
    r.spec_hash = hash;
    r.restart_count = 0;
    r.ports.clear();
    std::set<std::uint32_t> taken;
    for (const auto& [other_id, other] : instances_) {
      for (const auto& p : other->record.ports) taken.insert(p.host_port);
    }
    for (const auto& port : spec.ports()) {
      PortBinding binding{port.name(), port.container_port(), 0};
      if (port.has_host_port() && port.host_port() != 0) {
        binding.host_port = port.host_port();
      } else {
        auto allocated = allocate_port(options_.port_range_first, options_.port_range_last, taken);
        if (!allocated.ok()) {
          lock.unlock();
          return failed(allocated.status().message());
        }
        binding.host_port = *allocated;
      }
      taken.insert(binding.host_port);
      r.ports.push_back(binding);
    }
    const Status launched = launch_locked(*instance);
    if (!launched.ok()) {
      r.state = "failed";
      persist_locked(*instance);
      lock.unlock();
      return failed("cannot start " + spec.argv(0) + ": " + launched.message());
    }
    detail = "started pid " + std::to_string(r.pid);
  }
  const auto since = instance->spawned_at;
  v1::TaskUpdate running;
  set_ports(running, r.ports);
  lock.unlock();

  running.set_state(v1::TASK_STATE_RUNNING);
  running.set_detail(detail);
  report(job, running);

  const WatchResult result = watch(job, id, check_of(spec), since, &output);
  forward_output(job, output);  // what it wrote last
  switch (result.what) {
    case Watch::kShutdown:
      return;  // the agent stops; the record lets the next agent process resume this task
    case Watch::kHealthy:
      return finish(job, v1::TASK_STATE_SUCCEEDED, result.detail);
    case Watch::kExited:
      return finish(job, v1::TASK_STATE_FAILED,
                    "instance " + id + " " + result.exit.describe() + " before it became healthy",
                    result.exit, output_of(instance_dir_of(id)));
    case Watch::kUnhealthy: {
      const std::string stopped = stop_instance(id);
      return finish(job, v1::TASK_STATE_FAILED, result.detail + "; " + stopped, std::nullopt,
                    output_of(instance_dir_of(id)));
    }
    case Watch::kStopped:
      return finish(job, v1::TASK_STATE_CANCELLED, result.detail);
    case Watch::kCancelled:
    case Watch::kDeadline: {
      const std::string stopped = stop_instance(id);
      return finish(job, v1::TASK_STATE_CANCELLED, result.detail + "; " + stopped);
    }
  }
}

std::string ProcessRuntime::instance_dir_of(const std::string& instance_id) const {
  return (std::filesystem::path(state_dir_) / "instances" / instance_id).string();
}

void ProcessRuntime::run_stop(Job& job, bool remove) {
  const std::string id = job.task.spec().process().instance_id();
  if (!is_dns_label(id)) {
    return finish(
        job, v1::TASK_STATE_FAILED,
        "spec.process.instance_id '" + id + "' is not a DNS label (1-63 of a-z, 0-9 and '-')");
  }
  std::string detail = stop_instance(id);
  if (remove) {
    {
      std::lock_guard lock(mu_);
      instances_.erase(id);
    }
    std::error_code ec;
    std::filesystem::remove_all(instance_dir_of(id), ec);
    if (ec) {
      return finish(job, v1::TASK_STATE_FAILED,
                    detail + "; cannot delete " + instance_dir_of(id) + ": " + ec.message());
    }
    detail += "; removed its directory";
  }
  finish(job, v1::TASK_STATE_SUCCEEDED, detail);
}

void ProcessRuntime::run_health_check(Job& job) {
  const auto& spec = job.task.spec().process();
  const std::string id = spec.instance_id();
  std::optional<v1::HealthCheck> check = check_of(spec);
  Clock::time_point since;
  bool runs = false;
  {
    std::lock_guard lock(mu_);
    Instance* instance = find_locked(id);
    if (instance) refresh_locked(*instance);
    runs = instance && instance->running;
    if (runs) {
      if (!check) check = check_of(instance->record.spec);
      since = instance->spawned_at;
    }
  }
  if (!runs) {
    return finish(job, v1::TASK_STATE_FAILED, "instance '" + id + "' is not running on this agent");
  }
  const WatchResult result = watch(job, id, check, since);
  bool healthy = false;
  switch (result.what) {
    case Watch::kShutdown:
      return;
    case Watch::kHealthy:
      healthy = true;
      finish(job, v1::TASK_STATE_SUCCEEDED, result.detail);
      break;
    case Watch::kUnhealthy:
      finish(job, v1::TASK_STATE_FAILED, result.detail, std::nullopt,
             output_of(instance_dir_of(id)));
      break;
    case Watch::kExited:
      finish(job, v1::TASK_STATE_FAILED, "instance " + id + " " + result.exit.describe(),
             result.exit, output_of(instance_dir_of(id)));
      break;
    case Watch::kStopped:
      finish(job, v1::TASK_STATE_FAILED, result.detail);
      break;
    case Watch::kCancelled:
    case Watch::kDeadline:
      return finish(job, v1::TASK_STATE_CANCELLED, result.detail);
  }
  std::lock_guard lock(mu_);
  if (Instance* instance = find_locked(id)) instance->healthy = healthy && instance->running;
}

}  // namespace axion::agent
