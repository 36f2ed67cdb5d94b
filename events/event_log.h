// The EventLog port: the one contract everything in Axion stands on. A log is a set of topics,
// each with N partitions; a record is key + headers + value at an offset of its partition.
// Producers append atomically together with a consumer group's offsets (exactly-once
// processing); consumers read committed records only. Adapters: infra/rocksdb (embedded, the
// default) and infra/kafka (Apache Kafka). One contract suite, tests/integration/
// event_log_contract_test.cc, runs against both.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace axion::events {

struct TopicPartition {
  std::string topic;
  std::int32_t partition = 0;
  auto operator<=>(const TopicPartition&) const = default;
  std::string to_string() const { return topic + "/" + std::to_string(partition); }
};

struct Header {
  std::string key;
  std::string value;
  bool operator==(const Header&) const = default;
};

// A record to append. Without an explicit partition it goes to murmur2(key) % partitions,
// exactly where a Java or librdkafka (murmur2_random) producer would put it.
struct Record {
  std::string topic;
  std::string key;
  std::string value;
  std::vector<Header> headers;
  std::optional<std::int32_t> partition;
};

// Where an appended record landed.
struct LogPosition {
  TopicPartition tp;
  std::int64_t offset = -1;
  auto operator<=>(const LogPosition&) const = default;
};

// A record as read back from the log.
struct StoredRecord {
  TopicPartition tp;
  std::int64_t offset = -1;
  std::int64_t timestamp_ms = 0;
  std::string key;
  std::string value;
  std::vector<Header> headers;
};

struct PartitionOffset {
  TopicPartition tp;
  std::int64_t next_offset = 0;  // the offset of the next record to consume
};

class Consumer;

// Consumer-group offsets committed atomically with an append. `consumer`, when given, is the
// consumer the offsets come from: if its group generation is stale (a rebalance happened) the
// append is refused with ABORTED and nothing lands.
struct OffsetCommit {
  std::string group;
  std::vector<PartitionOffset> offsets;
  const Consumer* consumer = nullptr;
};

struct TopicSpec {
  std::string name;
  std::int32_t partitions = 1;
  // The topic is a system of record: on Kafka it keeps every record (retention.ms =
  // retention.bytes = -1) whatever the broker's default retention — set when the topic is
  // created, and set on an existing topic that lacks it (keeping its other topic configs).
  bool keep_forever = false;
};

struct RebalanceCallbacks {
  // Called on the polling thread, inside Consumer::poll, before records of the new assignment.
  std::function<void(const std::vector<TopicPartition>&)> on_assigned;
  std::function<void(const std::vector<TopicPartition>&)> on_revoked;
};

// A consumer-group member. Not thread-safe: one thread polls it.
class Consumer {
 public:
  virtual ~Consumer() = default;
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Committed (read_committed) records of the assigned partitions, in offset order within a
  // partition, starting at the group's committed offset (or the beginning). Waits up to
  // `timeout` for at least one; an empty vector on timeout. Errors: UNAVAILABLE (retryable).
  virtual Result<std::vector<StoredRecord>> poll(std::chrono::milliseconds timeout) = 0;
  // Partitions currently assigned to this member.
  virtual std::vector<TopicPartition> assignment() const = 0;
  // Moves the read position of an assigned partition (e.g. back to the committed offset after
  // an append failed). INVALID_ARGUMENT if the partition is not assigned.
  virtual Status seek(const TopicPartition& tp, std::int64_t offset) = 0;
  virtual const std::string& group() const = 0;
  // Leaves the group (its partitions are reassigned); idempotent; also done by the destructor.
  virtual void close() = 0;

 protected:
  Consumer() = default;
};

