#include "commands/command_processor.h"

#include <set>

#include "events/envelope.h"

namespace axion::commands {

CommandProcessor::CommandProcessor(events::EventLog& log, std::vector<const AggregateKind*> kinds,
                                   ProcessorOptions options)
    : log_(log), kinds_(std::move(kinds)), options_(std::move(options)) {}

CommandProcessor::~CommandProcessor() { stop(); }

Status CommandProcessor::start() {
  if (!options_.clock) return failed_precondition("the command processor needs a clock");
  auto commands = log_.partition_count(options_.commands_topic);
  if (!commands.ok()) return commands.status();
  std::vector<std::string> aligned{options_.results_topic};
  for (const auto* kind : kinds_) aligned.emplace_back(kind->events_topic());
  for (const auto& topic : aligned) {
    auto n = log_.partition_count(topic);
    if (!n.ok()) return n.status();
    if (*n != *commands) {
      return failed_precondition("topic '" + topic + "' has " + std::to_string(*n) +
                                 " partitions but '" + options_.commands_topic + "' has " +
                                 std::to_string(*commands) +
                                 ": command, event and result topics must have equal counts");
    }
  }
  auto producer = log_.open_producer(options_.transactional_id);
  if (!producer.ok()) return producer.status();
  producer_ = std::move(producer).value();
  events::RebalanceCallbacks callbacks;
  callbacks.on_assigned = [this](const std::vector<events::TopicPartition>& tps) {
    for (const auto& tp : tps) {
      if (Status s = rebuild(tp.partition); !s.ok() && rebalance_error_.ok()) rebalance_error_ = s;
    }
  };
  callbacks.on_revoked = [this](const std::vector<events::TopicPartition>& tps) {
    for (const auto& tp : tps) partitions_.erase(tp.partition);
  };
  auto consumer = log_.subscribe(options_.group, {options_.commands_topic}, std::move(callbacks));
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(consumer).value();
  running_ = true;
  thread_ = std::thread([this] { loop(); });
  return ok_status();
}

void CommandProcessor::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
  if (consumer_) consumer_->close();
}

Status CommandProcessor::health() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

ProcessorStats CommandProcessor::stats() const {
  std::lock_guard lock(status_mu_);
  return stats_;
}

void CommandProcessor::loop() {
  while (running_) {
    auto batch = consumer_->poll(options_.poll_timeout);
    Status error = batch.ok() ? rebalance_error_ : batch.status();
    if (error.ok() && !batch->empty()) error = process(std::move(batch).value());
    if (!error.ok() && !error.retryable()) {
      std::lock_guard lock(status_mu_);
      status_ = error;  // e.g. fenced by a newer instance: stop, never decide twice
      running_ = false;
    }
  }
}

const AggregateKind* CommandProcessor::kind_for(const std::string& command_type) const {
  for (const auto* kind : kinds_) {
    if (kind->handles(command_type)) return kind;
  }
  return nullptr;
}

const AggregateKind* CommandProcessor::kind_for_events(const std::string& topic,
                                                       const std::string& type) const {
  for (const auto* kind : kinds_) {
    if (kind->events_topic() == topic && kind->name() == type) return kind;
  }
  return nullptr;
}

// Folds partition `partition` of every events topic, and of the results topic for idempotency.
Status CommandProcessor::rebuild(std::int32_t partition) {
  PartitionState ps;
  auto fold = [&](const std::string& topic, auto&& apply) -> Status {
    const events::TopicPartition tp{topic, partition};
    auto end = log_.end_offset(tp);
    if (!end.ok()) return end.status();
    std::int64_t next = 0;
    while (next < *end) {
      auto records = log_.read(tp, next, 5000, std::chrono::milliseconds(1000));
      if (!records.ok()) return records.status();
      if (records->empty()) break;
      for (const auto& r : *records) AXION_RETURN_IF_ERROR(apply(r));
      next = records->back().offset + 1;
    }
    return ok_status();
  };
  std::set<std::string> topics;
  for (const auto* kind : kinds_) topics.emplace(kind->events_topic());
  for (const auto& topic : topics) {
    AXION_RETURN_IF_ERROR(fold(topic, [&](const events::StoredRecord& r) -> Status {
      auto envelope = events::parse_envelope(r);
      if (!envelope.ok()) return envelope.status();
      const AggregateKind* kind = kind_for_events(topic, envelope->aggregate_type());
      if (!kind) return ok_status();  // another writer's aggregate kind: not ours to fold
      Aggregate& agg = ps.aggregates[envelope->aggregate_id()];
      if (!agg.state) {
        agg.kind = kind;
        agg.state = kind->empty_state();
      }
      agg.state->evolve(envelope->payload());
      agg.version = envelope->sequence();
      return ok_status();
    }));
  }
  AXION_RETURN_IF_ERROR(fold(options_.results_topic, [&](const events::StoredRecord& r) -> Status {
    axion::v1::CommandResult result;
    if (!result.ParseFromString(r.value)) {
      return data_loss("command result at " + r.tp.to_string() + "@" + std::to_string(r.offset) +
                       " does not parse");
    }
    if (!result.idempotency_key().empty()) {
      ps.results[{result.aggregate_id(), result.idempotency_key()}] = result;
    }
    return ok_status();
  }));
  partitions_[partition] = std::move(ps);
  return ok_status();
}

}  // namespace axion::commands
