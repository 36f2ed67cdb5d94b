// RocksEventLog and its Producer and Consumer: thin handles over LogCore (impl/log_core.h).
#include "infra/rocksdb/rocks_event_log.h"

#include <filesystem>

#include "infra/rocksdb/impl/log_core.h"

namespace axion::infra::rocksdb {

namespace {

class RocksConsumer final : public events::Consumer {
 public:
  RocksConsumer(std::shared_ptr<LogCore> core, std::string group, std::uint64_t member_id,
                events::RebalanceCallbacks callbacks)
      : core_(std::move(core)),
        group_(std::move(group)),
        member_id_(member_id),
        callbacks_(std::move(callbacks)) {}
  ~RocksConsumer() override { close(); }

  Result<std::vector<events::StoredRecord>> poll(std::chrono::milliseconds timeout) override {
    if (closed_) return failed_precondition("consumer of group '" + group_ + "' is closed");
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      AXION_RETURN_IF_ERROR(sync_assignment());
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      Status error;
      auto records = core_->poll_partitions(group_, generation_, positions_, kMaxPollRecords,
                                            std::max(left, std::chrono::milliseconds(0)), &error);
      if (!error.ok()) return error;
      if (core_->generation(group_) != generation_) continue;  // rebalance first, then read
      for (const auto& r : records) positions_[r.tp] = r.offset + 1;
      if (!records.empty() || std::chrono::steady_clock::now() >= deadline) return records;
    }
  }

  std::vector<events::TopicPartition> assignment() const override {
    std::vector<events::TopicPartition> out;
    for (const auto& [tp, pos] : positions_) out.push_back(tp);
    return out;
  }

  Status seek(const events::TopicPartition& tp, std::int64_t offset) override {
    auto it = positions_.find(tp);
    if (it == positions_.end()) {
      return invalid_argument("partition " + tp.to_string() + " is not assigned to this consumer");
    }
    if (offset < 0) return invalid_argument("offset " + std::to_string(offset) + " is negative");
    it->second = offset;
    return ok_status();
  }

  const std::string& group() const override { return group_; }

  void close() override {
    if (closed_) return;
    closed_ = true;
    core_->leave_group(group_, member_id_);
  }

  MemberRef member_ref() const { return {member_id_, generation_}; }

 private:
  static constexpr std::size_t kMaxPollRecords = 1000;

  // Applies a pending rebalance: revoke the old partitions, assign the new ones at the group's
  // committed offsets (or the beginning).
  Status sync_assignment() {
    if (core_->generation(group_) == generation_) return ok_status();
    auto [generation, partitions] = core_->assignment(group_, member_id_);
    std::vector<events::TopicPartition> old = assignment();
    if (!old.empty() && callbacks_.on_revoked) callbacks_.on_revoked(old);
    positions_.clear();
    for (const auto& tp : partitions) {
      auto committed = core_->committed_offset(group_, tp);
      if (!committed.ok()) return committed.status();
      positions_[tp] = committed->value_or(0);
    }
    generation_ = generation;
    if (callbacks_.on_assigned) callbacks_.on_assigned(partitions);
    return ok_status();
  }

  std::shared_ptr<LogCore> core_;
  std::string group_;
  std::uint64_t member_id_;
  events::RebalanceCallbacks callbacks_;
  std::uint64_t generation_ = 0;
  std::map<events::TopicPartition, std::int64_t> positions_;
  bool closed_ = false;
};

class RocksProducer final : public events::Producer {
 public:
  RocksProducer(std::shared_ptr<LogCore> core, std::string txid, std::uint64_t epoch)
      : core_(std::move(core)), txid_(std::move(txid)), epoch_(epoch) {}

  using events::Producer::append;  // the overload without a trailer
  Result<std::vector<events::LogPosition>> append(std::vector<events::Record> records,
                                                  const events::OffsetCommit* offsets,
                                                  const Trailer& trailer) override {
    std::optional<MemberRef> member;
    if (offsets && offsets->consumer) {
      const auto* consumer = dynamic_cast<const RocksConsumer*>(offsets->consumer);
      if (!consumer) {
        return invalid_argument("the offsets' consumer belongs to another event log");
      }
      if (consumer->group() != offsets->group) {
        return invalid_argument("offsets are for group '" + offsets->group +
                                "' but come from a consumer of group '" + consumer->group() + "'");
      }
      member = consumer->member_ref();
    }
    return core_->append(txid_, epoch_, std::move(records), offsets, member, trailer);
  }

  const std::string& transactional_id() const override { return txid_; }

 private:
  std::shared_ptr<LogCore> core_;
  std::string txid_;
  std::uint64_t epoch_;
};

class RocksEventLog final : public events::EventLog {
 public:
  explicit RocksEventLog(std::shared_ptr<LogCore> core) : core_(std::move(core)) {}

  Status ensure_topic(const events::TopicSpec& spec) override { return core_->ensure_topic(spec); }
  Result<std::int32_t> partition_count(const std::string& topic) override {
    return core_->partition_count(topic);
  }
  Result<std::unique_ptr<events::Producer>> open_producer(const std::string& txid) override {
    auto epoch = core_->register_producer(txid);
    if (!epoch.ok()) return epoch.status();
    return std::unique_ptr<events::Producer>(new RocksProducer(core_, txid, *epoch));
  }
  Result<std::unique_ptr<events::Consumer>> subscribe(const std::string& group,
                                                      const std::vector<std::string>& topics,
                                                      events::RebalanceCallbacks callbacks) override {
    auto member = core_->join_group(group, topics);
    if (!member.ok()) return member.status();
    return std::unique_ptr<events::Consumer>(
        new RocksConsumer(core_, group, *member, std::move(callbacks)));
  }
  Result<std::vector<events::StoredRecord>> read(const events::TopicPartition& tp,
                                                 std::int64_t from, std::size_t max,
                                                 std::chrono::milliseconds wait) override {
    return core_->read(tp, from, max, wait);
  }
  Result<std::int64_t> end_offset(const events::TopicPartition& tp) override {
    return core_->end_offset(tp);
  }
  Result<std::optional<std::int64_t>> committed_offset(const std::string& group,
                                                       const events::TopicPartition& tp) override {
    return core_->committed_offset(group, tp);
  }

 private:
  std::shared_ptr<LogCore> core_;
};

}  // namespace

Result<std::unique_ptr<events::EventLog>> open_rocks_event_log(const RocksLogConfig& config) {
  if (config.path.empty()) return invalid_argument("the event log needs a data directory path");
  std::error_code ec;
  std::filesystem::create_directories(config.path, ec);
  if (ec) {
    return failed_precondition("cannot create data directory '" + config.path +
                               "': " + ec.message());
  }
  auto core = LogCore::open(config.path, config.limits, config.max_batch_appends);
  if (!core.ok()) return core.status();
  return std::unique_ptr<events::EventLog>(new RocksEventLog(std::move(core).value()));
}

}  // namespace axion::infra::rocksdb
