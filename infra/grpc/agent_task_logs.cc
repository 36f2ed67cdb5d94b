// AgentTaskRelay's part in task output: the LogLines agents stream while a task runs, kept in
// memory (bounded) for GetAgentTask and passed on to the task's watchers. Not in the log: output
// is voluminous, and the agent's files keep all of it.
#include "common/utf8.h"
#include "infra/grpc/agent_task_relay.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;

namespace {

constexpr std::size_t kKeptLinesPerTask = 200;
constexpr std::size_t kKeptBytes = 16 * 1024 * 1024;
// Longer lines are cut (the agent cuts at 4 KiB already; this bounds what any stream sends).
constexpr std::size_t kMaxLineBytes = 8 * 1024;

std::size_t weight(const v1::LogLine& line) {
  return line.line().size() + line.task_id().size() + line.service().size() + 64;
}

}  // namespace

void AgentTaskRelay::task_log(const std::string& server_id, const v1::LogLine& received) {
  v1::LogLine line = received;
  if (line.line().size() > kMaxLineBytes) {
    line.set_line(valid_utf8(std::string_view(line.line()).substr(0, kMaxLineBytes)));
  }
  Outbox out;
  std::vector<Notice> notices;
  {
    std::lock_guard lock(mu_);
    const auto* entry = ledger_.find(line.task_id());
    if (!entry || entry->task.server_id() != server_id) return;  // not this agent's task
    ++totals_.log_lines;
    auto [it, fresh] = logs_.try_emplace(line.task_id());
    if (fresh) log_order_.push_back(line.task_id());
    TaskLog& kept = it->second;
    kept.lines.push_back(line);
    kept.bytes += weight(line);
    log_bytes_ += weight(line);
    while (kept.lines.size() > kKeptLinesPerTask) {
      kept.bytes -= weight(kept.lines.front());
      log_bytes_ -= weight(kept.lines.front());
      kept.lines.pop_front();
    }
    // Over the budget: the tasks whose output began first lose theirs (never this one).
    while (log_bytes_ > kKeptBytes && log_order_.size() > 1) {
      const std::string oldest = log_order_.front();
      log_order_.pop_front();
      if (oldest == line.task_id()) {
        log_order_.push_back(oldest);
        continue;
      }
      if (const auto gone = logs_.find(oldest); gone != logs_.end()) {
        log_bytes_ -= gone->second.bytes;
        logs_.erase(gone);
      }
    }
    notice_locked(line.task_id(), notices);  // the watchers get the status and this line
    if (!notices.empty()) *notices.back().status.add_log_lines() = line;
  }
  flush(out, notices);
}

}  // namespace axion::infra::gateway
