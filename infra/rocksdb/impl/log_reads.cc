// LogCore reads: committed records of one partition, ends and committed offsets. Everything
// here answers from the published (synced) state only — the read_committed view.
#include <rocksdb/iterator.h>

#include <cstring>

#include "axion/v1/log.pb.h"
#include "infra/rocksdb/impl/keys.h"
#include "infra/rocksdb/impl/log_core.h"

namespace axion::infra::rocksdb {

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
  for (it->Seek(keys::record_key(tp, from)); it->Valid() && keys::has_prefix(it->key(), prefix);
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
  std::lock_guard lock(mu_);
  auto it = committed_.find({group, tp});
  if (it == committed_.end()) return std::optional<std::int64_t>();
  return std::optional<std::int64_t>(it->second);
}

}  // namespace axion::infra::rocksdb
