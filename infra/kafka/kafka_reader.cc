// KafkaReader (impl/kafka_reader.h): reads committed records of one partition and its last
// stable offset through pooled, group-less read_committed consumers.
#include "infra/kafka/impl/kafka_reader.h"

#include <algorithm>
#include <thread>

#include "infra/kafka/impl/kafka_consumer.h"
#include "infra/kafka/impl/kafka_errors.h"

namespace axion::infra::kafka::impl {
namespace {

constexpr std::size_t kMaxIdleReaders = 4;
constexpr auto kStableOffsetPause = std::chrono::milliseconds(10);
constexpr std::int64_t kTailWindow = 16;  // offsets read back first when looking for the end
constexpr int kQueuedMinMessages = 100000;  // librdkafka's default

rd_kafka_resp_err_t c_err(RdKafka::ErrorCode err) { return static_cast<rd_kafka_resp_err_t>(err); }

Status assign_at(RdKafka::KafkaConsumer& consumer, const events::TopicPartition& tp,
                 std::int64_t offset) {
  std::unique_ptr<RdKafka::TopicPartition> part(
      RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
  const std::vector<RdKafka::TopicPartition*> list{part.get()};
  return status_from_kafka(c_err(consumer.assign(list)), "assigning " + tp.to_string());
}

}  // namespace

KafkaReader::~KafkaReader() {
  for (Handle& handle : idle_) dispose(std::move(handle));
}

void KafkaReader::dispose(Handle handle) {
  // A group-less consumer has no group to leave; close() just stops its fetchers.
  if (handle) handle->close();
}

Result<KafkaReader::Handle> KafkaReader::acquire() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      Handle handle = std::move(idle_.back());
      idle_.pop_back();
      return handle;
    }
  }
  // group.id is required by KafkaConsumer; the reader never joins it nor commits to it.
  // queued.min.messages stays far above what one read takes (kQueuedMinMessages): librdkafka 2.0
  // stops fetching a partition once that many messages are queued and does not wake its fetcher
  // when the queue is drained, so each further batch waited up to a second for the broker
  // thread's idle wake-up — with 1000, every read of a few thousand records (a partition load
  // of the command processor) stalled for seconds. Only one fetch is in flight per partition,
  // so a short read does not pull much more than it asked for.
  auto conf = ctx_->make_conf({{"group.id", "axion-reader." + ctx_->config().client_id},
                               {"isolation.level", "read_committed"},
                               {"enable.auto.commit", "false"},
                               {"enable.auto.offset.store", "false"},
                               {"enable.partition.eof", "true"},
                               {"auto.offset.reset", "error"},
                               {"queued.min.messages", std::to_string(kQueuedMinMessages)},
                               {"fetch.wait.max.ms", "10"}});
  if (!conf.ok()) return conf.status();
  std::string errstr;
  Handle handle(RdKafka::KafkaConsumer::create(conf->get(), errstr));
  if (!handle) return invalid_argument("cannot create a Kafka reader: " + errstr);
  return handle;
}

void KafkaReader::release(Handle handle) {
  {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdleReaders) {
      idle_.push_back(std::move(handle));
      return;
    }
  }
  dispose(std::move(handle));
}

Result<std::vector<events::StoredRecord>> KafkaReader::read(const events::TopicPartition& tp,
                                                            std::int64_t from_offset,
                                                            std::size_t max_records,
                                                            std::chrono::milliseconds wait) {
  AXION_RETURN_IF_ERROR(ctx_->check_partition(tp));
  if (from_offset < 0) {
    return invalid_argument("offset " + std::to_string(from_offset) + " is negative");
  }
  if (max_records == 0) return std::vector<events::StoredRecord>{};
  auto lease = acquire();
  if (!lease.ok()) return lease.status();
  auto result = read_with(**lease, tp, from_offset, max_records, wait);
  const RdKafka::ErrorCode unassigned = (*lease)->unassign();
  if (result.ok() && unassigned == RdKafka::ERR_NO_ERROR) {
    release(std::move(*lease));
  } else {
    dispose(std::move(*lease));  // never reuse a reader in an unknown state
  }
  return result;
}

