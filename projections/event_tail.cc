#include "projections/event_tail.h"

#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <deque>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "events/envelope.h"
#include "events/partitioner.h"
#include "events/topics.h"

namespace axion::projections {

namespace v1 = axion::v1;

namespace {

// How far back one backward step of the initial scan reads.
constexpr std::int64_t kScanChunk = 2048;
constexpr auto kReadWait = std::chrono::milliseconds(2000);

// A wanted event found by the backward scan; rendered only if it is among those shown.
struct Found {
  std::int64_t at_ms = 0;
  events::TopicPartition tp;
  std::int64_t offset = 0;
  v1::EventEnvelope event;
};

// The record's event if the tail wants it (records that are not events are skipped).
std::optional<v1::EventEnvelope> wanted(const TailOptions& options, const events::StoredRecord& r) {
  auto envelope = events::parse_envelope(r);
  if (!envelope.ok()) return std::nullopt;
  if (!options.project_id.empty() && envelope->aggregate_id() != options.project_id) {
    return std::nullopt;
  }
  return std::move(envelope).value();
}

Result<TailedEvent> tailed(const events::TopicPartition& tp, std::int64_t offset,
                           const v1::EventEnvelope& event) {
  auto json = event_json(tp, offset, event);
  if (!json.ok()) return json.status();
  return TailedEvent{audit_entry_of(tp, offset, event), std::move(json).value()};
}

// The partition's latest `last` wanted events before `end`, oldest first: reads backwards in
// chunks so a long log is not read whole when its tail has enough.
Status latest_of(events::EventLog& log, const TailOptions& options,
                 const events::TopicPartition& tp, std::int64_t end, std::uint32_t last,
                 std::vector<Found>& out) {
  std::deque<Found> kept;
  for (std::int64_t hi = end; hi > 0 && kept.size() < last;) {
    const std::int64_t lo = std::max<std::int64_t>(0, hi - kScanChunk);
    std::vector<Found> chunk;
    for (std::int64_t next = lo; next < hi;) {
      auto records = log.read(tp, next, static_cast<std::size_t>(hi - next), kReadWait);
      if (!records.ok()) return records.status();
      if (records->empty()) break;
      for (const auto& r : *records) {
        if (r.offset >= hi) break;
        if (auto e = wanted(options, r)) {
          const auto at =
              google::protobuf::util::TimeUtil::TimestampToMilliseconds(e->occurred_at());
          chunk.push_back({at, tp, r.offset, std::move(*e)});
        }
      }
      next = records->back().offset + 1;
    }
    kept.insert(kept.begin(), std::make_move_iterator(chunk.begin()),
                std::make_move_iterator(chunk.end()));
    hi = lo;
  }
  while (kept.size() > last) kept.pop_front();
  out.insert(out.end(), std::make_move_iterator(kept.begin()), std::make_move_iterator(kept.end()));
  return ok_status();
}

}  // namespace

Result<std::string> event_json(const events::TopicPartition& tp, std::int64_t offset,
                               const v1::EventEnvelope& event) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string payload;
  auto printed = google::protobuf::util::MessageToJsonString(event.payload(), &payload, options);
  if (!printed.ok()) {
    return data_loss("event " + event.event_id() +
                     " cannot be printed as JSON: " + std::string(printed.message()));
  }
  nlohmann::json line;  // an ordered map: keys come out sorted, byte-stable
  line["position"] = {{"topic", tp.topic}, {"partition", tp.partition}, {"offset", offset}};
  line["event_id"] = event.event_id();
  line["type"] = event.type();
  line["aggregate_type"] = event.aggregate_type();
  line["aggregate_id"] = event.aggregate_id();
  line["sequence"] = event.sequence();
  line["occurred_at"] = google::protobuf::util::TimeUtil::ToString(event.occurred_at());
  line["actor"] = event.actor();
  line["correlation_id"] = event.correlation_id();
  line["causation_id"] = event.causation_id();
  line["schema_version"] = event.schema_version();
  line["payload"] = nlohmann::json::parse(payload);
  return line.dump();
}

v1::AuditEntry audit_entry_of(const events::TopicPartition& tp, std::int64_t offset,
                              const v1::EventEnvelope& e) {
  v1::AuditEntry entry;
  entry.set_project_id(e.aggregate_id());
  entry.set_event_id(e.event_id());
  entry.set_type(e.type());
  entry.set_aggregate_type(e.aggregate_type());
  entry.set_aggregate_id(e.aggregate_id());
  entry.set_sequence(e.sequence());
  *entry.mutable_occurred_at() = e.occurred_at();
  entry.set_actor(e.actor());
  entry.set_correlation_id(e.correlation_id());
  entry.set_causation_id(e.causation_id());
  auto* position = entry.mutable_position();
  position->set_topic(tp.topic);
  position->set_partition(tp.partition);
  position->set_offset(offset);
  return entry;
}

Status tail_events(events::EventLog& log, const TailOptions& options,
                   const std::function<bool()>& stopped,
                   const std::function<bool(const TailedEvent&)>& emit) {
  if (options.last > kMaxTail) {
    return invalid_field("last", "last: a tail shows at most " + std::to_string(kMaxTail) +
                                     " events, not " + std::to_string(options.last));
  }
  const std::uint32_t last = options.last == 0 ? kDefaultTail : options.last;
  const std::string topic(events::kDeploymentEventsTopic);
  auto partitions = log.partition_count(topic);
  if (!partitions.ok()) return partitions.status();
  std::vector<events::TopicPartition> tps;
  if (options.project_id.empty()) {
    for (std::int32_t p = 0; p < *partitions; ++p) tps.push_back({topic, p});
  } else {
    tps.push_back({topic, events::partition_for_key(options.project_id, *partitions)});
  }
  std::vector<std::int64_t> next;
  std::vector<Found> latest;
  for (const auto& tp : tps) {
    auto end = log.end_offset(tp);
    if (!end.ok()) return end.status();
    next.push_back(*end);
    AXION_RETURN_IF_ERROR(latest_of(log, options, tp, *end, last, latest));
  }
  std::stable_sort(latest.begin(), latest.end(),
                   [](const Found& a, const Found& b) { return a.at_ms < b.at_ms; });
  const std::size_t skip = latest.size() > last ? latest.size() - last : 0;
  for (std::size_t i = skip; i < latest.size(); ++i) {
    auto t = tailed(latest[i].tp, latest[i].offset, latest[i].event);
    if (!t.ok()) return t.status();
    if (stopped() || !emit(*t)) return ok_status();
  }
  while (options.follow && !stopped()) {
    bool any = false;
    for (std::size_t i = 0; i < tps.size() && !stopped(); ++i) {
      auto records = log.read(tps[i], next[i], 500, std::chrono::milliseconds(0));
      if (!records.ok()) return records.status();
      for (const auto& r : *records) {
        next[i] = r.offset + 1;
        any = true;
        auto e = wanted(options, r);
        if (!e) continue;
        auto t = tailed(tps[i], r.offset, *e);
        if (!t.ok()) return t.status();
        if (!emit(*t)) return ok_status();
      }
    }
    if (!any) std::this_thread::sleep_for(options.poll);
  }
  return ok_status();
}

}  // namespace axion::projections
