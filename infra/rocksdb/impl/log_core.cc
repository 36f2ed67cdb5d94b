// LogCore: opening and recovery, the group-commit committer, and reads. Consumer-group
// coordination is in group_coordinator.cc.
#include "infra/rocksdb/impl/log_core.h"

#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <cstring>

#include "axion/v1/log.pb.h"
#include "events/partitioner.h"
#include "infra/rocksdb/impl/keys.h"

namespace axion::infra::rocksdb {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool has_prefix(const ::rocksdb::Slice& key, const std::string& prefix) {
  return key.size() >= prefix.size() && std::memcmp(key.data(), prefix.data(), prefix.size()) == 0;
}

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
  ::rocksdb::DB* raw = nullptr;
  ::rocksdb::Status s = ::rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) return from_rocks(s, "cannot open the event log at '" + path + "'");
  std::shared_ptr<LogCore> core(
      new LogCore(std::unique_ptr<::rocksdb::DB>(raw), limits, max_batch_appends));
  AXION_RETURN_IF_ERROR(core->load());
  core->committer_ = std::thread([c = core.get()] { c->committer_loop(); });
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
  if (committer_.joinable()) committer_.join();
  for (auto& p : queue_) p->done.set_value(unavailable("the event log is closing"));
}

// Recovers topics, partition ends and producer epochs from the database.
Status LogCore::load() {
  std::unique_ptr<::rocksdb::Iterator> it(db_->NewIterator(::rocksdb::ReadOptions()));
  for (it->Seek("T"); it->Valid() && has_prefix(it->key(), "T"); it->Next()) {
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
      ends_[tp] = (last->Valid() && has_prefix(last->key(), prefix))
                      ? keys::offset_of_record_key(last->key().ToStringView()) + 1
                      : 0;
      AXION_RETURN_IF_ERROR(from_rocks(last->status(), "recovering " + tp.to_string()));
    }
  }
  for (it->Seek("P"); it->Valid() && has_prefix(it->key(), "P"); it->Next()) {
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
  for (std::int32_t p = 0; p < spec.partitions; ++p) ends_[{spec.name, p}] = 0;
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
                                                         std::optional<MemberRef> member) {
  AXION_RETURN_IF_ERROR(events::validate_append(records, limits_));
  if (offsets) AXION_RETURN_IF_ERROR(events::validate_identifier("consumer group", offsets->group));
  auto pending = std::make_unique<PendingAppend>();
  pending->txid = txid;
  pending->epoch = epoch;
  pending->records = std::move(records);
  if (offsets) pending->offsets = *offsets;
  pending->member = member;
  auto future = pending->done.get_future();
  {
    std::lock_guard lock(queue_mu_);
    if (stopping_) return unavailable("the event log is closing");
    queue_.push_back(std::move(pending));
  }
  queue_cv_.notify_one();
  return future.get();
}

void LogCore::committer_loop() {
  for (;;) {
    std::vector<std::unique_ptr<PendingAppend>> batch;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      while (!queue_.empty() && batch.size() < max_batch_) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    commit_batch(batch);
  }
}

// Stages every append of the batch into one WriteBatch, syncs it once, then publishes the new
// ends. An append refused at staging fails alone; a failed write fails the whole batch.
void LogCore::commit_batch(std::vector<std::unique_ptr<PendingAppend>>& batch) {
  ::rocksdb::WriteBatch wb;
  std::vector<std::optional<Result<std::vector<events::LogPosition>>>> outcomes(batch.size());
  std::map<events::TopicPartition, std::int64_t> new_ends;
  const std::int64_t ts = now_ms();
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < batch.size(); ++i) {
      wb.SetSavePoint();
      auto staged = stage(*batch[i], wb, new_ends, ts);
      if (!staged.ok()) {
        (void)wb.RollbackToSavePoint();
        batch[i]->done.set_value(staged.status());
        batch[i].reset();
      } else {
        outcomes[i] = std::move(staged);
      }
    }
  }
  bool any_left = false;
  for (const auto& p : batch) any_left = any_left || p != nullptr;
  if (!any_left) return;
  ::rocksdb::WriteOptions wo;
  wo.sync = true;
  const Status written = from_rocks(db_->Write(wo, &wb), "appending to the event log");
  if (written.ok()) {
    std::lock_guard lock(mu_);
    for (auto& [tp, end] : new_ends) ends_[tp] = end;
  }
  data_cv_.notify_all();
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i]) continue;
    if (written.ok()) {
      batch[i]->done.set_value(std::move(*outcomes[i]));
    } else {
      batch[i]->done.set_value(written);
    }
  }
}

