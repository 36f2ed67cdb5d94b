#include "commands/command_bus.h"

#include <algorithm>
#include <optional>

namespace axion::commands {

namespace {

// Most commands in one append: bounds the transaction (Kafka) / write batch (embedded) size.
constexpr std::size_t kMaxBatch = 256;
// Two appends in flight: one is staged and written while the other waits for its sync.
constexpr int kAppenders = 2;
// Longest the result reader sleeps in a poll: how late a deadline may be noticed at worst.
constexpr auto kMaxPollWait = std::chrono::milliseconds(50);

}  // namespace

CommandBus::CommandBus(events::EventLog& log, std::string gateway_id, std::string commands_topic,
                       std::string results_topic)
    : log_(log),
      gateway_id_(std::move(gateway_id)),
      commands_topic_(std::move(commands_topic)),
      results_topic_(std::move(results_topic)) {}

CommandBus::~CommandBus() { stop(); }

Result<axion::v1::CommandResult> refusal_as_status(Result<axion::v1::CommandResult> result) {
  if (!result.ok() || result->status_code() == 0) return result;
  Status refusal(static_cast<StatusCode>(result->status_code()), result->message(),
                 result->retryable());
  if (!result->field().empty()) return std::move(refusal).with_field(result->field());
  return refusal;
}

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
  {
    std::lock_guard lock(mu_);
    running_ = true;
  }
  reading_ = true;
  reader_ = std::thread([this] { read_results(); });
  for (int i = 0; i < kAppenders; ++i) appenders_.emplace_back([this] { append_loop(); });
  return ok_status();
}

void CommandBus::stop() {
  std::vector<Completion> out;
  {
    std::lock_guard lock(mu_);
    running_ = false;
    for (const Queued& q : queue_) {
      take_waiters(q.command_id, q.seq,
                   unavailable("the command bus stopped before the command was appended"), out);
    }
    queue_.clear();
  }
  queued_cv_.notify_all();
  run(out);
  for (auto& t : appenders_) t.join();  // each finishes the append in hand
  appenders_.clear();
  reading_ = false;
  if (reader_.joinable()) reader_.join();
  if (consumer_) consumer_->close();
  {
    std::lock_guard lock(mu_);
    while (!waiting_.empty()) {
      const std::string id = waiting_.begin()->first;
      take_waiters(id, 0,
                   unavailable("the command bus stopped before the result of command " + id +
                               " arrived; retry with the same idempotency key to learn it"),
                   out);
    }
  }
  run(out);
}

void CommandBus::submit_async(axion::v1::CommandEnvelope command, std::chrono::milliseconds timeout,
                              Done done) {
  const std::string id = command.command_id();
  if (id.empty()) return done(invalid_field("command_id", "the command has no id"));
  command.set_reply_to(gateway_id_);
  Queued queued;
  queued.command_id = id;
  queued.record.topic = commands_topic_;
  queued.record.key =
      command.partition_key().empty() ? command.aggregate_id() : command.partition_key();
  queued.record.value = command.SerializeAsString();
  bool queued_it = false;
  {
    std::lock_guard lock(mu_);
    if (running_) {
      queued.seq = next_seq_++;
      auto deadline = deadlines_.emplace(Clock::now() + timeout, std::make_pair(id, queued.seq));
      waiting_[id].push_back({queued.seq, timeout, deadline, std::move(done)});
      queue_.push_back(std::move(queued));
      queued_it = true;
    }
  }
  if (!queued_it) return done(unavailable("the command bus is not running"));
  queued_cv_.notify_one();
}

Result<axion::v1::CommandResult> CommandBus::submit(axion::v1::CommandEnvelope command,
                                                    std::chrono::milliseconds timeout) {
  struct Slot {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<Result<axion::v1::CommandResult>> outcome;
  };
  auto slot = std::make_shared<Slot>();
  submit_async(std::move(command), timeout, [slot](Result<axion::v1::CommandResult> outcome) {
    std::lock_guard lock(slot->mu);
    slot->outcome.emplace(std::move(outcome));
    slot->cv.notify_one();
  });
  std::unique_lock lock(slot->mu);
  slot->cv.wait(lock, [&] { return slot->outcome.has_value(); });  // done runs exactly once
  return std::move(*slot->outcome);
}