Result<std::vector<events::StoredRecord>> KafkaReader::read_with(
    RdKafka::KafkaConsumer& consumer, const events::TopicPartition& tp, std::int64_t from_offset,
    std::size_t max_records, std::chrono::milliseconds wait) {
  AXION_RETURN_IF_ERROR(assign_at(consumer, tp, from_offset));
  const auto start = std::chrono::steady_clock::now();
  // Records we acknowledged are committed: wait for them even if their commit markers (which
  // move the last stable offset) are still on their way.
  const bool known_committed = from_offset < ctx_->acknowledged_end(tp);
  const auto data_deadline = start + (known_committed ? std::max(wait, ctx_->config().timeout)
                                                      : wait);
  // However short `wait` is, "none yet" is the broker's answer (end of partition), not ours.
  const auto answer_deadline = start + ctx_->config().timeout;
  std::vector<events::StoredRecord> records;
  std::int64_t next = from_offset;
  bool at_end = false;
  while (records.size() < max_records) {
    if (!records.empty() && at_end) break;
    const auto until = !records.empty() ? answer_deadline
                       : at_end         ? data_deadline
                                        : std::max(data_deadline, answer_deadline);
    std::unique_ptr<RdKafka::Message> message(consumer.consume(remaining_ms(until)));
    if (!message) return internal_error("reading " + tp.to_string() + ": no message object");
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        if (message->topic_name() == tp.topic && message->partition() == tp.partition &&
            message->offset() >= next) {
          records.push_back(to_stored_record(*message));
          next = message->offset() + 1;
          at_end = false;
        }
        break;
      case RdKafka::ERR__PARTITION_EOF:
        at_end = true;
        break;
      case RdKafka::ERR__TIMED_OUT:
        if (remaining_ms(until) == 0) return records;
        break;
      case RdKafka::ERR__AUTO_OFFSET_RESET:
      case RdKafka::ERR_OFFSET_OUT_OF_RANGE: {
        std::int64_t low = -1;
        std::int64_t high = -1;
        const RdKafka::ErrorCode err = consumer.query_watermark_offsets(
            tp.topic, tp.partition, &low, &high, ctx_->timeout_ms());
        if (err != RdKafka::ERR_NO_ERROR) {
          return status_from_kafka(c_err(err), "watermarks of " + tp.to_string());
        }
        if (records.empty() && next < low) {  // deleted by retention: start at the oldest
          AXION_RETURN_IF_ERROR(assign_at(consumer, tp, low));
          next = low;
          break;
        }
        return Status(StatusCode::kOutOfRange,
                      "offset " + std::to_string(next) + " is out of range for " +
                          tp.to_string() + ", which holds offsets " + std::to_string(low) +
                          ".." + std::to_string(high));
      }
      default:
        return status_from_kafka(c_err(message->err()), "reading " + tp.to_string(),
                                 message->errstr());
    }
  }
  return records;
}

Result<std::int64_t> KafkaReader::committed_end(RdKafka::KafkaConsumer& consumer,
                                                const events::TopicPartition& tp) {
  std::int64_t low = -1;
  std::int64_t stable = -1;
  // A read_committed consumer's ListOffsets(latest) answers the last stable offset.
  // A partition of a topic created moments ago may not have its leader yet: retry transient
  // leadership errors within the configured timeout rather than failing the caller.
  const auto deadline = std::chrono::steady_clock::now() + ctx_->config().timeout;
  for (;;) {
    const RdKafka::ErrorCode err = consumer.query_watermark_offsets(
        tp.topic, tp.partition, &low, &stable, ctx_->timeout_ms());
    if (err == RdKafka::ERR_NO_ERROR) break;
    const bool leadership = err == RdKafka::ERR_NOT_LEADER_FOR_PARTITION ||
                            err == RdKafka::ERR_LEADER_NOT_AVAILABLE ||
                            err == RdKafka::ERR_UNKNOWN_TOPIC_OR_PART;
    if (!leadership || remaining_ms(deadline) == 0) {
      return status_from_kafka(c_err(err), "end offset of " + tp.to_string());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  // Below the last stable offset sit commit/abort markers and aborted records, which no reader
  // ever sees: look back, in growing windows, for the last record a reader does see.
  for (std::int64_t window = kTailWindow; stable > low; window *= 8) {
    const std::int64_t start = std::max(low, stable - window);
    auto tail = read_with(consumer, tp, start, static_cast<std::size_t>(stable - start),
                          std::chrono::milliseconds(0));
    if (!tail.ok()) return tail.status();
    std::int64_t last = -1;
    for (const events::StoredRecord& r : *tail) {
      if (r.offset < stable) last = std::max(last, r.offset);
    }
    if (last >= 0) return last + 1;
    if (start == low) break;
  }
  return low;  // no visible record at all
}

Result<std::int64_t> KafkaReader::end_offset(const events::TopicPartition& tp) {
  AXION_RETURN_IF_ERROR(ctx_->check_partition(tp));
  auto lease = acquire();
  if (!lease.ok()) return lease.status();
  const std::int64_t acknowledged = ctx_->acknowledged_end(tp);
  const auto deadline = std::chrono::steady_clock::now() + ctx_->config().timeout;
  for (;;) {
    auto end = committed_end(**lease, tp);
    if (!end.ok()) {
      dispose(std::move(*lease));
      return end.status();
    }
    // Read-your-writes: wait (bounded) for the commit markers of appends we acknowledged.
    if (*end >= acknowledged || remaining_ms(deadline) == 0) {
      if ((*lease)->unassign() == RdKafka::ERR_NO_ERROR) {
        release(std::move(*lease));
      } else {
        dispose(std::move(*lease));
      }
      return *end;
    }
    std::this_thread::sleep_for(kStableOffsetPause);
  }
}

}  // namespace axion::infra::kafka::impl
