// The `process` runtime: runs service instances as plain processes on the host. START_SERVICE
// spawns spec.process.argv (fork + execve, its own session, output into files of the instance
// directory <state dir>/instances/<instance id>/), then health-checks it; STOP_SERVICE and
// REMOVE_SERVICE stop its process group (SIGTERM, then SIGKILL after the stop timeout);
// HEALTH_CHECK probes a running instance. After a successful start, its restart policy applies.
//
// Every instance has a record on disk (instance_record.h), so the runtime is idempotent by task
// id across agent restarts: a new ProcessRuntime on the same state directory adopts instances
// whose process still runs (same pid and start time) and does not spawn them again.
//
// Threads: one supervisor (reaps or polls processes, restarts, rotates logs) and one thread per
// task in progress. The destructor stops the threads but leaves the services running.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/health_probe.h"
#include "agent/instance_logs.h"
#include "agent/instance_record.h"
#include "agent/process_control.h"
#include "agent/runtime.h"

namespace axion::agent {

struct ProcessRuntimeOptions {
  // SIGTERM to SIGKILL.
  std::chrono::milliseconds stop_timeout{10000};
  // stdout.log / stderr.log are rotated beyond this size, keeping this many old copies.
  std::uint64_t log_max_bytes = 10 * 1024 * 1024;
  int log_keep = 3;
  // Ports are allocated from [first, last]; first 0 = any free port the kernel offers.
  std::uint32_t port_range_first = 0;
  std::uint32_t port_range_last = 0;
  // Restart backoff after an exit: min, doubling up to max.
  std::chrono::milliseconds restart_backoff_min{1000};
  std::chrono::milliseconds restart_backoff_max{30000};
  // How often the supervisor looks at the processes.
  std::chrono::milliseconds poll_interval{50};
};

// Whether `policy` restarts a process that ended with `exit` (UNSPECIFIED = ON_FAILURE).
bool should_restart(axion::v1::RestartPolicy policy, const ExitStatus& exit);
// The delay after `current`: doubled, at most `max`.
std::chrono::milliseconds next_backoff(std::chrono::milliseconds current,
                                       std::chrono::milliseconds max);

// The task has a deadline and it passed.
bool deadline_passed(const axion::v1::Task& task);

class ProcessRuntime final : public Runtime {
 public:
  // Adopts the instances recorded under `state_dir`/instances.
  explicit ProcessRuntime(std::string state_dir, ProcessRuntimeOptions options = {});
  ~ProcessRuntime() override;
  ProcessRuntime(const ProcessRuntime&) = delete;
  ProcessRuntime& operator=(const ProcessRuntime&) = delete;

  std::string_view name() const override { return "process"; }
  bool available() const override { return true; }
  // Thread-safe, does not block. `sink` must outlive the task (the latest sink given for a task
  // id receives its updates).
  void start(const axion::v1::Task& task, TaskSink& sink) override;
  void cancel(const std::string& task_id) override;

  // The instances whose process runs, for heartbeats.
  std::vector<axion::v1::RunningService> running() const override;
  // Stops every instance (for tests; the agent never takes its services down).
  void stop_all();

 private:
  using Clock = std::chrono::steady_clock;

  struct Instance {
    InstanceRecord record;
    std::string dir;
    bool running = false;
    std::optional<ExitStatus> last_exit;
    bool stop_requested = false;  // stopped on request: never restarted
    bool task_succeeded = false;  // its START succeeded: the restart policy applies
    bool healthy = false;
    bool restart_due = false;
    Clock::time_point next_restart{};
    std::chrono::milliseconds backoff{0};
    Clock::time_point spawned_at{};
  };

  struct Job {
    axion::v1::Task task;
    TaskSink* sink = nullptr;
    bool cancel_requested = false;
    bool finished = false;
    axion::v1::TaskUpdate terminal;
    std::vector<axion::v1::HealthSample> samples;  // the last 10
    std::thread thread;
  };

  // The instance's output files, followed while a START task watches it (LogLines).
  struct OutputFollowers {
    LineFollower out;
    LineFollower err;
  };

  // How watching an instance ended.
  enum class Watch { kHealthy, kUnhealthy, kExited, kCancelled, kDeadline, kStopped, kShutdown };
  struct WatchResult {
    Watch what;
    std::string detail;
    ExitStatus exit;
  };

  // process_runtime.cc
  void adopt_recorded_instances();
  void supervise();
  // Polls the instance's process; on exit records it and schedules a restart if due. Returns
  // whether it just exited. REQUIRES mu_.
  bool refresh_locked(Instance& instance);
  Status launch_locked(Instance& instance);
  void persist_locked(const Instance& instance);
  Instance* find_locked(const std::string& instance_id);
  ProbeContext probe_context_locked(const Instance& instance) const;
  std::string instance_dir_of(const std::string& instance_id) const;

  // process_runtime_tasks.cc
  void run_job(Job& job);
  void run_start(Job& job);
  void run_stop(Job& job, bool remove);
  void run_health_check(Job& job);
  // process_runtime_prepare.cc
  void run_prepare(Job& job);
  // process_runtime_watch.cc
  WatchResult watch(Job& job, const std::string& instance_id,
                    const std::optional<axion::v1::HealthCheck>& check, Clock::time_point since,
                    OutputFollowers* output = nullptr);
  // Sends the lines `output` has not sent yet to the job's sink. Call without mu_ held.
  void forward_output(Job& job, OutputFollowers& output);
  // Graceful stop (SIGTERM, stop timeout, SIGKILL); blocks until the process is gone. Says
  // what happened, for a detail.
  std::string stop_instance(const std::string& instance_id);
  void report(Job& job, axion::v1::TaskUpdate update);
  void finish(Job& job, axion::v1::TaskState state, std::string detail,
              std::optional<ExitStatus> exit = std::nullopt, std::string output = "");

  const std::string state_dir_;
  const ProcessRuntimeOptions options_;
  const std::string agent_path_;  // the agent's PATH, for commands found by name

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool shutting_down_ = false;
  std::map<std::string, std::unique_ptr<Instance>> instances_;
  std::map<std::string, std::unique_ptr<Job>> jobs_;
  std::thread supervisor_;
};

}  // namespace axion::agent
