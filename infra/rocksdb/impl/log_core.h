// LogCore: the state and machinery behind RocksEventLog, shared by its producers and consumers
// (they hold a shared_ptr, so a handle that outlives the EventLog object stays safe).
// Group commit is a two-stage pipeline:
// - the committer thread stages every queued append into one WriteBatch (offsets assigned from
//   `staged_ends_`) and writes it without sync;
// - the syncer thread makes everything written so far durable with one SyncWAL, then publishes
//   the new partition ends and committed offsets and wakes the writers.
// While one batch is being synced the next is being staged and written, so an fsync serves
// every append that arrived meanwhile. `ends_` and `committed_` are the read_committed view:
// only synced data is ever visible. A failed write or sync puts the log in a failed state
// (every later append fails) because later batches were staged on top of it.
// Consumer groups are coordinated here, in-process: members, generations, range assignment.
#pragma once

#include <rocksdb/db.h>

#include <condition_variable>
#include <deque>
#include <semaphore>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"
#include "events/event_log.h"
#include "events/log_limits.h"

namespace axion::infra::rocksdb {

// Identifies the consumer-group member whose polled offsets an append commits.
struct MemberRef {
  std::uint64_t member_id = 0;
  std::uint64_t generation = 0;
};

struct GroupMember {
  std::uint64_t member_id = 0;
  std::vector<std::string> topics;
};

class LogCore {
 public:
  static Result<std::shared_ptr<LogCore>> open(const std::string& path, events::LogLimits limits,
                                               std::size_t max_batch_appends);
  ~LogCore();

  Status ensure_topic(const events::TopicSpec& spec);
  Result<std::int32_t> partition_count(const std::string& topic);

  // Bumps the producer epoch of `txid` (durably) and returns it: older epochs are fenced.
  Result<std::uint64_t> register_producer(const std::string& txid);
  // Enqueues an append for the committer and waits for its outcome. `trailer` (may be empty)
  // runs on the committer thread, with mu_ held, once the records are placed.
  Result<std::vector<events::LogPosition>> append(const std::string& txid, std::uint64_t epoch,
                                                  std::vector<events::Record> records,
                                                  const events::OffsetCommit* offsets,
                                                  std::optional<MemberRef> member,
                                                  const events::Producer::Trailer& trailer);

  Result<std::vector<events::StoredRecord>> read(const events::TopicPartition& tp,
                                                 std::int64_t from, std::size_t max,
                                                 std::chrono::milliseconds wait);
  Result<std::int64_t> end_offset(const events::TopicPartition& tp);
  Result<std::optional<std::int64_t>> committed_offset(const std::string& group,
                                                       const events::TopicPartition& tp);

  // Group membership. join() bumps the group's generation; so does leave().
  Result<std::uint64_t> join_group(const std::string& group, std::vector<std::string> topics);
  void leave_group(const std::string& group, std::uint64_t member_id);
  // The member's generation and assignment (range assignment over the members sorted by id).
  std::pair<std::uint64_t, std::vector<events::TopicPartition>> assignment(
      const std::string& group, std::uint64_t member_id);
  std::uint64_t generation(const std::string& group);
  // Reads the next records of several partitions (positions advanced by the caller); waits up
  // to `timeout` for data or a generation change of `group`.
  std::vector<events::StoredRecord> poll_partitions(
      const std::string& group, std::uint64_t seen_generation,
      const std::map<events::TopicPartition, std::int64_t>& positions, std::size_t max,
      std::chrono::milliseconds timeout, Status* error);

 private:
  // Lives on the appending thread's stack; the committer and syncer only point to it. The
  // thread waits on its own semaphore, released after `outcome` is set and never touched again.
  struct PendingAppend {
    std::string txid;
    std::uint64_t epoch = 0;
    std::vector<events::Record> records;
    const events::OffsetCommit* offsets = nullptr;
    std::optional<MemberRef> member;  // the consumer the offsets come from
    const events::Producer::Trailer* trailer = nullptr;  // the caller's, which outlives us
    std::optional<Result<std::vector<events::LogPosition>>> outcome;
    std::binary_semaphore* done = nullptr;
    void complete(Result<std::vector<events::LogPosition>> result) {
      std::binary_semaphore* signal = done;
      outcome.emplace(std::move(result));
      signal->release();  // `this` may be gone after this line
    }
  };
  // A batch written to RocksDB, waiting for the WAL sync that makes it durable.
  struct WrittenBatch {
    std::vector<PendingAppend*> appends;  // null where staging refused the append
    std::vector<std::vector<events::LogPosition>> positions;
    std::map<events::TopicPartition, std::int64_t> new_ends;
    std::map<std::pair<std::string, events::TopicPartition>, std::int64_t> new_committed;
  };
  struct Group {
    std::uint64_t generation = 0;
    std::map<std::uint64_t, GroupMember> members;
  };

  LogCore(std::unique_ptr<::rocksdb::DB> db, events::LogLimits limits, std::size_t max_batch);
  Status load();
  void committer_loop();
  void syncer_loop();
  // Stages and writes (unsynced) one batch, then hands it to the syncer.
  void write_batch(std::vector<PendingAppend*> batch);
  // Checks one append against current state and adds it to the batch; REQUIRES mu_ held.
  Result<std::vector<events::LogPosition>> stage(PendingAppend& p, ::rocksdb::WriteBatch& wb,
                                                 WrittenBatch& written, std::int64_t now_ms);
  // Puts `records` at the staged ends into `wb`, adding their positions; REQUIRES mu_ held.
  Status place(const std::vector<events::Record>& records, ::rocksdb::WriteBatch& wb,
               WrittenBatch& written, std::int64_t now_ms,
               std::vector<events::LogPosition>& positions);
  void fail_log(const Status& cause);  // REQUIRES mu_ held
  std::vector<events::StoredRecord> read_locked_range(const events::TopicPartition& tp,
                                                      std::int64_t from, std::int64_t end,
                                                      std::size_t max, Status* error);

  std::unique_ptr<::rocksdb::DB> db_;
  const events::LogLimits limits_;
  const std::size_t max_batch_;

  std::mutex mu_;
  std::condition_variable data_cv_;  // new committed records or a group change
  std::map<std::string, std::int32_t> topics_;
  std::map<events::TopicPartition, std::int64_t> ends_;         // synced end offset
  std::map<events::TopicPartition, std::int64_t> staged_ends_;  // written end offset
  std::map<std::pair<std::string, events::TopicPartition>, std::int64_t> committed_;  // synced
  std::map<std::string, std::uint64_t> epochs_;
  std::map<std::string, Group> groups_;
  std::uint64_t next_member_id_ = 1;
  Status failed_;  // set once a write or sync failed: the log must be reopened

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<PendingAppend*> queue_;
  bool stopping_ = false;
  std::thread committer_;

  std::mutex sync_mu_;
  std::condition_variable sync_cv_;
  std::deque<WrittenBatch> written_;
  bool committer_done_ = false;
  std::thread syncer_;
};

// Maps a RocksDB status to ours, once, with a retryable flag.
Status from_rocks(const ::rocksdb::Status& s, const std::string& what);

}  // namespace axion::infra::rocksdb
