#include "infra/grpc/agent_task_relay.h"

#include <spdlog/spdlog.h>

#include "commands/validators.h"
#include "common/wall_clock.h"
#include "events/envelope.h"
#include "events/topics.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;
using commands::AgentTaskLedger;

namespace {

v1::ServerMessage task_message(const v1::AgentTask& task) {
  v1::ServerMessage m;
  *m.mutable_task() = task.task();
  return m;
}

v1::ServerMessage cancel_message(const std::string& task_id, const std::string& reason) {
  v1::ServerMessage m;
  m.mutable_cancel()->set_task_id(task_id);
  m.mutable_cancel()->set_reason(reason);
  return m;
}

v1::ServerMessage result_ack(const std::string& task_id) {
  v1::ServerMessage m;
  m.mutable_result_ack()->set_task_id(task_id);
  return m;
}

}  // namespace

AgentTaskRelay::AgentTaskRelay(events::EventLog& log, AgentHub& hub, ServerExists server_exists,
                               AgentTaskRelayOptions options)
    : log_(log), hub_(hub), server_exists_(std::move(server_exists)),
      options_(std::move(options)) {}

AgentTaskRelay::~AgentTaskRelay() { stop(); }

Status AgentTaskRelay::start() {
  const std::string topic(events::kAgentTasksTopic);
  auto partitions = log_.partition_count(topic);
  if (!partitions.ok()) return partitions.status();
  partitions_ = *partitions;
  auto producer = log_.open_producer("axion-agent-relay-" + options_.instance_id);
  if (!producer.ok()) return producer.status();
  producer_ = std::move(*producer);
  // A group of its own that never commits: every start reads the topic from its beginning.
  auto consumer = log_.subscribe("axion-agent-relay-" + options_.instance_id, {topic});
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(*consumer);
  AXION_RETURN_IF_ERROR(catch_up());
  {
    std::lock_guard lock(mu_);
    running_ = true;
  }
  reader_ = std::thread([this] { read_loop(); });
  writer_ = std::thread([this] { write_loop(); });
  return ok_status();
}

void AgentTaskRelay::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (reader_.joinable()) reader_.join();
  if (writer_.joinable()) writer_.join();
  if (consumer_) consumer_->close();
}

Status AgentTaskRelay::catch_up() {
  const std::string topic(events::kAgentTasksTopic);
  std::vector<std::int64_t> ends(partitions_, 0);
  for (std::int32_t p = 0; p < partitions_; ++p) {
    auto end = log_.end_offset({topic, p});
    if (!end.ok()) return end.status();
    ends[p] = *end;
  }
  next_offset_.assign(partitions_, 0);
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  std::size_t folded = 0;
  while (true) {
    bool behind = false;
    for (std::int32_t p = 0; p < partitions_; ++p) behind |= next_offset_[p] < ends[p];
    if (!behind) break;
    if (Clock::now() > deadline) {
      return unavailable("cannot read " + topic + " up to its end within 120 s (agent tasks)");
    }
    auto records = consumer_->poll(std::chrono::milliseconds(200));
    if (!records.ok()) continue;  // retryable
    Outbox unused;
    std::vector<Notice> none;
    for (const auto& r : *records) {
      fold(r, unused, none);
      next_offset_[r.tp.partition] = r.offset + 1;
      ++folded;
    }
  }
  std::lock_guard lock(mu_);
  spdlog::info("agent tasks: folded {} records ({} tasks known, {} open)", folded,
               ledger_.size(), ledger_.open_count());
  return ok_status();
}

