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
//
// Snapshots (optional, ProcessorOptions::snapshots): a partition's state is saved to the local
// SnapshotStore every `snapshot_every` records, on revocation and on stop, stamped with the log
// marks it folded up to and the kinds' fold versions; a later load restores it and folds only
// the log after the marks. A snapshot whose fold versions differ, or whose marks do not match
// the log (another or a truncated log), is discarded and the partition folded from offset 0.
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

#include <set>

#include "axion/v1/envelope.pb.h"
#include "axion/v1/snapshot.pb.h"
#include "commands/aggregate_kind.h"
#include "commands/snapshot_store.h"
#include "common/histogram.h"
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
  // Local snapshot store; null = partitions are always folded from offset 0. Must outlive the
  // processor.
  SnapshotStore* snapshots = nullptr;
  // A partition's snapshot is written once this many records (events and results) were folded
  // or appended since its last one (and on revocation and stop).
  std::uint64_t snapshot_every = 10000;
  // How long an idempotency key is remembered after its command was decided (AXION_IDEMPOTENCY_
  // TTL_HOURS); a retry after that is a new command. Results without a decision time are kept.
  std::int64_t idempotency_ttl_ms = 24LL * 3600 * 1000;
  // Metrics, fed when set (thread-safe; must outlive the processor): the duration of each
  // batch's producer append (seconds), and per decided command the time from its envelope's
  // issued_at (the gateway's receipt) to the append that made its decision durable, by
  // `clock` (millisecond resolution; clamped at 0 when another host's clock is ahead).
  Histogram* append_seconds = nullptr;
  Histogram* command_seconds = nullptr;
};

struct ProcessorStats {
  std::uint64_t commands = 0;        // decided (accepted or refused)
  std::uint64_t accepted = 0;
  std::uint64_t duplicates = 0;      // answered from idempotency memory
  std::uint64_t malformed = 0;       // records that were not command envelopes (skipped)
  std::uint64_t failed_appends = 0;  // batches that were rolled back and retried
  std::uint64_t partitions_loaded = 0;  // partition loads (assignments, reloads after failures)
  std::uint64_t records_folded = 0;  // log records folded while loading partitions
  std::uint64_t aggregates_restored = 0;  // aggregates loaded from snapshots
  std::uint64_t snapshots_written = 0;
  std::uint64_t snapshots_discarded = 0;  // fold version changed, or the log does not match
  std::uint64_t snapshot_failures = 0;    // the store failed; the processor went on from the log
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
  using ResultKey = std::pair<std::string, std::string>;  // (aggregate id, idempotency key)
  struct PartitionState {
    std::map<std::string, Aggregate> aggregates;  // by aggregate id
    std::map<ResultKey, axion::v1::CommandResult> results;
    // What the state has folded, per topic (the next snapshot's marks).
    std::map<std::string, axion::v1::SnapshotTopicMark> marks;
    // Changes since the stored snapshot.
    std::set<std::string> dirty;       // aggregates
    std::set<ResultKey> new_results;
    std::vector<ResultKey> forget;     // expired results still in the store
    std::uint64_t since_checkpoint = 0;  // records folded or appended since the last one
    bool reset_store = false;          // the stored snapshot was discarded: replace it whole
  };

  void loop();
  // Loads partition `partition`: its snapshot (if valid), then the log after the snapshot's
  // marks. Replaces partitions_[partition].
  Status rebuild(std::int32_t partition);
  // Fills `ps` from the stored snapshot if it is valid for this code and this log; on an invalid
  // one leaves `ps` empty with reset_store set. Errors only for log reads that failed.
  Status restore_snapshot(std::int32_t partition, PartitionState& ps);
  // Loads every assigned partition that has no state (its load failed earlier).
  Status load_missing();
  // Forgets expired idempotency keys and, with a store, saves what changed since the last
  // snapshot. A failed save is counted and otherwise ignored: the log is the truth.
  void checkpoint(std::int32_t partition);
  bool expired(const axion::v1::CommandResult& result, std::int64_t now) const;
  // Advances ps.marks[topic] past a record folded or appended (hash: value_hash of its value).
  static void note_record(PartitionState& ps, const std::string& topic, std::int64_t offset,
                          std::uint64_t hash);
  // A cheap fingerprint (FNV-1a 64) matching a snapshot's marks to the log they came from.
  static std::uint64_t value_hash(std::string_view value);
  std::set<std::string> fold_topics() const;
  Status process(std::vector<events::StoredRecord> batch);
  const AggregateKind* kind_for(const std::string& command_type) const;
  const AggregateKind* kind_for_events(const std::string& topic, const std::string& type) const;

  events::EventLog& log_;
  std::vector<const AggregateKind*> kinds_;
  ProcessorOptions options_;
  std::unique_ptr<events::Producer> producer_;
  std::unique_ptr<events::Consumer> consumer_;
  std::string snapshot_scope_;  // group and commands topic: the store may serve several processors
  std::map<std::int32_t, PartitionState> partitions_;  // owned by the loop thread
  Status rebalance_error_;

  std::atomic<bool> running_{false};
  std::thread thread_;
  mutable std::mutex status_mu_;
  Status status_;
  ProcessorStats stats_;
};

}  // namespace axion::commands
