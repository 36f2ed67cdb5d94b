#include "server/saga_processor.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <algorithm>

#include "commands/agent_task_ledger.h"
#include "events/envelope.h"
#include "events/topics.h"
#include "infra/grpc/command_gateway.h"

namespace axion::server {

namespace {

namespace v1 = axion::v1;
using google::protobuf::util::TimeUtil;

constexpr auto kPollTimeout = std::chrono::milliseconds(200);
constexpr std::size_t kLoadBatch = 2000;
constexpr auto kCommitIdle = std::chrono::seconds(1);
constexpr auto kRetryPause = std::chrono::milliseconds(200);

}  // namespace

SagaProcessor::SagaProcessor(events::EventLog& log, SagaProcessorOptions options)
    : log_(log), options_(std::move(options)) {
  if (!options_.clock)
    options_.clock = [] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
}

SagaProcessor::~SagaProcessor() { stop(); }

Status SagaProcessor::start() {
  auto producer = log_.open_producer(options_.transactional_id);
  if (!producer.ok()) return producer.status();
  producer_ = std::move(producer).value();
  events::RebalanceCallbacks callbacks;
  callbacks.on_assigned = [this](const std::vector<events::TopicPartition>& tps) {
    for (const auto& tp : tps)
      if (tp.topic == events::kDeploymentEventsTopic) to_load_.insert(tp.partition);
  };
  callbacks.on_revoked = [this](const std::vector<events::TopicPartition>& tps) {
    for (const auto& tp : tps) {
      if (tp.topic != events::kDeploymentEventsTopic) continue;
      partitions_.erase(tp.partition);
      to_load_.erase(tp.partition);
      std::erase_if(dirty_, [&](const Key& k) { return k.partition == tp.partition; });
      std::erase_if(wakes_, [&](const auto& w) { return w.first.partition == tp.partition; });
    }
  };
  auto consumer = log_.subscribe(
      options_.group,
      {std::string(events::kDeploymentEventsTopic), std::string(events::kAgentTasksTopic)},
      std::move(callbacks));
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(consumer).value();
  running_ = true;
  thread_ = std::thread([this] { run(); });
  return ok_status();
}

void SagaProcessor::stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
  if (consumer_) consumer_->close();
}

Status SagaProcessor::health() const {
  std::lock_guard lock(mu_);
  return health_;
}

SagaStats SagaProcessor::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void SagaProcessor::run() {
  while (running_) {
    Status s = step();
    {
      std::lock_guard lock(mu_);
      health_ = s;
      if (!s.ok()) ++stats_.appends_failed;
    }
    if (!s.ok()) {
      if (s.code() == StatusCode::kFailedPrecondition && !s.retryable()) {
        spdlog::error("the deployment saga stops: {}", s.message());
        running_ = false;
        return;
      }
      spdlog::warn("deployment saga: {} (retrying)", s.message());
      std::this_thread::sleep_for(kRetryPause);
    }
  }
}

Status SagaProcessor::load_partition(std::int32_t partition) {
  const events::TopicPartition tp{std::string(events::kDeploymentEventsTopic), partition};
  auto committed = log_.committed_offset(options_.group, tp);
  if (!committed.ok()) return committed.status();
  const std::int64_t until = committed->value_or(0);
  Partition& p = partitions_[partition];
  p.projects.clear();
  std::int64_t next = 0;
  std::uint64_t folded = 0;
  while (next < until) {
    auto records = log_.read(tp, next, kLoadBatch, std::chrono::milliseconds(0));
    if (!records.ok()) return records.status();
    if (records->empty()) break;
    for (const auto& r : *records) {
      if (r.offset >= until) break;
      next = r.offset + 1;
      auto envelope = events::parse_envelope(r);
      if (!envelope.ok()) continue;  // refused as DATA_LOSS where it was written
      sagas::fold(p.projects[events::record_key(*envelope)], *envelope);
      ++folded;
    }
    if (records->back().offset >= until) break;
  }
  // Recovery: every live deployment of the partition reacts once, whatever it was doing.
  for (const auto& [project, state] : p.projects)
    for (const auto& id : state.live) dirty_.insert({partition, project, id});
  std::lock_guard lock(mu_);
  stats_.events_folded += folded;
  return ok_status();
}

events::Record SagaProcessor::command_record(const sagas::SagaCommand& command) const {
  const std::int64_t now = options_.clock();
  v1::CommandEnvelope envelope;
  envelope.set_command_id(infra::gateway::new_uuid());
  envelope.set_idempotency_key(command.idempotency_key);
  const std::string& url = command.payload.type_url();
  envelope.set_type(url.substr(url.rfind('/') + 1));
  envelope.set_aggregate_id(command.aggregate_id);
  envelope.set_aggregate_type(std::string(events::aggregate_type::kProject));
  envelope.set_partition_key(command.aggregate_id);
  envelope.set_actor("system");
  envelope.set_correlation_id(envelope.command_id());
  envelope.set_reply_to("axion-sagas");  // nobody waits: the saga reads the events instead
  *envelope.mutable_issued_at() = TimeUtil::MillisecondsToTimestamp(now);
  *envelope.mutable_payload() = command.payload;
  events::Record record;
  record.topic = std::string(events::kCommandsTopic);
  record.key = command.aggregate_id;
  record.value = envelope.SerializeAsString();
  return record;
}