void AgentTaskRelay::read_loop() {
  auto last_resend_check = Clock::now();
  auto last_expiry = Clock::now();
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    auto records = consumer_->poll(options_.idle_wait);
    Outbox out;
    std::vector<Notice> notices;
    if (records.ok()) {
      for (const auto& r : *records) {
        fold(r, out, notices);
        next_offset_[r.tp.partition] = r.offset + 1;
      }
    } else {
      spdlog::warn("agent tasks: reading {} failed: {}", events::kAgentTasksTopic,
                   records.status().message());
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return stopping_; });
    }
    const auto now = Clock::now();
    if (now - last_resend_check > std::chrono::seconds(1)) {
      last_resend_check = now;
      resend_due(out);
    }
    if (now - last_expiry > std::chrono::minutes(1)) {
      last_expiry = now;
      std::lock_guard lock(mu_);
      ledger_.expire(wall_clock_ms(), options_.result_ttl.count());
    }
    flush(out, notices);
  }
}

void AgentTaskRelay::fold(const events::StoredRecord& record, Outbox& out,
                          std::vector<Notice>& notices) {
  auto envelope = events::parse_envelope(record);
  if (!envelope.ok()) {
    spdlog::warn("agent tasks: skipping record {}@{}: {}", record.tp.to_string(), record.offset,
                 envelope.status().message());
    return;
  }
  const std::string& type = envelope->type();
  std::lock_guard lock(mu_);
  ++totals_.records_folded;
  if (type == v1::AgentTask::descriptor()->full_name()) {
    auto task = events::unpack_payload<v1::AgentTask>(*envelope);
    if (task.ok()) fold_task_locked(*task, out, notices);
  } else if (type == v1::AgentTaskCancel::descriptor()->full_name()) {
    auto cancel = events::unpack_payload<v1::AgentTaskCancel>(*envelope);
    if (cancel.ok()) fold_cancel_locked(*cancel, out, notices);
  } else if (type == v1::AgentTaskResult::descriptor()->full_name()) {
    auto result = events::unpack_payload<v1::AgentTaskResult>(*envelope);
    if (result.ok()) fold_result_locked(*result, record.timestamp_ms, out, notices);
  }
}

void AgentTaskRelay::fold_task_locked(const v1::AgentTask& task, Outbox& out,
                                      std::vector<Notice>& notices) {
  if (ledger_.apply_task(task) != AgentTaskLedger::Change::kNewTask) return;
  const auto* entry = ledger_.find(task.task().task_id());
  if (entry && !entry->terminal()) out.emplace_back(task.server_id(), task_message(task));
  notice_locked(task.task().task_id(), notices);
}

void AgentTaskRelay::fold_cancel_locked(const v1::AgentTaskCancel& cancel, Outbox& out,
                                        std::vector<Notice>& notices) {
  if (ledger_.apply_cancel(cancel) != AgentTaskLedger::Change::kNewCancel) return;
  out.emplace_back(cancel.server_id(), cancel_message(cancel.task_id(), cancel.reason()));
  notice_locked(cancel.task_id(), notices);
}

bool AgentTaskRelay::fold_result_locked(const v1::AgentTaskResult& result, std::int64_t at_ms,
                                        Outbox&, std::vector<Notice>& notices) {
  const auto change = ledger_.apply_result(result, at_ms);
  if (change == AgentTaskLedger::Change::kNone) return false;
  if (change == AgentTaskLedger::Change::kNewTerminal) {
    deliveries_.erase(result.update().task_id());
    ++totals_.results_recorded;
  }
  notice_locked(result.update().task_id(), notices);
  return true;
}

v1::AgentTaskStatus AgentTaskRelay::status_of(const commands::AgentTaskEntry& entry) const {
  v1::AgentTaskStatus status;
  *status.mutable_task() = entry.task;
  *status.mutable_last_update() = entry.last;
  status.set_terminal(entry.terminal());
  status.set_cancel_requested(entry.cancel_requested);
  status.set_agent_id(entry.agent_id);
  return status;
}

