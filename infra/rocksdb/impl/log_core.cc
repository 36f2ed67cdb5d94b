// LogCore: opening and recovery, the group-commit committer, and reads. Consumer-group
// coordination is in group_coordinator.cc.
#include "infra/rocksdb/impl/log_core.h"

#include <rocksdb/options.h>
#include <rocksdb/slice_transform.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <cstring>
#include <exception>

#include "axion/v1/log.pb.h"
#include "common/wall_clock.h"
#include "events/partitioner.h"
#include "infra/rocksdb/impl/keys.h"

namespace axion::infra::rocksdb {

namespace {

// The prefix of a record key up to its partition ('R' topic '\0' be32): offsets arrive in order
// per partition, so the memtable keeps an insert hint per prefix and appends stay cheap.
class PartitionPrefix final : public ::rocksdb::SliceTransform {
 public:
  const char* Name() const override { return "axion.PartitionPrefix"; }
  ::rocksdb::Slice Transform(const ::rocksdb::Slice& key) const override {
    const auto* nul = static_cast<const char*>(std::memchr(key.data(), '\0', key.size()));
    return {key.data(), static_cast<std::size_t>(nul - key.data()) + 5};
  }
  bool InDomain(const ::rocksdb::Slice& key) const override {
    if (key.size() < 14 || key[0] != 'R') return false;
    const auto* nul = static_cast<const char*>(std::memchr(key.data(), '\0', key.size()));
    return nul && static_cast<std::size_t>(nul - key.data()) + 13 == key.size();
  }
};

}  // namespace

Status from_rocks(const ::rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return ok_status();
  const std::string msg = what + ": " + s.ToString();
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return failed_precondition(what + ": the data directory is in use by another process (" +
                               s.ToString() + ")");
  }
  if (s.IsCorruption()) return data_loss(msg);
  if (s.IsIOError() || s.IsBusy() || s.IsTryAgain() || s.IsTimedOut()) return unavailable(msg);
  if (s.IsNoSpace()) return resource_exhausted(msg);
  return internal_error(msg);
}

Result<std::shared_ptr<LogCore>> LogCore::open(const std::string& path, events::LogLimits limits,
                                               std::size_t max_batch_appends) {
  ::rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  options.memtable_insert_with_hint_prefix_extractor = std::make_shared<PartitionPrefix>();
  ::rocksdb::DB* raw = nullptr;
  ::rocksdb::Status s = ::rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return from_rocks(s, "cannot open the event log at '" + path + "'");
  std::shared_ptr<LogCore> core(
      new LogCore(std::unique_ptr<::rocksdb::DB>(raw), limits, max_batch_appends));
  AXION_RETURN_IF_ERROR(core->load());
  core->committer_ = std::thread([c = core.get()] { c->committer_loop(); });
  core->syncer_ = std::thread([c = core.get()] { c->syncer_loop(); });
  return core;
}

LogCore::LogCore(std::unique_ptr<::rocksdb::DB> db, events::LogLimits limits, std::size_t max_batch)
    : db_(std::move(db)), limits_(limits), max_batch_(max_batch) {}

LogCore::~LogCore() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_all();
  if (committer_.joinable()) committer_.join();  // drains the queue
  {
    std::lock_guard lock(sync_mu_);
    committer_done_ = true;
  }
  sync_cv_.notify_all();
  if (syncer_.joinable()) syncer_.join();  // syncs and completes what was written
}

