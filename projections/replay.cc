#include "projections/replay.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "events/envelope.h"
#include "events/partitioner.h"
#include "events/topics.h"
#include "projections/event_tail.h"
#include "projections/memory_view_store.h"
#include "projections/row_overlay.h"

namespace axion::projections {

namespace {

namespace v1 = axion::v1;

std::vector<std::string> topics_of(const ReplayOptions& options) {
  if (!options.topics.empty()) return options.topics;
  return {std::string(events::kDeploymentEventsTopic),
          std::string(events::kInfrastructureEventsTopic)};
}

// Calls fn(record) for every record of `tp` in [from, end).
template <typename Fn>
Status for_each_record(events::EventLog& log, const events::TopicPartition& tp, std::int64_t from,
                       std::int64_t end, std::chrono::milliseconds timeout, Fn&& fn) {
  for (std::int64_t next = from; next < end;) {
    auto records = log.read(tp, next, 5000, timeout);
    if (!records.ok()) return records.status();
    if (records->empty()) break;
    for (const auto& r : *records) {
      if (r.offset >= end) return ok_status();
      AXION_RETURN_IF_ERROR(fn(r));
    }
    next = records->back().offset + 1;
  }
  return ok_status();
}

// Folds one partition over [from, end).
Status replay_partition(events::EventLog& log, ViewStore& store, const ReplayOptions& options,
                        const events::TopicPartition& tp, std::int64_t from, std::int64_t end,
                        const std::atomic<bool>& stop, ReplayStats& stats) {
  RowOverlay rows(store);
  ViewBatch batch;
  batch.projection = options.projection;
  std::int64_t committed = from;
  std::size_t in_batch = 0;
  std::vector<v1::EventEnvelope> envelopes;
  std::vector<EventAt> pending;
  auto flush = [&]() -> Status {
    if (in_batch == 0) return ok_status();
    // A remote store reads what the batch will read first, one get_many per table.
    for (std::size_t i = 0; i < pending.size(); ++i) pending[i].event = &envelopes[i];
    if (store.remote_reads()) {
      AXION_RETURN_IF_ERROR(rows.prefetch(rows_read(pending, options.projector)));
    }
    for (const auto& e : pending) {
      AXION_RETURN_IF_ERROR(project(*e.event, e.at, rows, options.projector));
    }
    stats.events += pending.size();
    envelopes.clear();
    pending.clear();
    batch.mutations = rows.take();
    batch.expected = {{tp, committed}};
    AXION_RETURN_IF_ERROR(store.commit(batch));
    committed = batch.next[tp];
    ++stats.batches;
    in_batch = 0;
    if (stop) return aborted("replay stopped: another partition failed");
    return ok_status();
  };
  AXION_RETURN_IF_ERROR(for_each_record(
      log, tp, from, end, options.read_timeout, [&](const events::StoredRecord& r) {
        ++stats.records;
        ++in_batch;
        batch.next = {{tp, r.offset + 1}};
        auto envelope = events::parse_envelope(r);
        if (envelope.ok()) {
          envelopes.push_back(std::move(envelope).value());
          pending.push_back({nullptr, {tp, r.offset}});
        }
        return in_batch >= options.batch_records ? flush() : ok_status();
      }));
  return flush();
}

}  // namespace

Result<ReplayStats> replay(events::EventLog& log, ViewStore& store, const ReplayOptions& options) {
  auto stored = store.offsets(options.projection);
  if (!stored.ok()) return stored.status();
  struct Work {
    events::TopicPartition tp;
    std::int64_t from = 0;
    std::int64_t end = 0;
  };
  std::vector<Work> work;
  for (const auto& topic : topics_of(options)) {
    auto partitions = log.partition_count(topic);
    if (!partitions.ok()) return partitions.status();
    for (std::int32_t p = 0; p < *partitions; ++p) {
      const events::TopicPartition tp{topic, p};
      auto end = log.end_offset(tp);
      if (!end.ok()) return end.status();
      const auto at = stored->find(tp);
      work.push_back({tp, at == stored->end() ? 0 : at->second, *end});
    }
  }
  std::size_t threads = options.threads ? options.threads : std::thread::hardware_concurrency();
  threads = std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(work.size(), 1));

  std::mutex mu;
  std::size_t next = 0;
  ReplayStats total;
  Status failed;
  std::atomic<bool> stop{false};
  auto worker = [&] {
    for (;;) {
      Work w;
      {
        std::lock_guard lock(mu);
        if (next == work.size() || stop) return;
        w = work[next++];
      }
      ReplayStats stats;
      Status status = replay_partition(log, store, options, w.tp, w.from, w.end, stop, stats);
      std::lock_guard lock(mu);
      total.records += stats.records;
      total.events += stats.events;
      total.batches += stats.batches;
      if (!status.ok() && !stop) {
        failed = status;
        stop = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (std::size_t i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (!failed.ok()) return failed;
  return total;
}

Result<AsOf> views_as_of(events::EventLog& log, const std::string& project_id, std::int64_t at_ms,
                         const ProjectorOptions& options) {
  if (project_id.empty()) return invalid_field("project_id", "project_id is required");
  const std::string topic(events::kDeploymentEventsTopic);
  auto partitions = log.partition_count(topic);
  if (!partitions.ok()) return partitions.status();
  const events::TopicPartition tp{topic, events::partition_for_key(project_id, *partitions)};
  auto end = log.end_offset(tp);
  if (!end.ok()) return end.status();
  AsOf out;
  out.store = make_memory_view_store();
  RowOverlay rows(*out.store);
  AXION_RETURN_IF_ERROR(for_each_record(
      log, tp, 0, *end, std::chrono::milliseconds(2000), [&](const events::StoredRecord& r) {
        auto envelope = events::parse_envelope(r);
        if (!envelope.ok() || envelope->aggregate_id() != project_id) return ok_status();
        if (google::protobuf::util::TimeUtil::TimestampToMilliseconds(envelope->occurred_at()) >
            at_ms) {
          return ok_status();  // after the instant (a project's events are in time order)
        }
        ++out.events;
        return project(*envelope, {tp, r.offset}, rows, options);
      }));
  ViewBatch batch;
  batch.projection = "as-of";
  batch.mutations = rows.take();
  AXION_RETURN_IF_ERROR(out.store->commit(batch));
  out.queries = std::make_unique<ViewQueries>(*out.store);
  if (out.events == 0) {
    return not_found("project '" + project_id + "' did not exist at that time");
  }
  return out;
}

Result<std::uint64_t> export_audit(events::EventLog& log, const std::string& project_id,
                                   std::ostream& out) {
  if (project_id.empty()) return invalid_field("project_id", "project_id is required");
  const std::string topic(events::kDeploymentEventsTopic);
  auto partitions = log.partition_count(topic);
  if (!partitions.ok()) return partitions.status();
  const events::TopicPartition tp{topic, events::partition_for_key(project_id, *partitions)};
  auto end = log.end_offset(tp);
  if (!end.ok()) return end.status();
  std::uint64_t lines = 0;
  AXION_RETURN_IF_ERROR(for_each_record(
      log, tp, 0, *end, std::chrono::milliseconds(2000), [&](const events::StoredRecord& r) {
        auto envelope = events::parse_envelope(r);
        if (!envelope.ok() || envelope->aggregate_id() != project_id) return ok_status();
        auto line = event_json(tp, r.offset, *envelope);
        if (!line.ok()) return line.status();
        out << *line << "\n";
        ++lines;
        return ok_status();
      }));
  if (!out) return unavailable("the audit export could not be written");
  return lines;
}

}  // namespace axion::projections