Result<std::vector<events::LogPosition>> LogCore::stage(
    PendingAppend& p, ::rocksdb::WriteBatch& wb,
    std::map<events::TopicPartition, std::int64_t>& ends, std::int64_t ts) {
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
  axion::v1::StoredLogRecord stored;
  std::string value;
  for (const events::Record& r : p.records) {
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
    if (inserted) end_it->second = ends_[tp];
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
  if (p.offsets) {
    for (const auto& po : p.offsets->offsets) {
      if (!topics_.contains(po.tp.topic)) {
        return not_found("cannot commit an offset for unknown topic '" + po.tp.topic + "'");
      }
      wb.Put(keys::group_offset_key(p.offsets->group, po.tp),
             keys::encode_u64(static_cast<std::uint64_t>(po.next_offset)));
    }
  }
  return positions;
}

Result<std::vector<events::StoredRecord>> LogCore::read(const events::TopicPartition& tp,
                                                        std::int64_t from, std::size_t max,
                                                        std::chrono::milliseconds wait) {
  if (from < 0) return invalid_argument("offset " + std::to_string(from) + " is negative");
  std::int64_t end = 0;
  {
    std::unique_lock lock(mu_);
    auto it = ends_.find(tp);
    if (it == ends_.end()) return not_found("partition " + tp.to_string() + " does not exist");
    data_cv_.wait_for(lock, wait, [&] { return ends_[tp] > from; });
    end = ends_[tp];
  }
  Status error;
  auto records = read_locked_range(tp, from, end, max, &error);
  if (!error.ok()) return error;
  return records;
}

// Reads [from, end) of one partition, at most `max` records. `end` must be a committed end.
std::vector<events::StoredRecord> LogCore::read_locked_range(const events::TopicPartition& tp,
                                                             std::int64_t from, std::int64_t end,
                                                             std::size_t max, Status* error) {
  std::vector<events::StoredRecord> out;
  if (from >= end || max == 0) return out;
  const std::string prefix = keys::partition_prefix(tp);
  std::unique_ptr<::rocksdb::Iterator> it(db_->NewIterator(::rocksdb::ReadOptions()));
  axion::v1::StoredLogRecord stored;
  for (it->Seek(keys::record_key(tp, from)); it->Valid() && has_prefix(it->key(), prefix);
       it->Next()) {
    const std::int64_t offset = keys::offset_of_record_key(it->key().ToStringView());
    if (offset >= end || out.size() >= max) break;
    if (!stored.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      *error = data_loss("record " + tp.to_string() + "@" + std::to_string(offset) + " is corrupt");
      return {};
    }
    events::StoredRecord r;
    r.tp = tp;
    r.offset = offset;
    r.timestamp_ms = stored.timestamp_ms();
    r.key = stored.key();
    r.value = stored.value();
    for (const auto& h : stored.headers()) r.headers.push_back({h.key(), h.value()});
    out.push_back(std::move(r));
  }
  if (!it->status().ok()) *error = from_rocks(it->status(), "reading " + tp.to_string());
  return out;
}

Result<std::int64_t> LogCore::end_offset(const events::TopicPartition& tp) {
  std::lock_guard lock(mu_);
  auto it = ends_.find(tp);
  if (it == ends_.end()) return not_found("partition " + tp.to_string() + " does not exist");
  return it->second;
}

Result<std::optional<std::int64_t>> LogCore::committed_offset(const std::string& group,
                                                              const events::TopicPartition& tp) {
  std::string value;
  ::rocksdb::Status s = db_->Get(::rocksdb::ReadOptions(), keys::group_offset_key(group, tp), &value);
  if (s.IsNotFound()) return std::optional<std::int64_t>();
  AXION_RETURN_IF_ERROR(from_rocks(s, "reading committed offset"));
  return std::optional<std::int64_t>(static_cast<std::int64_t>(keys::get_be(value, 0, 8)));
}

}  // namespace axion::infra::rocksdb
