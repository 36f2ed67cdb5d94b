// CommandBus: the gateway's side of the command log. A submitted command envelope is appended to
// axion.commands.v1 (keyed by its partition key, so it lands where its aggregate lives) and its
// caller is answered with the CommandResult the processor publishes for it on axion.results.v1.
//
// Appends: commands submitted while an append is in flight are queued and appended together, in
// ONE atomic, durable append, by the bus's appender threads (two, so one append is staged while
// the other syncs). If such a batch is refused as a whole for a reason that is not transient
// (e.g. one record over the log's size limit), its commands are appended one by one so that only
// the offending one fails.
//
// Results are read by a consumer of a group of the bus's own ("gateway-<id>", so it is assigned
// every partition), positioned at the partitions' ends when the bus starts; a poll wakes on a
// result in any partition. Only results addressed to this bus (reply_to == gateway id) are
// delivered; the results stay in the log whoever reads them.
//
// submit_async() never blocks: its callback runs exactly once, on a bus thread, with the result,
// the append's error, or DEADLINE_EXCEEDED. submit() is the blocking form.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "axion/v1/envelope.pb.h"
#include "common/status.h"
#include "events/event_log.h"

namespace axion::commands {

// A command's result with a refusal turned into its Status (code, message, field, retryable):
// what callers of the bus hand on — the gRPC gateway to its caller, the agent hub to a stream.
Result<axion::v1::CommandResult> refusal_as_status(Result<axion::v1::CommandResult> result);

class CommandBus {
 public:
  // Called exactly once per submitted command. Runs on one of the bus's threads (or on the
  // submitting thread when the command is refused before it is queued): it must not block.
  using Done = std::function<void(Result<axion::v1::CommandResult>)>;

  // REQUIRES: `log` outlives the bus.
  CommandBus(events::EventLog& log, std::string gateway_id,
             std::string commands_topic = "axion.commands.v1",
             std::string results_topic = "axion.results.v1");
  ~CommandBus();
  CommandBus(const CommandBus&) = delete;
  CommandBus& operator=(const CommandBus&) = delete;

  Status start();
  // Answers every command still waiting with UNAVAILABLE (those not yet appended were not
  // appended; the others may still be processed: retry with the same idempotency key to learn
  // their outcome), then stops the threads. Idempotent.
  void stop();

  // Sets reply_to and queues the command for the next append; `done` gets its result, the
  // append's error, or DEADLINE_EXCEEDED if no result arrives within `timeout` (the command may
  // still be processed later: retry with the same idempotency key to learn its outcome).
  // Thread-safe.
  void submit_async(axion::v1::CommandEnvelope command, std::chrono::milliseconds timeout,
                    Done done);

  // The blocking form of submit_async. Thread-safe.
  Result<axion::v1::CommandResult> submit(axion::v1::CommandEnvelope command,
                                          std::chrono::milliseconds timeout);

 private:
  using Clock = std::chrono::steady_clock;
  using Deadlines = std::multimap<Clock::time_point, std::pair<std::string, std::uint64_t>>;
  struct Waiter {
    std::uint64_t seq = 0;  // tells submissions of the same command id apart
    std::chrono::milliseconds timeout{0};
    Deadlines::iterator deadline;  // its entry in deadlines_
    Done done;
  };
  struct Queued {
    std::string command_id;
    std::uint64_t seq = 0;
    events::Record record;
  };
  // A callback to run once the bus's lock is released.
  using Completion = std::pair<Done, Result<axion::v1::CommandResult>>;

  void append_loop();
  void append_batch(std::vector<Queued> batch);
  void read_results();
  // Takes the waiters of `command_id` (all of them when seq == 0, else the one with `seq`) and
  // adds their completions to `out`. REQUIRES mu_ held.
  void take_waiters(const std::string& command_id, std::uint64_t seq,
                    const Result<axion::v1::CommandResult>& outcome, std::vector<Completion>& out);
  // The waiters whose deadline passed, answered DEADLINE_EXCEEDED; returns the time until the
  // next deadline (at most `cap`). REQUIRES mu_ held.
  Clock::duration expire(Clock::time_point now, Clock::duration cap, std::vector<Completion>& out);
  static void run(std::vector<Completion>& completions);

  events::EventLog& log_;
  const std::string gateway_id_;
  const std::string commands_topic_;
  const std::string results_topic_;
  std::unique_ptr<events::Producer> producer_;
  std::unique_ptr<events::Consumer> consumer_;
  std::map<std::int32_t, std::int64_t> start_;  // results partition -> its end at start()

  std::mutex mu_;
  std::condition_variable queued_cv_;
  std::deque<Queued> queue_;                                      // not yet appended
  std::unordered_map<std::string, std::vector<Waiter>> waiting_;  // by command id
  Deadlines deadlines_;  // -> (command id, seq) of every waiter
  std::uint64_t next_seq_ = 1;
  bool running_ = false;
  Status reader_error_;
  std::atomic<bool> reading_{false};
  std::vector<std::thread> appenders_;
  std::thread reader_;
};

}  // namespace axion::commands