events::Record SagaProcessor::task_record(const google::protobuf::Message& payload,
                                          const std::string& server_id) const {
  events::EnvelopeMeta meta;
  meta.event_id = infra::gateway::new_uuid();
  meta.aggregate_type = std::string(events::aggregate_type::kServer);
  meta.aggregate_id = server_id;
  meta.occurred_at_ms = options_.clock();
  meta.actor = "system";
  return events::to_record(std::string(events::kAgentTasksTopic),
                           events::make_envelope(payload, meta));
}

void SagaProcessor::react(const Key& key, std::vector<events::Record>& out) {
  const auto p = partitions_.find(key.partition);
  if (p == partitions_.end()) return;
  const auto project = p->second.projects.find(key.project);
  if (project == p->second.projects.end()) return;
  sagas::SagaInputs inputs;
  inputs.now_ms = options_.clock();
  inputs.servers = options_.servers;
  inputs.step_deadline = options_.step_deadline;
  const sagas::SagaOutputs outputs = sagas::react(project->second, key.deployment, inputs);
  {
    std::lock_guard lock(mu_);
    ++stats_.reactions;
  }
  auto& seen = emitted_[key.deployment];
  for (const auto& c : outputs.commands) {
    if (!seen.insert("c:" + c.idempotency_key).second) continue;
    out.push_back(command_record(c));
  }
  for (const auto& t : outputs.tasks) {
    if (!seen.insert("t:" + t.task().task_id()).second) continue;
    if (Status s = commands::check_agent_task(t); !s.ok()) {
      spdlog::error("deployment {}: the saga made an invalid task: {}", key.deployment,
                    s.message());
      continue;
    }
    out.push_back(task_record(t, t.server_id()));
  }
  for (const auto& c : outputs.cancels) {
    if (!seen.insert("x:" + c.task_id()).second) continue;
    out.push_back(task_record(c, c.server_id()));
  }
  if (outputs.wake_at_ms)
    wakes_[key] = *outputs.wake_at_ms;
  else
    wakes_.erase(key);
  if (!project->second.live.contains(key.deployment)) emitted_.erase(key.deployment);
}

Status SagaProcessor::step() {
  auto batch = consumer_->poll(kPollTimeout);
  if (!batch.ok()) return batch.status();
  while (!to_load_.empty()) {
    const std::int32_t partition = *to_load_.begin();
    AXION_RETURN_IF_ERROR(load_partition(partition));
    to_load_.erase(partition);
  }
  std::vector<events::Record> out;
  std::map<events::TopicPartition, std::int64_t> consumed;
  std::uint64_t folded = 0;
  for (const auto& r : *batch) {
    consumed[r.tp] = r.offset + 1;
    auto envelope = events::parse_envelope(r);
    if (!envelope.ok()) continue;
    if (r.tp.topic == events::kDeploymentEventsTopic) {
      const std::string& project = events::record_key(*envelope);
      auto& state = partitions_[r.tp.partition].projects[project];
      sagas::fold(state, *envelope);
      ++folded;
      // Any event of a project may move its live deployments (an end frees the environment
      // for the next one), so all of them react; react() is cheap when nothing changed.
      for (const auto& id : state.live) dirty_.insert({r.tp.partition, project, id});
    } else if (envelope->type() == v1::AgentTaskResult::descriptor()->full_name()) {
      auto result = events::unpack_payload<v1::AgentTaskResult>(*envelope);
      if (!result.ok()) continue;
      // Read once per assignment (the offsets commit with the append); a repeat after a
      // failure is answered from the idempotency memory, so nothing is remembered here.
      if (auto command = sagas::record_task_result(*result))
        out.push_back(command_record(*command));
    }
  }
  const std::int64_t now = options_.clock();
  for (auto it = wakes_.begin(); it != wakes_.end();) {
    if (it->second <= now) {
      dirty_.insert(it->first);
      it = wakes_.erase(it);
    } else {
      ++it;
    }
  }
  const std::set<Key> reacting = std::move(dirty_);
  dirty_.clear();
  for (const auto& key : reacting) react(key, out);

  const bool idle_commit =
      !consumed.empty() && std::chrono::steady_clock::now() - last_commit_ > kCommitIdle;
  if (out.empty() && !idle_commit) return ok_status();
  events::OffsetCommit offsets;
  offsets.group = options_.group;
  offsets.consumer = consumer_.get();
  for (const auto& [tp, next] : consumed) offsets.offsets.push_back({tp, next});
  const std::size_t commands = std::count_if(out.begin(), out.end(), [](const events::Record& r) {
    return r.topic == events::kCommandsTopic;
  });
  const std::size_t total = out.size();
  const auto append_started = std::chrono::steady_clock::now();
  auto appended = producer_->append(std::move(out), offsets.offsets.empty() ? nullptr : &offsets);
  if (options_.append_seconds) {
    options_.append_seconds->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - append_started).count());
  }
  if (!appended.ok()) {
    // Nothing landed: forget what this batch emitted and read it again from the committed
    // offsets, after reloading the partitions (their state may hold the batch's events).
    for (const auto& tp : consumer_->assignment()) {
      auto committed = log_.committed_offset(options_.group, tp);
      if (committed.ok()) (void)consumer_->seek(tp, committed->value_or(0));
      if (tp.topic == events::kDeploymentEventsTopic) to_load_.insert(tp.partition);
    }
    emitted_.clear();
    return appended.status();
  }
  last_commit_ = std::chrono::steady_clock::now();
  std::lock_guard lock(mu_);
  stats_.events_folded += folded;
  stats_.commands_appended += commands;
  stats_.tasks_appended += total - commands;
  return ok_status();
}

}  // namespace axion::server
