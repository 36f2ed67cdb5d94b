#include "commands/command_bus.h"

namespace axion::commands {

CommandBus::CommandBus(events::EventLog& log, std::string gateway_id, std::string commands_topic,
                       std::string results_topic)
    : log_(log),
      gateway_id_(std::move(gateway_id)),
      commands_topic_(std::move(commands_topic)),
      results_topic_(std::move(results_topic)) {}

CommandBus::~CommandBus() { stop(); }

Status CommandBus::start() {
  auto partitions = log_.partition_count(results_topic_);
  if (!partitions.ok()) return partitions.status();
  for (std::int32_t p = 0; p < *partitions; ++p) {
    auto end = log_.end_offset({results_topic_, p});
    if (!end.ok()) return end.status();
    start_[p] = *end;
  }
  auto producer = log_.open_producer("gateway-" + gateway_id_);
  if (!producer.ok()) return producer.status();
  producer_ = std::move(producer).value();
  events::RebalanceCallbacks callbacks;
  // The group commits nothing: every assignment starts where the results ended at start().
  callbacks.on_assigned = [this](const std::vector<events::TopicPartition>& tps) {
    for (const auto& tp : tps) (void)consumer_->seek(tp, start_[tp.partition]);
  };
  auto consumer = log_.subscribe("gateway-" + gateway_id_, {results_topic_}, std::move(callbacks));
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(consumer).value();
  running_ = true;
  reader_ = std::thread([this] { read_results(); });
  return ok_status();
}

void CommandBus::stop() {
  running_ = false;
  if (reader_.joinable()) reader_.join();
  if (consumer_) consumer_->close();
  arrived_.notify_all();
}

void CommandBus::read_results() {
  while (running_) {
    auto records = consumer_->poll(std::chrono::milliseconds(100));
    if (!records.ok()) {
      std::lock_guard lock(mu_);
      reader_error_ = records.status();
      continue;
    }
    bool any = false;
    for (const auto& r : *records) {
      if (r.key != gateway_id_) continue;
      axion::v1::CommandResult result;
      if (!result.ParseFromString(r.value)) continue;
      std::lock_guard lock(mu_);
      if (waiting_.contains(result.command_id())) {
        results_[result.command_id()] = result;
        any = true;
      }
    }
    if (any) arrived_.notify_all();
  }
}

Result<axion::v1::CommandResult> CommandBus::submit(axion::v1::CommandEnvelope command,
                                                    std::chrono::milliseconds timeout) {
  if (!running_) return unavailable("the command bus is not running");
  command.set_reply_to(gateway_id_);
  const std::string id = command.command_id();
  if (id.empty()) return invalid_field("command_id", "the command has no id");
  {
    std::lock_guard lock(mu_);
    ++waiting_[id];
  }
  const std::string key =
      command.partition_key().empty() ? command.aggregate_id() : command.partition_key();
  auto appended = producer_->append({{commands_topic_, key, command.SerializeAsString(), {}, {}}});
  std::unique_lock lock(mu_);
  auto unwait = [&] {
    if (--waiting_[id] == 0) waiting_.erase(id);
  };
  if (!appended.ok()) {
    unwait();
    return appended.status();
  }
  const bool got = arrived_.wait_for(lock, timeout, [&] { return results_.contains(id); });
  if (!got) {
    unwait();
    return deadline_exceeded("no result for command " + id + " within " +
                             std::to_string(timeout.count()) + " ms" +
                             (reader_error_.ok() ? "" : " (" + reader_error_.message() + ")"));
  }
  axion::v1::CommandResult result = results_[id];
  unwait();
  if (!waiting_.contains(id)) results_.erase(id);
  return result;
}

}  // namespace axion::commands