// Recovers topics, partition ends and producer epochs from the database.
Status LogCore::load() {
  std::unique_ptr<::rocksdb::Iterator> it(db_->NewIterator(::rocksdb::ReadOptions()));
  for (it->Seek("T"); it->Valid() && keys::has_prefix(it->key(), "T"); it->Next()) {
    axion::v1::TopicMeta meta;
    if (!meta.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return data_loss("topic metadata of '" + it->key().ToString().substr(1) + "' is corrupt");
    }
    const std::string topic = it->key().ToString().substr(1);
    topics_[topic] = meta.partitions();
    for (std::int32_t p = 0; p < meta.partitions(); ++p) {
      events::TopicPartition tp{topic, p};
      const std::string prefix = keys::partition_prefix(tp);
      std::unique_ptr<::rocksdb::Iterator> last(db_->NewIterator(::rocksdb::ReadOptions()));
      last->SeekForPrev(prefix + std::string(8, '\xff'));
      ends_[tp] = (last->Valid() && keys::has_prefix(last->key(), prefix))
                      ? keys::offset_of_record_key(last->key().ToStringView()) + 1
                      : 0;
      AXION_RETURN_IF_ERROR(from_rocks(last->status(), "recovering " + tp.to_string()));
    }
  }
  for (it->Seek("O"); it->Valid() && keys::has_prefix(it->key(), "O"); it->Next()) {
    const std::string key = it->key().ToString();
    const auto first_nul = key.find('\0');
    const auto second_nul = key.find('\0', first_nul + 1);
    if (first_nul == std::string::npos || second_nul == std::string::npos ||
        key.size() != second_nul + 5 || it->value().size() != 8) {
      return data_loss("committed offset entry is corrupt");
    }
    events::TopicPartition tp{key.substr(first_nul + 1, second_nul - first_nul - 1),
                              static_cast<std::int32_t>(keys::get_be(key, second_nul + 1, 4))};
    committed_[{key.substr(1, first_nul - 1), tp}] =
        static_cast<std::int64_t>(keys::get_be(it->value().ToStringView(), 0, 8));
  }
  staged_ends_ = ends_;
  for (it->Seek("P"); it->Valid() && keys::has_prefix(it->key(), "P"); it->Next()) {
    epochs_[it->key().ToString().substr(1)] = keys::get_be(it->value().ToStringView(), 0, 8);
  }
  return from_rocks(it->status(), "recovering the event log");
}

Status LogCore::ensure_topic(const events::TopicSpec& spec) {
  AXION_RETURN_IF_ERROR(events::validate_topic_name(spec.name));
  AXION_RETURN_IF_ERROR(events::validate_partitions(spec.partitions));
  std::lock_guard lock(mu_);
  if (auto it = topics_.find(spec.name); it != topics_.end()) {
    if (it->second == spec.partitions) return ok_status();
    return failed_precondition("topic '" + spec.name + "' exists with " +
                               std::to_string(it->second) + " partitions, not " +
                               std::to_string(spec.partitions));
  }
  axion::v1::TopicMeta meta;
  meta.set_partitions(spec.partitions);
  ::rocksdb::WriteOptions wo;
  wo.sync = true;
  AXION_RETURN_IF_ERROR(from_rocks(
      db_->Put(wo, keys::topic_key(spec.name), meta.SerializeAsString()), "creating topic"));
  topics_[spec.name] = spec.partitions;
  for (std::int32_t p = 0; p < spec.partitions; ++p) {
    ends_[{spec.name, p}] = 0;
    staged_ends_[{spec.name, p}] = 0;
  }
  return ok_status();
}

Result<std::int32_t> LogCore::partition_count(const std::string& topic) {
  std::lock_guard lock(mu_);
  auto it = topics_.find(topic);
  if (it == topics_.end()) return not_found("topic '" + topic + "' does not exist");
  return it->second;
}

Result<std::uint64_t> LogCore::register_producer(const std::string& txid) {
  AXION_RETURN_IF_ERROR(events::validate_identifier("transactional id", txid));
  std::lock_guard lock(mu_);
  const std::uint64_t epoch = epochs_[txid] + 1;
  ::rocksdb::WriteOptions wo;
  wo.sync = true;
  AXION_RETURN_IF_ERROR(from_rocks(
      db_->Put(wo, keys::producer_key(txid), keys::encode_u64(epoch)), "registering producer"));
  epochs_[txid] = epoch;
  return epoch;
}

