// CommandProcessor: the exactly-once loop of the write side. It consumes command envelopes from
// axion.commands.v1 as a member of a consumer group, decides each against its aggregate's
// in-memory state (pure decide/evolve from the AggregateKinds), and appends — in ONE atomic
// append — the resulting events (to the kind's events topic), one CommandResult per command (to
// axion.results.v1, as a trailer that carries the events' log positions) and the consumed
// offsets. Decisions evolve the in-memory state as the batch is decided (a later command of the
// batch sees an earlier one's events); if the append fails, the touched partitions are rebuilt
// from the log, so nothing the log does not hold survives — and the hot path never copies state.
//
// Partition alignment: a command and its aggregate's events and results use the same partition
// number (the commands, results and events topics must have equal partition counts — start()
// checks it). A member assigned commands partition p rebuilds the aggregates of partition p by
// folding the events topics' partition p, and its idempotency memory from results partition p.
// The processor is the only writer of events topics, so after that fold its state is current.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "axion/v1/envelope.pb.h"
#include "commands/aggregate_kind.h"
#include "events/event_log.h"

namespace axion::commands {

struct ProcessorOptions {
  std::string group = "axion-command-processor";
  std::string transactional_id = "axion-command-processor";  // one per server instance
  std::string commands_topic = "axion.commands.v1";
  std::string results_topic = "axion.results.v1";
  Limits limits;
  std::function<std::int64_t()> clock;  // milliseconds since the epoch (infra passes the clock)
  std::chrono::milliseconds poll_timeout{50};
  std::size_t max_event_bytes = 1000 * 1000;  // the log's record limit (AXION_MAX_RECORD_BYTES)
};

struct ProcessorStats {
  std::uint64_t commands = 0;        // decided (accepted or refused)
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;      // answered from idempotency memory
  std::uint64_t malformed = 0;       // records that were not command envelopes (skipped)
  std::uint64_t failed_appends = 0;  // batches that were rolled back and retried
};

class CommandProcessor {
 public:
  // REQUIRES: `log` and `kinds` outlive the processor.
  CommandProcessor(events::EventLog& log, std::vector<const AggregateKind*> kinds,
                   ProcessorOptions options);
  ~CommandProcessor();
  CommandProcessor(const CommandProcessor&) = delete;
  CommandProcessor& operator=(const CommandProcessor&) = delete;

  // Checks the topics, opens the producer, joins the group and starts the loop thread.
  // FAILED_PRECONDITION if partition counts differ between the aligned topics.
  Status start();
  // Finishes the batch in hand, then leaves the group. Idempotent.
  void stop();
  // OK while running; the error that stopped the loop otherwise (e.g. fenced).
  Status health() const;
  ProcessorStats stats() const;

 private:
  struct Aggregate {
    const AggregateKind* kind = nullptr;
    std::unique_ptr<AggregateState> state;
    std::uint64_t version = 0;
  };
  struct PartitionState {
    std::map<std::string, Aggregate> aggregates;  // by aggregate id
    std::map<std::pair<std::string, std::string>, axion::v1::CommandResult> results;  // (agg, key)
  };

  void loop();
  Status rebuild(std::int32_t partition);
  Status process(std::vector<events::StoredRecord> batch);
  const AggregateKind* kind_for(const std::string& command_type) const;
  const AggregateKind* kind_for_events(const std::string& topic, const std::string& type) const;

  events::EventLog& log_;
  std::vector<const AggregateKind*> kinds_;
  ProcessorOptions options_;
  std::unique_ptr<events::Producer> producer_;
  std::unique_ptr<events::Consumer> consumer_;
  std::map<std::int32_t, PartitionState> partitions_;  // owned by the loop thread
  Status rebalance_error_;

  std::atomic<bool> running_{false};
  std::thread thread_;
  mutable std::mutex status_mu_;
  Status status_;
  ProcessorStats stats_;
};

}  // namespace axion::commands
