#include "agent/runtime.h"

namespace axion::agent {

std::string required_runtime(const axion::v1::Task& task) {
  return task.kind() == axion::v1::TASK_KIND_APPLY_COMPOSE ? "compose" : "process";
}

std::vector<std::string> Runtimes::available() const {
  std::vector<std::string> out;
  for (const auto& r : runtimes_) {
    if (r->available()) out.emplace_back(r->name());
  }
  return out;
}

void Runtimes::dispatch(const axion::v1::Task& task, TaskSink& sink) {
  const std::string wanted = required_runtime(task);
  for (const auto& r : runtimes_) {
    if (r->name() == wanted && r->available()) return r->start(task, sink);
  }
  axion::v1::TaskUpdate failed;
  failed.set_task_id(task.task_id());
  failed.set_state(axion::v1::TASK_STATE_FAILED);
  failed.set_detail("runtime '" + wanted + "' is not available on this agent (it offers: " +
                    [&] {
                      std::string names;
                      for (const auto& n : available()) names += (names.empty() ? "" : ", ") + n;
                      return names.empty() ? std::string("none") : names;
                    }() +
                    ")");
  sink.update(failed);
}

void Runtimes::cancel(const std::string& task_id) {
  for (const auto& r : runtimes_) r->cancel(task_id);
}

}  // namespace axion::agent