Result<std::vector<events::LogPosition>> LogCore::append(const std::string& txid,
                                                         std::uint64_t epoch,
                                                         std::vector<events::Record> records,
                                                         const events::OffsetCommit* offsets,
                                                         std::optional<MemberRef> member,
                                                         const events::Producer::Trailer& trailer) {
  AXION_RETURN_IF_ERROR(events::validate_append(records, limits_));
  if (offsets) AXION_RETURN_IF_ERROR(events::validate_identifier("consumer group", offsets->group));
  if (offsets) {
    for (const auto& po : offsets->offsets) {
      if (po.next_offset < 0) {
        return invalid_argument("offset " + std::to_string(po.next_offset) + " for " +
                                po.tp.to_string() + " is negative");
      }
    }
  }
  thread_local std::binary_semaphore done{0};
  PendingAppend pending;
  pending.txid = txid;
  pending.epoch = epoch;
  pending.records = std::move(records);
  pending.offsets = offsets;
  pending.member = member;
  if (trailer) pending.trailer = &trailer;
  pending.done = &done;
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return unavailable("the event log is closing");
    queue_.push_back(&pending);
  }
  queue_cv_.notify_one();
  done.acquire();
  return std::move(*pending.outcome);
}

void LogCore::committer_loop() {
  for (;;) {
    std::vector<PendingAppend*> batch;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      const std::size_t n = std::min(queue_.size(), max_batch_);
      batch.assign(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    write_batch(std::move(batch));
  }
}

// Stages every append of the batch into one WriteBatch and writes it unsynced; an append refused
// at staging fails alone. The syncer makes the batch durable and completes it.
void LogCore::write_batch(std::vector<PendingAppend*> batch) {
  ::rocksdb::WriteBatch wb(batch.size() * 512);
  WrittenBatch written;
  written.appends = std::move(batch);
  written.positions.resize(written.appends.size());
  const std::int64_t ts = wall_clock_ms();
  std::vector<std::pair<PendingAppend*, Status>> refused;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < written.appends.size(); ++i) {
      PendingAppend* p = written.appends[i];
      wb.SetSavePoint();
      WrittenBatch staged_only;  // this append's ends and offsets, merged only if it stages
      auto staged = failed_.ok() ? stage(*p, wb, staged_only, ts)
                                 : Result<std::vector<events::LogPosition>>(failed_);
      if (!staged.ok()) {
        (void)wb.RollbackToSavePoint();
        refused.emplace_back(p, staged.status());
        written.appends[i] = nullptr;
        continue;
      }
      written.positions[i] = std::move(staged).value();
      for (auto& [tp, end] : staged_only.new_ends) {
        written.new_ends[tp] = end;
        staged_ends_[tp] = end;
      }
      for (auto& [key, offset] : staged_only.new_committed) written.new_committed[key] = offset;
    }
  }
  for (auto& [p, status] : refused) p->complete(status);
  if (wb.Count() > 0) {
    ::rocksdb::WriteOptions wo;
    wo.sync = false;  // the syncer's SyncWAL makes it durable
    const Status status = from_rocks(db_->Write(wo, &wb), "appending to the event log");
    if (!status.ok()) {
      {
        std::lock_guard lock(mu_);
        fail_log(status);
      }
      for (PendingAppend* p : written.appends) {
        if (p) p->complete(status);
      }
      return;
    }
  }
  {
    std::lock_guard sync_lock(sync_mu_);
    written_.push_back(std::move(written));
  }
  sync_cv_.notify_one();
}

void LogCore::syncer_loop() {
  for (;;) {
    std::deque<WrittenBatch> batches;
    {
      std::unique_lock lock(sync_mu_);
      sync_cv_.wait(lock, [&] { return committer_done_ || !written_.empty(); });
      if (written_.empty()) return;  // the committer is done and everything is synced
      batches.swap(written_);
    }
    Status synced = from_rocks(db_->SyncWAL(), "syncing the event log");
    {
      std::lock_guard lock(mu_);
      if (!synced.ok()) {
        fail_log(synced);
      } else if (!failed_.ok()) {
        synced = failed_;  // an earlier batch failed: nothing staged after it may become visible
      } else {
        for (auto& b : batches) {
          for (auto& [tp, end] : b.new_ends) ends_[tp] = end;
          for (auto& [key, offset] : b.new_committed) committed_[key] = offset;
        }
      }
    }
    data_cv_.notify_all();
    for (auto& b : batches) {
      for (std::size_t i = 0; i < b.appends.size(); ++i) {
        if (!b.appends[i]) continue;
        if (synced.ok()) {
          b.appends[i]->complete(std::move(b.positions[i]));
        } else {
          b.appends[i]->complete(synced);
        }
      }
    }
  }
}

