// The seam for task runtimes (issue 6, part 2: `process` and `compose`). A Runtime runs the
// tasks of the kinds it handles and reports through a TaskSink; the agent advertises in its
// Hello the runtimes whose available() is true, and answers a task that no available runtime
// can run with a terminal FAILED TaskUpdate that says so — never silence.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "axion/v1/agent.pb.h"

namespace axion::agent {

// Where a runtime reports task progress (thread-safe; the connection resends until acknowledged
// in part 2).
class TaskSink {
 public:
  virtual ~TaskSink() = default;
  virtual void update(const axion::v1::TaskUpdate& update) = 0;
  // A line of output of a running task, streamed live (best effort: not journaled or resent).
  virtual void log(const axion::v1::LogLine& line) { (void)line; }
};

class Runtime {
 public:
  virtual ~Runtime() = default;
  // "process" or "compose": what Hello advertises and what a task asks for.
  virtual std::string_view name() const = 0;
  // Whether it can run here (e.g. compose needs a Docker engine).
  virtual bool available() const = 0;
  // Starts `task` (idempotent by task id); reports through `sink`. Must not block.
  virtual void start(const axion::v1::Task& task, TaskSink& sink) = 0;
  // Stops a task it runs (reports CANCELLED); unknown ids are ignored.
  virtual void cancel(const std::string& task_id) = 0;
  // The service instances it runs, for heartbeats.
  virtual std::vector<axion::v1::RunningService> running() const { return {}; }
};

// The runtime a task needs: "compose" for APPLY_COMPOSE and for STOP/REMOVE_SERVICE of a
// compose project (spec.compose_project set), "proxy" for SWITCH_TRAFFIC, else "process".
std::string required_runtime(const axion::v1::Task& task);

// 1-63 lowercase letters, digits and '-', starting and ending with a letter or digit: what the
// runtimes accept as a service, instance or compose project name before it reaches a path, a
// file or a command's argv.
bool is_dns_label(std::string_view value);

class Runtimes {
 public:
  void add(std::unique_ptr<Runtime> runtime) { runtimes_.push_back(std::move(runtime)); }
  // Names of the available ones, for Hello.
  std::vector<std::string> available() const;
  // Starts the task on its runtime, or reports FAILED "runtime ... not available".
  void dispatch(const axion::v1::Task& task, TaskSink& sink);
  void cancel(const std::string& task_id);
  std::vector<axion::v1::RunningService> running() const;
  // Destroys the runtimes (their threads end; the services they started keep running). Called
  // once the connection stopped, before the sink their threads report to goes away.
  void clear() { runtimes_.clear(); }

 private:
  std::vector<std::unique_ptr<Runtime>> runtimes_;
};

}  // namespace axion::agent
