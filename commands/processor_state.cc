// CommandProcessor: loading a partition's state (snapshot + the log after it) and saving its
// snapshots. See command_processor.h for the rules.
#include "commands/command_processor.h"
#include "events/envelope.h"

namespace axion::commands {

namespace {

constexpr std::size_t kFoldChunk = 5000;
constexpr std::chrono::milliseconds kReadTimeout{1000};

}  // namespace

// FNV-1a, 64 bits: not a security boundary (the store is the processor's own), only a check
// that a snapshot is applied to the very log it was folded from.
std::uint64_t CommandProcessor::value_hash(std::string_view bytes) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

void CommandProcessor::note_record(PartitionState& ps, const std::string& topic,
                                   std::int64_t offset, std::uint64_t hash) {
  auto& mark = ps.marks[topic];
  mark.set_topic(topic);
  mark.set_next_offset(offset + 1);
  mark.set_last_offset(offset);
  mark.set_last_value_hash(hash);
}

std::set<std::string> CommandProcessor::fold_topics() const {
  std::set<std::string> topics{options_.results_topic};
  for (const auto* kind : kinds_) topics.emplace(kind->events_topic());
  return topics;
}

bool CommandProcessor::expired(const axion::v1::CommandResult& result, std::int64_t now) const {
  return result.decided_at_ms() > 0 && result.decided_at_ms() + options_.idempotency_ttl_ms < now;
}

Status CommandProcessor::restore_snapshot(std::int32_t partition, PartitionState& ps) {
  auto loaded = options_.snapshots->load(snapshot_scope_, partition);
  std::uint64_t discarded = 0, failures = 0, restored = 0;
  auto discard = [&](bool failure) {
    ps = PartitionState{};
    ps.reset_store = true;
    ++(failure ? failures : discarded);
  };
  auto count = [&] {
    std::lock_guard lock(status_mu_);
    stats_.snapshots_discarded += discarded;
    stats_.snapshot_failures += failures;
    stats_.aggregates_restored += restored;
  };
  if (!loaded.ok() || !loaded->has_value()) {
    if (!loaded.ok()) discard(true);
    count();
    return ok_status();
  }
  const PartitionSnapshot& snap = **loaded;
  const auto run = [&]() -> Result<bool> {  // false: the snapshot is not valid here
    const auto& versions = snap.checkpoint.fold_versions();
    if (versions.size() != kinds_.size()) return false;
    for (const auto* kind : kinds_) {
      auto it = versions.find(std::string(kind->name()));
      if (it == versions.end() || it->second != kind->fold_version()) return false;
    }
    // Every mark must name a record the log still holds, byte for byte.
    const auto topics = fold_topics();
    for (const auto& mark : snap.checkpoint.marks()) {
      if (!topics.count(mark.topic())) return false;
      if (mark.last_offset() >= 0) {
        auto records = log_.read({mark.topic(), partition}, mark.last_offset(), 1, kReadTimeout);
        if (!records.ok()) return records.status();
        if (records->empty() || records->front().offset != mark.last_offset() ||
            value_hash(records->front().value) != mark.last_value_hash()) {
          return false;
        }
      }
      ps.marks[mark.topic()] = mark;
    }
    for (const auto& [id, stored] : snap.aggregates) {
      const AggregateKind* kind = nullptr;
      for (const auto* k : kinds_) {
        if (k->name() == stored.kind()) kind = k;
      }
      if (!kind) return false;
      Aggregate agg{kind, kind->empty_state(), stored.version()};
      if (!agg.state->restore(stored.state()).ok()) return false;
      ps.aggregates.emplace(id, std::move(agg));
      ++restored;
    }
    const std::int64_t now = options_.clock();
    for (const auto& result : snap.results) {
      ResultKey key{result.aggregate_id(), result.idempotency_key()};
      if (expired(result, now)) {
        ps.forget.push_back(std::move(key));
      } else {
        ps.results.emplace(std::move(key), result);
      }
    }
    return true;
  };
  auto valid = run();
  if (!valid.ok()) {
    ps = PartitionState{};
    return valid.status();
  }
  if (!*valid) {
    restored = 0;
    discard(false);
  }
  count();
  return ok_status();
}

Status CommandProcessor::rebuild(std::int32_t partition) {
  PartitionState ps;
  if (options_.snapshots) AXION_RETURN_IF_ERROR(restore_snapshot(partition, ps));
  std::uint64_t folded = 0;
  auto fold = [&](const std::string& topic, auto&& apply) -> Status {
    const events::TopicPartition tp{topic, partition};
    auto end = log_.end_offset(tp);
    if (!end.ok()) return end.status();
    auto mark = ps.marks.find(topic);
    std::int64_t next = mark == ps.marks.end() ? 0 : mark->second.next_offset();
    while (next < *end) {
      auto records = log_.read(tp, next, kFoldChunk, kReadTimeout);
      if (!records.ok()) return records.status();
      if (records->empty()) break;
      for (const auto& r : *records) AXION_RETURN_IF_ERROR(apply(r));
      const auto& last = records->back();
      note_record(ps, topic, last.offset, value_hash(last.value));
      folded += records->size();
      next = last.offset + 1;
    }
    return ok_status();
  };
  for (const auto& topic : fold_topics()) {
    if (topic == options_.results_topic) continue;
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
      ps.dirty.insert(envelope->aggregate_id());
      return ok_status();
    }));
  }
  const std::int64_t now = options_.clock();
  AXION_RETURN_IF_ERROR(fold(options_.results_topic, [&](const events::StoredRecord& r) -> Status {
    axion::v1::CommandResult result;
    if (!result.ParseFromString(r.value)) {
      return data_loss("command result at " + r.tp.to_string() + "@" + std::to_string(r.offset) +
                       " does not parse");
    }
    // Retryable refusals were answered but never remembered (see command_batch.cc).
    if (!result.idempotency_key().empty() && !result.retryable() && !expired(result, now)) {
      ResultKey key{result.aggregate_id(), result.idempotency_key()};
      ps.new_results.insert(key);
      ps.results[std::move(key)] = std::move(result);
    }
    return ok_status();
  }));
  ps.since_checkpoint = folded;
  partitions_[partition] = std::move(ps);
  {
    std::lock_guard lock(status_mu_);
    stats_.records_folded += folded;
    ++stats_.partitions_loaded;
  }
  if (folded >= options_.snapshot_every) checkpoint(partition);
  return ok_status();
}