void LogCore::fail_log(const Status& cause) {
  if (!failed_.ok()) return;
  failed_ = unavailable("the event log failed and must be reopened: " + cause.message());
}

Result<std::vector<events::LogPosition>> LogCore::stage(PendingAppend& p,
                                                        ::rocksdb::WriteBatch& wb,
                                                        WrittenBatch& written, std::int64_t ts) {
  if (auto it = epochs_.find(p.txid); it == epochs_.end() || it->second != p.epoch) {
    return failed_precondition("producer '" + p.txid +
                               "' was fenced by a newer instance with the same transactional id");
  }
  if (p.offsets && p.member) {
    auto g = groups_.find(p.offsets->group);
    if (g == groups_.end() || g->second.generation != p.member->generation ||
        !g->second.members.contains(p.member->member_id)) {
      return aborted("consumer group '" + p.offsets->group +
                     "' rebalanced since these records were polled; nothing was appended: poll "
                     "again and retry");
    }
  }
  std::vector<events::LogPosition> positions;
  positions.reserve(p.records.size());
  AXION_RETURN_IF_ERROR(place(p.records, wb, written, ts, positions));
  if (p.trailer) {
    // Offsets come from the staged ends, so the records' positions are final here; a refusal
    // later in this function rolls the trailer back together with the records.
    auto trailer = events::build_trailer(*p.trailer, positions, limits_);
    if (!trailer.ok()) return trailer.status();
    AXION_RETURN_IF_ERROR(place(*trailer, wb, written, ts, positions));
  }
  if (p.offsets) {
    for (const auto& po : p.offsets->offsets) {
      if (!topics_.contains(po.tp.topic)) {
        return not_found("cannot commit an offset for unknown topic '" + po.tp.topic + "'");
      }
      wb.Put(keys::group_offset_key(p.offsets->group, po.tp),
             keys::encode_u64(static_cast<std::uint64_t>(po.next_offset)));
      written.new_committed[{p.offsets->group, po.tp}] = po.next_offset;
    }
  }
  return positions;
}

Status LogCore::place(const std::vector<events::Record>& records, ::rocksdb::WriteBatch& wb,
                      WrittenBatch& written, std::int64_t ts,
                      std::vector<events::LogPosition>& positions) {
  auto& ends = written.new_ends;
  axion::v1::StoredLogRecord stored;
  std::string value;
  for (const events::Record& r : records) {
    auto t = topics_.find(r.topic);
    if (t == topics_.end()) return not_found("topic '" + r.topic + "' does not exist");
    const std::int32_t partition =
        r.partition ? *r.partition : events::partition_for_key(r.key, t->second);
    if (partition >= t->second) {
      return invalid_argument("partition " + std::to_string(partition) + " is out of range: topic '" +
                              r.topic + "' has " + std::to_string(t->second) + " partitions");
    }
    events::TopicPartition tp{r.topic, partition};
    auto [end_it, inserted] = ends.try_emplace(tp, 0);
    if (inserted) end_it->second = staged_ends_[tp];
    const std::int64_t offset = end_it->second++;
    stored.Clear();
    stored.set_key(r.key);
    stored.set_value(r.value);
    stored.set_timestamp_ms(ts);
    for (const auto& h : r.headers) {
      auto* lh = stored.add_headers();
      lh->set_key(h.key);
      lh->set_value(h.value);
    }
    stored.SerializeToString(&value);
    wb.Put(keys::record_key(tp, offset), value);
    positions.push_back({tp, offset});
  }
  return ok_status();
}

}  // namespace axion::infra::rocksdb