void AgentTaskRelay::notice_locked(const std::string& task_id,
                                   std::vector<Notice>& notices) const {
  const auto* entry = ledger_.find(task_id);
  if (!entry) return;
  Notice notice;
  for (const auto& [id, w] : watchers_) {
    if (w.first == task_id) notice.watchers.push_back(w.second);
  }
  if (notice.watchers.empty()) return;
  notice.status = status_of(*entry);
  notices.push_back(std::move(notice));
}

void AgentTaskRelay::flush(Outbox& out, std::vector<Notice>& notices) {
  std::vector<std::string> sent;
  for (const auto& [server_id, message] : out) {
    if (hub_.send(server_id, message) && message.has_task()) {
      sent.push_back(message.task().task_id());
    }
  }
  out.clear();
  if (!sent.empty()) {
    std::lock_guard lock(mu_);
    const auto now = Clock::now();
    for (const auto& id : sent) {
      deliveries_[id] = Delivery{now, false};
      ++totals_.deliveries;
    }
  }
  for (const auto& n : notices) {
    for (const auto& w : n.watchers) w(n.status);
  }
  notices.clear();
}

void AgentTaskRelay::resend_due(Outbox& out) {
  std::lock_guard lock(mu_);
  const auto now = Clock::now();
  for (const auto& [id, d] : deliveries_) {
    if (d.acked || now - d.sent_at < options_.resend_after) continue;
    const auto* entry = ledger_.find(id);
    if (!entry || entry->terminal()) continue;
    out.emplace_back(entry->task.server_id(), task_message(entry->task));
    if (entry->cancel_requested) {
      out.emplace_back(entry->task.server_id(), cancel_message(id, entry->cancel_reason));
    }
    ++totals_.resends;
  }
}

void AgentTaskRelay::agent_admitted(const std::string& server_id, const std::string&) {
  Outbox out;
  {
    std::lock_guard lock(mu_);
    for (const auto* entry : ledger_.open_tasks(server_id)) {
      out.emplace_back(server_id, task_message(entry->task));
      if (entry->cancel_requested) {
        out.emplace_back(server_id,
                         cancel_message(entry->task.task().task_id(), entry->cancel_reason));
      }
    }
  }
  std::vector<Notice> none;
  flush(out, none);
}

void AgentTaskRelay::task_ack(const std::string&, const v1::TaskAck& ack) {
  std::lock_guard lock(mu_);
  const auto it = deliveries_.find(ack.task_id());
  if (it != deliveries_.end()) it->second.acked = true;
}

void AgentTaskRelay::task_update(const std::string& server_id, const std::string& agent_id,
                                 const v1::TaskUpdate& update) {
  const bool terminal = commands::is_terminal(update.state());
  {
    std::lock_guard lock(mu_);
    const auto* entry = ledger_.find(update.task_id());
    if (entry && entry->task.server_id() != server_id) {
      spdlog::warn("agent {} of server {} reported on task {} of server {}: ignored", agent_id,
                   server_id, update.task_id(), entry->task.server_id());
      return;
    }
    if (!commands::is_id(update.task_id())) {
      spdlog::warn("agent {} of server {} reported on a malformed task id: ignored", agent_id,
                   server_id);
      return;
    }
    const bool recorded_terminal = entry && entry->terminal();
    if (!recorded_terminal) {
      PendingResult pending;
      auto& r = pending.result;
      r.set_server_id(server_id);
      r.set_agent_id(agent_id);
      *r.mutable_update() = update;
      if (entry) {
        r.set_deployment_id(entry->task.task().deployment_id());
        r.set_project_id(entry->task.project_id());
        r.set_kind(entry->task.task().kind());
        r.set_instance_id(entry->task.task().spec().process().instance_id());
      }
      pending_.push_back(std::move(pending));
      cv_.notify_all();
      return;
    }
    if (!terminal) return;  // progress after the end: nothing to record
    ++totals_.results_repeated;
  }
  // Already recorded: the agent resent it because our acknowledgement was lost.
  hub_.send(server_id, result_ack(update.task_id()));
}

}  // namespace axion::infra::gateway