void CommandBus::append_loop() {
  for (;;) {
    std::vector<Queued> batch;
    {
      std::unique_lock lock(mu_);
      queued_cv_.wait(lock, [&] { return !running_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopped
      const std::size_t n = std::min(queue_.size(), kMaxBatch);
      batch.reserve(n);
      for (std::size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    append_batch(std::move(batch));
  }
}

void CommandBus::append_batch(std::vector<Queued> batch) {
  std::vector<events::Record> records;
  records.reserve(batch.size());
  for (auto& q : batch) {
    records.push_back(batch.size() == 1 ? std::move(q.record) : q.record);
  }
  auto appended = producer_->append(std::move(records));
  if (appended.ok()) return;  // the waiters wait for their results
  if (batch.size() > 1 && !appended.status().retryable()) {
    // Refused as a whole for a lasting reason: find out which command it was.
    for (auto& q : batch) {
      std::vector<Queued> one;
      one.push_back(std::move(q));
      append_batch(std::move(one));
    }
    return;
  }
  std::vector<Completion> out;
  {
    std::lock_guard lock(mu_);
    for (const Queued& q : batch) take_waiters(q.command_id, q.seq, appended.status(), out);
  }
  run(out);
}

void CommandBus::read_results() {
  std::vector<Completion> out;
  while (reading_) {
    Clock::duration wait;
    {
      std::lock_guard lock(mu_);
      wait = expire(Clock::now(), kMaxPollWait, out);
    }
    run(out);
    auto records = consumer_->poll(std::chrono::ceil<std::chrono::milliseconds>(wait));
    if (!records.ok()) {
      {
        std::lock_guard lock(mu_);
        reader_error_ = records.status();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // no busy loop on errors
      continue;
    }
    std::vector<axion::v1::CommandResult> mine;
    for (const auto& r : *records) {
      if (r.key != gateway_id_) continue;
      axion::v1::CommandResult result;
      if (result.ParseFromString(r.value)) mine.push_back(std::move(result));
    }
    if (mine.empty()) continue;
    {
      std::lock_guard lock(mu_);
      for (auto& result : mine) {
        const std::string id = result.command_id();
        take_waiters(id, 0, std::move(result), out);
      }
    }
    run(out);
  }
}

void CommandBus::take_waiters(const std::string& command_id, std::uint64_t seq,
                              const Result<axion::v1::CommandResult>& outcome,
                              std::vector<Completion>& out) {
  auto it = waiting_.find(command_id);
  if (it == waiting_.end()) return;
  auto& waiters = it->second;
  for (auto w = waiters.begin(); w != waiters.end();) {
    if (seq != 0 && w->seq != seq) {
      ++w;
      continue;
    }
    deadlines_.erase(w->deadline);
    out.emplace_back(std::move(w->done), outcome);
    w = waiters.erase(w);
  }
  if (waiters.empty()) waiting_.erase(it);
}

CommandBus::Clock::duration CommandBus::expire(Clock::time_point now, Clock::duration cap,
                                               std::vector<Completion>& out) {
  while (!deadlines_.empty() && deadlines_.begin()->first <= now) {
    const auto [id, seq] = deadlines_.begin()->second;
    auto it = waiting_.find(id);
    auto w = it == waiting_.end()
                 ? decltype(it->second.begin()){}
                 : std::find_if(it->second.begin(), it->second.end(),
                                [&, s = seq](const Waiter& x) { return x.seq == s; });
    if (it == waiting_.end() || w == it->second.end()) {
      deadlines_.erase(deadlines_.begin());  // cannot happen: waiters take their entry along
      continue;
    }
    const auto timeout = w->timeout;
    take_waiters(id, seq,
                 deadline_exceeded(
                     "no result for command " + id + " within " + std::to_string(timeout.count()) +
                     " ms" + (reader_error_.ok() ? "" : " (" + reader_error_.message() + ")")),
                 out);
  }
  if (deadlines_.empty()) return cap;
  return std::min(cap, deadlines_.begin()->first - now);
}

void CommandBus::run(std::vector<Completion>& completions) {
  for (auto& [done, outcome] : completions) done(std::move(outcome));
  completions.clear();
}

}  // namespace axion::commands
