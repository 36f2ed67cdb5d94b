// ProjectionProcessor: keeps the views of a ViewStore up to date with the events topics. It
// consumes the topics (a consumer group of its own, or one shared by servers that share a
// PostgreSQL store), folds each polled batch through the projector over a row overlay (reads
// see the batch's own writes) and commits the row changes together with the offsets they
// consumed — one atomic ViewStore::commit, compare-and-set on the offsets — so an event is
// applied exactly once whatever crashes or rebalances happen. The offsets live in the store,
// not in the consumer group: on assignment the processor seeks to them.
//
// Read-your-writes: wait_for(positions) returns once every given log position is applied (or at
// the deadline, DEADLINE_EXCEEDED). Lag: stats() carries the records not yet applied and the
// recent event-to-view latencies.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "events/event_log.h"
#include "projections/projector.h"
#include "projections/view_store.h"

namespace axion::projections {

struct ProjectionOptions {
  std::string name = "views";  // the projection's offsets in the store
  std::string group = "axion-projections";
  std::vector<std::string> topics;  // events topics (default: deployment and infrastructure)
  ProjectorOptions projector;
  std::chrono::milliseconds poll_timeout{20};
  std::function<std::int64_t()> clock;  // ms since the epoch (for lag)
};

struct ProjectionStats {
  std::uint64_t events_applied = 0;
  std::uint64_t batches = 0;
  std::uint64_t conflicts = 0;       // commits refused because another writer moved the offsets
  std::uint64_t failed_commits = 0;  // store errors (the batch is read again)
  std::uint64_t malformed = 0;       // records that are not event envelopes (skipped)
  std::int64_t last_lag_ms = 0;      // commit time minus the last applied event's time
  std::vector<std::int64_t> recent_lag_ms;  // up to 4096 recent per-event lags (commit - event)
};

class ProjectionProcessor {
 public:
  // REQUIRES: `log` and `store` outlive the processor.
  ProjectionProcessor(events::EventLog& log, ViewStore& store, ProjectionOptions options);
  ~ProjectionProcessor();
  ProjectionProcessor(const ProjectionProcessor&) = delete;
  ProjectionProcessor& operator=(const ProjectionProcessor&) = delete;

  Status start();
  void stop();  // finishes the batch in hand; idempotent
  // Between stop() and start(): forget the offsets applied so far (the store was swapped for
  // another; start() reads the new store's).
  void forget_offsets();
  Status health() const;
  ProjectionStats stats() const;
  // The next offset to apply per partition, as far as this processor knows.
  Offsets applied() const;
  // Waits until every position of a projected topic is applied. Positions of other topics are
  // ignored. DEADLINE_EXCEEDED at `deadline`, with how far the view got.
  Status wait_for(const std::vector<events::LogPosition>& positions,
                  std::chrono::steady_clock::time_point deadline);
  // Records in the log not yet applied, over the assigned partitions (asks the log for ends).
  Result<std::int64_t> lag_records();

 private:
  void loop();
  Status process(std::vector<events::StoredRecord> batch);
  Status load_offsets();

  events::EventLog& log_;
  ViewStore& store_;
  ProjectionOptions options_;
  std::unique_ptr<events::Consumer> consumer_;
  std::set<events::TopicPartition> to_seek_;  // assigned, not yet positioned at the store's offset
  std::set<events::TopicPartition> assigned_;  // guarded by mu_ (read by lag_records)
  std::atomic<bool> running_{false};
  std::thread thread_;

  mutable std::mutex mu_;
  std::condition_variable applied_cv_;
  Offsets applied_;  // guarded by mu_
  Status status_;
  ProjectionStats stats_;
  std::deque<std::int64_t> lags_;
};

}  // namespace axion::projections