// A transactional appender bound to one transactional identity. Opening a second producer with
// the same identity fences this one: its appends then fail with FAILED_PRECONDITION (final).
// Thread-safe: concurrent appends are batched into one durable commit (group commit), each
// remaining atomic on its own.
class Producer {
 public:
  virtual ~Producer() = default;
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Appends `records` and commits `offsets` (if given) atomically: on OK every record is durable
  // and visible to read_committed readers and the group's committed offsets are updated; on an
  // error none of it is visible. Returns the position of each record, in input order.
  // Errors: INVALID_ARGUMENT (bad topic name, record over the size limit, partition out of
  // range), NOT_FOUND (unknown topic), ABORTED (stale consumer generation; retryable after a
  // re-poll), FAILED_PRECONDITION (fenced), UNAVAILABLE / DEADLINE_EXCEEDED (retryable).
  Result<std::vector<LogPosition>> append(std::vector<Record> records,
                                          const OffsetCommit* offsets = nullptr) {
    return append(std::move(records), offsets, Trailer());
  }

  // Builds records appended after `records`, in the same atomic append, from the positions the
  // records received (same order as `records`). Called exactly once per successful placement,
  // on the log's own thread: it must be quick, pure and must not call back into the log. A
  // placement may be undone and redone (Kafka re-runs a transaction aborted because of another
  // append in it), so the trailer may be called again with the new positions; only the last
  // call's records are ever visible. It is called even when `records` is empty.
  using Trailer = std::function<std::vector<Record>(const std::vector<LogPosition>&)>;
  // As above, plus the records `trailer` (if non-empty) builds: they are validated like
  // `records` (an invalid one fails the whole append with its error and nothing lands; the
  // record count limit applies to records and trailer together) and the result holds the
  // positions of `records` followed by those of the trailer's records. A trailer that throws
  // fails the append with INTERNAL.
  virtual Result<std::vector<LogPosition>> append(std::vector<Record> records,
                                                  const OffsetCommit* offsets,
                                                  const Trailer& trailer) = 0;
  virtual const std::string& transactional_id() const = 0;

 protected:
  Producer() = default;
};

class EventLog {
 public:
  virtual ~EventLog() = default;
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  // Creates the topic, or checks an existing one has the same partition count (else
  // FAILED_PRECONDITION) and, for keep_forever, makes it keep every record (FAILED_PRECONDITION
  // if the store refuses). INVALID_ARGUMENT for a bad name or partition count. Thread-safe.
  virtual Status ensure_topic(const TopicSpec& spec) = 0;
  // NOT_FOUND for an unknown topic. Thread-safe.
  virtual Result<std::int32_t> partition_count(const std::string& topic) = 0;
  // A producer for `transactional_id`; fences any earlier producer with the same id.
  virtual Result<std::unique_ptr<Producer>> open_producer(const std::string& transactional_id) = 0;
  // Joins consumer group `group`, subscribed to `topics`; partitions are shared among the
  // group's members and reassigned when members join or leave.
  virtual Result<std::unique_ptr<Consumer>> subscribe(const std::string& group,
                                                      const std::vector<std::string>& topics,
                                                      RebalanceCallbacks callbacks = {}) = 0;
  // Up to `max_records` committed records of one partition from `from_offset`, waiting up to
  // `wait` if there are none yet. Thread-safe.
  virtual Result<std::vector<StoredRecord>> read(const TopicPartition& tp, std::int64_t from_offset,
                                                 std::size_t max_records,
                                                 std::chrono::milliseconds wait) = 0;
  // The offset after the last committed record: what a consumer that has processed everything
  // commits. (On Kafka this is below the last stable offset when transaction markers follow the
  // last record; the adapter reads the tail to find it.) Thread-safe.
  virtual Result<std::int64_t> end_offset(const TopicPartition& tp) = 0;
  // The group's committed next offset for the partition, nullopt if none. Thread-safe.
  virtual Result<std::optional<std::int64_t>> committed_offset(const std::string& group,
                                                               const TopicPartition& tp) = 0;

 protected:
  EventLog() = default;
};

}  // namespace axion::events