void CommandProcessor::checkpoint(std::int32_t partition) {
  auto it = partitions_.find(partition);
  if (it == partitions_.end()) return;
  PartitionState& ps = it->second;
  // Forget idempotency keys past their time, in memory and (below) in the store.
  const std::int64_t now = options_.clock();
  for (auto r = ps.results.begin(); r != ps.results.end();) {
    if (expired(r->second, now)) {
      ps.new_results.erase(r->first);
      ps.forget.push_back(r->first);
      r = ps.results.erase(r);
    } else {
      ++r;
    }
  }
  ps.since_checkpoint = 0;
  if (!options_.snapshots) {
    ps.forget.clear();
    return;
  }
  if (ps.dirty.empty() && ps.new_results.empty() && ps.forget.empty() && !ps.reset_store) return;

  SnapshotUpdate update;
  update.reset = ps.reset_store;
  update.checkpoint.set_partition(partition);
  update.checkpoint.set_written_at_ms(now);
  for (const auto* kind : kinds_) {
    (*update.checkpoint.mutable_fold_versions())[std::string(kind->name())] = kind->fold_version();
  }
  for (const auto& topic : fold_topics()) {
    auto mark = ps.marks.find(topic);
    if (mark != ps.marks.end()) {
      *update.checkpoint.add_marks() = mark->second;
    } else {
      auto* empty = update.checkpoint.add_marks();
      empty->set_topic(topic);
      empty->set_last_offset(-1);
    }
  }
  for (const auto& id : ps.dirty) {
    auto agg = ps.aggregates.find(id);
    if (agg == ps.aggregates.end()) continue;
    axion::v1::AggregateSnapshot stored;
    stored.set_kind(std::string(agg->second.kind->name()));
    stored.set_version(agg->second.version);
    stored.set_state(agg->second.state->snapshot());
    update.aggregates.emplace(id, std::move(stored));
  }
  for (const auto& key : ps.new_results) {
    auto r = ps.results.find(key);
    if (r != ps.results.end()) update.results.push_back(r->second);
  }
  update.forget = ps.forget;
  const Status saved = options_.snapshots->save(snapshot_scope_, partition, update);
  std::lock_guard lock(status_mu_);
  if (!saved.ok()) {
    ++stats_.snapshot_failures;
    return;  // keep the change sets: the next checkpoint tries again
  }
  ps.dirty.clear();
  ps.new_results.clear();
  ps.forget.clear();
  ps.reset_store = false;
  ++stats_.snapshots_written;
}

}  // namespace axion::commands
