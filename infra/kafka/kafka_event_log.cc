// KafkaEventLog: the EventLog port on Apache Kafka (see kafka_event_log.h). A thin façade: the
// shared KafkaContext answers topic questions and group offsets, KafkaReader serves reads and
// end offsets, and producers/consumers are their own classes under impl/.
#include "infra/kafka/kafka_event_log.h"

#include "infra/kafka/impl/kafka_consumer.h"
#include "infra/kafka/impl/kafka_context.h"
#include "infra/kafka/impl/kafka_producer.h"
#include "infra/kafka/impl/kafka_reader.h"

namespace axion::infra::kafka {
namespace {

class KafkaEventLog final : public events::EventLog {
 public:
  explicit KafkaEventLog(std::shared_ptr<impl::KafkaContext> ctx)
      : ctx_(std::move(ctx)), reader_(ctx_) {}

  Status ensure_topic(const events::TopicSpec& spec) override { return ctx_->ensure_topic(spec); }

  Result<std::int32_t> partition_count(const std::string& topic) override {
    return ctx_->partition_count(topic);
  }

  Result<std::unique_ptr<events::Producer>> open_producer(
      const std::string& transactional_id) override {
    return impl::open_kafka_producer(ctx_, transactional_id);
  }

  Result<std::unique_ptr<events::Consumer>> subscribe(
      const std::string& group, const std::vector<std::string>& topics,
      events::RebalanceCallbacks callbacks) override {
    return impl::KafkaConsumer::open(ctx_, group, topics, std::move(callbacks));
  }

  Result<std::vector<events::StoredRecord>> read(const events::TopicPartition& tp,
                                                 std::int64_t from_offset,
                                                 std::size_t max_records,
                                                 std::chrono::milliseconds wait) override {
    return reader_.read(tp, from_offset, max_records, wait);
  }

  Result<std::int64_t> end_offset(const events::TopicPartition& tp) override {
    return reader_.end_offset(tp);
  }

  Result<std::optional<std::int64_t>> committed_offset(const std::string& group,
                                                       const events::TopicPartition& tp) override {
    return ctx_->committed_offset(group, tp);
  }

 private:
  std::shared_ptr<impl::KafkaContext> ctx_;
  impl::KafkaReader reader_;
};

}  // namespace

Result<std::unique_ptr<events::EventLog>> open_kafka_event_log(const KafkaConfig& config) {
  auto ctx = impl::KafkaContext::open(config);
  if (!ctx.ok()) return ctx.status();
  return std::unique_ptr<events::EventLog>(std::make_unique<KafkaEventLog>(std::move(*ctx)));
}

}  // namespace axion::infra::kafka
