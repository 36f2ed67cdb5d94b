// KafkaReader: EventLog::read and end_offset without a consumer group. A small pool of
// read_committed KafkaConsumers that are only ever assign()ed (never subscribe, never commit);
// each call leases one, so concurrent reads do not share a position.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/status.h"
#include "events/event_log.h"
#include "infra/kafka/impl/kafka_context.h"

namespace axion::infra::kafka::impl {

class KafkaReader {
 public:
  explicit KafkaReader(std::shared_ptr<KafkaContext> ctx) : ctx_(std::move(ctx)) {}
  ~KafkaReader();
  KafkaReader(const KafkaReader&) = delete;
  KafkaReader& operator=(const KafkaReader&) = delete;

  Result<std::vector<events::StoredRecord>> read(const events::TopicPartition& tp,
                                                 std::int64_t from_offset,
                                                 std::size_t max_records,
                                                 std::chrono::milliseconds wait);
  // The offset after the last committed record: what a consumer that has read everything
  // commits. Kafka's last stable offset can be larger (commit and abort markers, aborted
  // records occupy offsets too), so the tail below it is read back to find that record.
  Result<std::int64_t> end_offset(const events::TopicPartition& tp);

 private:
  using Handle = std::unique_ptr<RdKafka::KafkaConsumer>;
  Result<Handle> acquire();
  void release(Handle handle);
  static void dispose(Handle handle);
  Result<std::int64_t> committed_end(RdKafka::KafkaConsumer& consumer,
                                     const events::TopicPartition& tp);
  Result<std::vector<events::StoredRecord>> read_with(RdKafka::KafkaConsumer& consumer,
                                                      const events::TopicPartition& tp,
                                                      std::int64_t from_offset,
                                                      std::size_t max_records,
                                                      std::chrono::milliseconds wait);

  std::shared_ptr<KafkaContext> ctx_;
  std::mutex mu_;
  std::vector<Handle> idle_;
};

}  // namespace axion::infra::kafka::impl
