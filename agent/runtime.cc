#include "agent/runtime.h"

namespace axion::agent {

std::string required_runtime(const axion::v1::Task& task) {
  switch (task.kind()) {
    case axion::v1::TASK_KIND_APPLY_COMPOSE:
      return "compose";
    case axion::v1::TASK_KIND_STOP_SERVICE:
    case axion::v1::TASK_KIND_REMOVE_SERVICE:
      return task.spec().compose_project().empty() ? "process" : "compose";
    case axion::v1::TASK_KIND_SWITCH_TRAFFIC:
    case axion::v1::TASK_KIND_REPORT_TRAFFIC:
      return "proxy";
    default:
      return "process";
  }
}

bool is_dns_label(std::string_view value) {
  if (value.empty() || value.size() > 63) return false;
  const auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(value.front()) || !alnum(value.back())) return false;
  for (char c : value) {
    if (!alnum(c) && c != '-') return false;
  }
  return true;
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

std::vector<axion::v1::RunningService> Runtimes::running() const {
  std::vector<axion::v1::RunningService> out;
  for (const auto& r : runtimes_) {
    if (!r->available()) continue;
    auto some = r->running();
    out.insert(out.end(), std::make_move_iterator(some.begin()),
               std::make_move_iterator(some.end()));
  }
  return out;
}

}  // namespace axion::agent
