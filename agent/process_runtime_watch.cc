// ProcessRuntime: watching an instance until it is healthy or unhealthy (or exits, is stopped,
// cancelled, or the task's deadline passes), and the graceful stop of an instance.
#include <signal.h>

#include "agent/process_runtime.h"

namespace axion::agent {

namespace v1 = axion::v1;

namespace {

// Without a health check an instance counts as started once it stayed up this long.
constexpr std::chrono::milliseconds kAliveEnough{1000};
constexpr std::size_t kSampleLimit = 10;

}  // namespace

bool deadline_passed(const v1::Task& task) {
  if (!task.has_deadline()) return false;
  const auto& d = task.deadline();
  if (d.seconds() == 0 && d.nanos() == 0) return false;
  const auto deadline = std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(d.seconds()) + std::chrono::nanoseconds(d.nanos())));
  return std::chrono::system_clock::now() >= deadline;
}

ProcessRuntime::WatchResult ProcessRuntime::watch(Job& job, const std::string& id,
                                                  const std::optional<v1::HealthCheck>& check,
                                                  Clock::time_point since,
                                                  OutputFollowers* output) {
  const HealthPolicy policy = check ? health_policy(*check) : HealthPolicy{};
  HealthTracker tracker(policy);
  const bool is_start = job.task.kind() == v1::TASK_KIND_START_SERVICE;
  auto next_probe = Clock::now();
  std::unique_lock lock(mu_);
  for (;;) {
    if (output) {
      lock.unlock();
      forward_output(job, *output);
      lock.lock();
    }
    if (shutting_down_) return {Watch::kShutdown, "", {}};
    if (job.cancel_requested) return {Watch::kCancelled, "cancelled", {}};
    if (deadline_passed(job.task)) return {Watch::kDeadline, "deadline passed", {}};
    Instance* instance = find_locked(id);
    if (!instance) return {Watch::kStopped, "instance " + id + " was removed", {}};
    if (is_start && instance->record.task_id != job.task.task_id()) {
      return {Watch::kStopped,
              "instance " + id + " was taken over by task " + instance->record.task_id,
              {}};
    }
    refresh_locked(*instance);
    if (instance->stop_requested) {
      return {Watch::kStopped,
              "instance " + id + " was stopped (STOP_SERVICE or REMOVE_SERVICE) meanwhile",
              {}};
    }
    if (!instance->running) {
      return {Watch::kExited, "", instance->last_exit.value_or(ExitStatus{false, -1, 0})};
    }
    const auto now = Clock::now();
    if (!check) {
      if (now - since >= kAliveEnough) {
        return {Watch::kHealthy,
                "running (pid " + std::to_string(instance->record.pid) +
                    "); no health check is configured",
                {}};
      }
      cv_.wait_for(lock, std::chrono::milliseconds(50));
      continue;
    }
    if (now >= next_probe) {
      const ProbeContext context = probe_context_locked(*instance);
      const bool in_start_period = now < since + policy.start_period;
      next_probe = now + policy.interval;
      lock.unlock();
      const v1::HealthSample sample = run_probe(*check, context, policy.timeout);
      lock.lock();
      job.samples.push_back(sample);
      if (job.samples.size() > kSampleLimit) job.samples.erase(job.samples.begin());
      switch (tracker.record(sample.healthy(), in_start_period)) {
        case HealthTracker::Verdict::kHealthy:
          return {Watch::kHealthy, "healthy", {}};
        case HealthTracker::Verdict::kUnhealthy:
          return {Watch::kUnhealthy,
                  "unhealthy: " + std::to_string(tracker.consecutive_failures()) +
                      " consecutive health checks failed (last: " + sample.detail() + ")",
                  {}};
        case HealthTracker::Verdict::kPending:
          break;
      }
      continue;  // look at the process again before waiting
    }
    cv_.wait_until(lock, std::min(next_probe, now + std::chrono::milliseconds(100)));
  }
}

std::string ProcessRuntime::stop_instance(const std::string& id) {
  std::unique_lock lock(mu_);
  Instance* instance = find_locked(id);
  if (!instance) return "instance " + id + " is not known here (nothing to stop)";
  instance->stop_requested = true;
  instance->restart_due = false;
  refresh_locked(*instance);
  if (!instance->running) {
    instance->record.state = "stopped";
    persist_locked(*instance);
    return "instance " + id + " was not running (already stopped)";
  }
  const pid_t pid = instance->record.pid;
  const auto gone = [&] {
    Instance* i = find_locked(id);
    if (!i) return true;
    refresh_locked(*i);
    return !i->running;
  };
  signal_group(pid, SIGTERM);
  const auto soft_deadline = Clock::now() + options_.stop_timeout;
  while (!gone() && Clock::now() < soft_deadline) {
    cv_.wait_for(lock, std::chrono::milliseconds(20));
  }
  std::string how = "stopped on SIGTERM";
  if (!gone()) {
    signal_group(pid, SIGKILL);
    how = "killed with SIGKILL: it did not stop within " +
          std::to_string(options_.stop_timeout.count()) + " ms of SIGTERM";
    // SIGKILL cannot be refused; the bound only guards against a process stuck in the kernel.
    const auto hard_deadline = Clock::now() + std::chrono::seconds(10);
    while (!gone() && Clock::now() < hard_deadline) {
      cv_.wait_for(lock, std::chrono::milliseconds(20));
    }
    if (!gone()) {
      return "instance " + id + " (pid " + std::to_string(pid) +
             ") did not exit within 10 s of SIGKILL (stuck in the kernel?)";
    }
  }
  if (Instance* i = find_locked(id)) {
    i->record.state = "stopped";
    persist_locked(*i);
  }
  return "instance " + id + " (pid " + std::to_string(pid) + ") " + how;
}

}  // namespace axion::agent
