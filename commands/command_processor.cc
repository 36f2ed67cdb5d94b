#include "commands/command_processor.h"

#include "events/envelope.h"

namespace axion::commands {

CommandProcessor::CommandProcessor(events::EventLog& log, std::vector<const AggregateKind*> kinds,
                                   ProcessorOptions options)
    : log_(log), kinds_(std::move(kinds)), options_(std::move(options)) {}

CommandProcessor::~CommandProcessor() { stop(); }

Status CommandProcessor::start() {
  if (!options_.clock) return failed_precondition("the command processor needs a clock");
  snapshot_scope_ = options_.group + "/" + options_.commands_topic;
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
    for (const auto& tp : tps) {
      checkpoint(tp.partition);  // what we folded stays valid: the next owner may be us again
      partitions_.erase(tp.partition);
    }
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
  if (consumer_) {
    for (const auto& [partition, ps] : partitions_) checkpoint(partition);
    consumer_->close();
  }
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
  auto fail = [this](const Status& error) {
    if (error.ok() || error.retryable()) return;
    std::lock_guard lock(status_mu_);
    status_ = error;  // e.g. fenced by a newer instance: stop, never decide twice
    running_ = false;
  };
  while (running_) {
    if (!rebalance_error_.ok()) {
      // A partition could not be loaded (at assignment, or after a failed append): load what is
      // missing before deciding anything of it.
      rebalance_error_ = load_missing();
      if (!rebalance_error_.ok()) {
        fail(rebalance_error_);
        std::this_thread::sleep_for(options_.poll_timeout);
        continue;
      }
    }
    auto batch = consumer_->poll(options_.poll_timeout);
    if (!batch.ok()) {
      fail(batch.status());
      continue;
    }
    if (batch->empty()) continue;
    if (!rebalance_error_.ok()) {
      // The poll assigned a partition that failed to load: read the batch again once it is.
      std::map<events::TopicPartition, std::int64_t> first;
      for (const auto& r : *batch) first.try_emplace(r.tp, r.offset);
      for (const auto& [tp, offset] : first) (void)consumer_->seek(tp, offset);
      continue;
    }
    fail(process(std::move(batch).value()));
  }
}

Status CommandProcessor::load_missing() {
  for (const auto& tp : consumer_->assignment()) {
    if (tp.topic == options_.commands_topic && !partitions_.count(tp.partition)) {
      AXION_RETURN_IF_ERROR(rebuild(tp.partition));
    }
  }
  return ok_status();
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

}  // namespace axion::commands
