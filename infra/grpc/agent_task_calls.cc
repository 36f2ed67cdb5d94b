// AgentTaskRelay: what callers ask of it (submit, cancel, get, watch) and the writer that
// records the agents' results.
#include <spdlog/spdlog.h>

#include "commands/validators.h"
#include "common/wall_clock.h"
#include "events/envelope.h"
#include "events/topics.h"
#include "infra/grpc/agent_task_relay.h"
#include "infra/grpc/command_gateway.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;

namespace {

constexpr std::size_t kMaxResultsPerAppend = 500;

events::Record record_of(const google::protobuf::Message& payload, std::string_view aggregate_type,
                         const std::string& aggregate_id, const std::string& actor) {
  events::EnvelopeMeta meta;
  meta.event_id = new_uuid();
  meta.aggregate_type = std::string(aggregate_type);
  meta.aggregate_id = aggregate_id;
  meta.occurred_at_ms = wall_clock_ms();
  meta.actor = actor;
  // Not an aggregate's stream: the ledger orders by log position, so no sequence is kept.
  meta.sequence = 0;
  return events::to_record(std::string(events::kAgentTasksTopic),
                           events::make_envelope(payload, meta));
}

}  // namespace

Status AgentTaskRelay::append(const google::protobuf::Message& payload,
                              std::string_view aggregate_type, const std::string& aggregate_id,
                              const std::string& actor) {
  auto positions = producer_->append({record_of(payload, aggregate_type, aggregate_id, actor)});
  return positions.ok() ? ok_status() : positions.status();
}

Result<v1::SubmitAgentTaskResponse> AgentTaskRelay::submit(const v1::AgentTask& task,
                                                           const std::string& actor) {
  AXION_RETURN_IF_ERROR(commands::check_agent_task(task));
  AXION_RETURN_IF_ERROR(server_exists_(task.server_id()));
  v1::SubmitAgentTaskResponse response;
  response.set_task_id(task.task().task_id());
  std::lock_guard submitting(submit_mu_);
  bool duplicate = false;
  {
    std::lock_guard lock(mu_);
    if (!running_) return unavailable("agent tasks are not being served yet; retry");
    AXION_RETURN_IF_ERROR(ledger_.check_submit(task, &duplicate));
  }
  response.set_duplicate(duplicate);
  if (duplicate) return response;
  AXION_RETURN_IF_ERROR(append(task, events::aggregate_type::kServer, task.server_id(), actor));
  Outbox out;
  std::vector<Notice> notices;
  {
    std::lock_guard lock(mu_);
    fold_task_locked(task, out, notices);
  }
  flush(out, notices);
  return response;
}

Result<v1::CancelAgentTaskResponse> AgentTaskRelay::cancel(const std::string& task_id,
                                                           const std::string& reason,
                                                           const std::string& actor) {
  AXION_RETURN_IF_ERROR(commands::validate_id("task_id", task_id));
  AXION_RETURN_IF_ERROR(commands::validate_text("reason", reason, commands::kMaxText));
  v1::CancelAgentTaskResponse response;
  v1::AgentTaskCancel cancel;
  std::lock_guard submitting(submit_mu_);
  {
    std::lock_guard lock(mu_);
    bool duplicate = false;
    AXION_RETURN_IF_ERROR(ledger_.check_cancel(task_id, &duplicate));
    response.set_duplicate(duplicate);
    if (duplicate) return response;
    cancel.set_server_id(ledger_.find(task_id)->task.server_id());
  }
  cancel.set_task_id(task_id);
  cancel.set_reason(reason.empty() ? "cancelled by " + actor : reason);
  AXION_RETURN_IF_ERROR(append(cancel, events::aggregate_type::kServer, cancel.server_id(), actor));
  Outbox out;
  std::vector<Notice> notices;
  {
    std::lock_guard lock(mu_);
    fold_cancel_locked(cancel, out, notices);
  }
  flush(out, notices);
  return response;
}

Result<v1::AgentTaskStatus> AgentTaskRelay::get(const std::string& task_id) const {
  AXION_RETURN_IF_ERROR(commands::validate_id("task_id", task_id));
  std::lock_guard lock(mu_);
  const auto* entry = ledger_.find(task_id);
  if (!entry) {
    return not_found("task '" + task_id + "' is not known (never queued, or its result expired)");
  }
  auto status = status_of(*entry);
  if (const auto it = logs_.find(task_id); it != logs_.end()) {
    for (const auto& line : it->second.lines) *status.add_log_lines() = line;
  }
  return status;
}

std::uint64_t AgentTaskRelay::watch(const std::string& task_id, Watcher watcher) {
  std::lock_guard lock(mu_);
  const std::uint64_t id = next_watcher_++;
  watchers_.emplace(id, std::make_pair(task_id, std::move(watcher)));
  return id;
}

void AgentTaskRelay::unwatch(std::uint64_t id) {
  std::lock_guard lock(mu_);
  watchers_.erase(id);
}

AgentTaskRelayStats AgentTaskRelay::stats() const {
  std::lock_guard lock(mu_);
  AgentTaskRelayStats s = totals_;
  s.tasks_known = ledger_.size();
  s.tasks_open = ledger_.open_count();
  return s;
}

void AgentTaskRelay::write_loop() {
  while (true) {
    std::vector<PendingResult> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) return;  // stopping, nothing left to record
      const std::size_t n = std::min(pending_.size(), kMaxResultsPerAppend);
      batch.assign(std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(n)));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    std::vector<events::Record> records;
    records.reserve(batch.size());
    for (const auto& p : batch) {
      records.push_back(record_of(p.result, events::aggregate_type::kAgentTask,
                                  p.result.update().task_id(), "agent:" + p.result.agent_id()));
    }
    auto positions = producer_->append(std::move(records));
    if (!positions.ok()) {
      spdlog::warn("agent tasks: recording {} results failed ({}); retrying", batch.size(),
                   positions.status().message());
      std::unique_lock lock(mu_);
      if (stopping_) return;  // unacknowledged: the agents send them again
      pending_.insert(pending_.begin(), std::make_move_iterator(batch.begin()),
                      std::make_move_iterator(batch.end()));
      cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping_; });
      continue;
    }
    Outbox out;
    std::vector<Notice> notices;
    {
      std::lock_guard lock(mu_);
      const std::int64_t at = wall_clock_ms();
      for (const auto& p : batch) {
        // The tail reader may have folded this very record already: no change then.
        fold_result_locked(p.result, at, out, notices);
        if (commands::is_terminal(p.result.update().state())) {
          v1::ServerMessage ack;
          ack.mutable_result_ack()->set_task_id(p.result.update().task_id());
          out.emplace_back(p.result.server_id(), std::move(ack));
        }
      }
    }
    flush(out, notices);
  }
}

}  // namespace axion::infra::gateway
