// KafkaConsumer: the events::Consumer port on an RdKafka::KafkaConsumer — a read_committed
// member of a consumer group with manual offsets (nothing is auto-committed; offsets are
// committed only through a transactional Producer::append). Eager "range" rebalancing: the
// rebalance callback assigns/unassigns and calls the application's RebalanceCallbacks on the
// polling thread. Also the helper that turns a librdkafka message into a StoredRecord.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <atomic>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "events/event_log.h"
#include "infra/kafka/impl/kafka_context.h"
#include "infra/kafka/impl/kafka_errors.h"

namespace axion::infra::kafka::impl {

// Topic, partition, offset, timestamp, key, value and headers, byte for byte.
events::StoredRecord to_stored_record(RdKafka::Message& message);

class KafkaConsumer final : public events::Consumer {
 public:
  static Result<std::unique_ptr<events::Consumer>> open(std::shared_ptr<KafkaContext> ctx,
                                                        const std::string& group,
                                                        const std::vector<std::string>& topics,
                                                        events::RebalanceCallbacks callbacks);
  ~KafkaConsumer() override;

  Result<std::vector<events::StoredRecord>> poll(std::chrono::milliseconds timeout) override;
  std::vector<events::TopicPartition> assignment() const override { return assignment_; }
  Status seek(const events::TopicPartition& tp, std::int64_t offset) override;
  const std::string& group() const override { return group_; }
  void close() override;

  // This member's group generation, for send_offsets_to_transaction: a rebalance since makes
  // the broker refuse the offsets. Null once closed. Thread-safe.
  GroupMetadataPtr group_metadata() const;

 private:
  class Rebalancer;
  KafkaConsumer(std::shared_ptr<KafkaContext> ctx, std::string group,
                events::RebalanceCallbacks callbacks);
  void on_rebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions);

  std::shared_ptr<KafkaContext> ctx_;
  std::string group_;
  events::RebalanceCallbacks callbacks_;
  std::unique_ptr<Rebalancer> rebalancer_;  // outlives consumer_
  std::vector<events::TopicPartition> assignment_;
  std::optional<Status> deferred_error_;    // an error met after records were collected
  std::exception_ptr callback_exception_;   // thrown by a RebalanceCallbacks function
  std::atomic<bool> closed_{false};
  bool closing_ = false;                    // no application callbacks from close()
  std::unique_ptr<RdKafka::KafkaConsumer> consumer_;
};

}  // namespace axion::infra::kafka::impl
