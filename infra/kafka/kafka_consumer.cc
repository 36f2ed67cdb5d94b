// KafkaConsumer (impl/kafka_consumer.h): group membership, rebalancing, polling and seeking on
// an RdKafka::KafkaConsumer; and the message-to-StoredRecord conversion shared with the reader.
#include "infra/kafka/impl/kafka_consumer.h"

#include <algorithm>

#include "events/log_limits.h"

namespace axion::infra::kafka::impl {
namespace {

constexpr std::size_t kMaxPollRecords = 500;

std::string bytes(const void* data, std::size_t size) {
  return data == nullptr ? std::string() : std::string(static_cast<const char*>(data), size);
}

std::vector<events::TopicPartition> to_topic_partitions(
    const std::vector<RdKafka::TopicPartition*>& partitions) {
  std::vector<events::TopicPartition> out;
  out.reserve(partitions.size());
  for (const RdKafka::TopicPartition* p : partitions) out.push_back({p->topic(), p->partition()});
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

events::StoredRecord to_stored_record(RdKafka::Message& message) {
  events::StoredRecord record;
  record.tp = {message.topic_name(), message.partition()};
  record.offset = message.offset();
  record.timestamp_ms = message.timestamp().timestamp;
  record.key = bytes(message.key_pointer(), message.key_len());
  record.value = bytes(message.payload(), message.len());
  rd_kafka_headers_t* headers = nullptr;
  // The C API gives value sizes, so binary values round-trip exactly.
  if (rd_kafka_message_headers(message.c_ptr(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    std::size_t size = 0;
    for (std::size_t i = 0;
         rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR;
         ++i) {
      record.headers.push_back({name, bytes(value, size)});
    }
  }
  return record;
}

class KafkaConsumer::Rebalancer final : public RdKafka::RebalanceCb {
 public:
  explicit Rebalancer(KafkaConsumer* owner) : owner_(owner) {}
  void rebalance_cb(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                    std::vector<RdKafka::TopicPartition*>& partitions) override {
    owner_->on_rebalance(consumer, err, partitions);
  }

 private:
  KafkaConsumer* owner_;
};

KafkaConsumer::KafkaConsumer(std::shared_ptr<KafkaContext> ctx, std::string group,
                             events::RebalanceCallbacks callbacks)
    : ctx_(std::move(ctx)),
      group_(std::move(group)),
      callbacks_(std::move(callbacks)),
      rebalancer_(std::make_unique<Rebalancer>(this)) {}

KafkaConsumer::~KafkaConsumer() { close(); }

Result<std::unique_ptr<events::Consumer>> KafkaConsumer::open(
    std::shared_ptr<KafkaContext> ctx, const std::string& group,
    const std::vector<std::string>& topics, events::RebalanceCallbacks callbacks) {
  AXION_RETURN_IF_ERROR(events::validate_identifier("group id", group));
  if (topics.empty()) return invalid_argument("subscribe needs at least one topic");
  for (const std::string& topic : topics) {
    auto count = ctx->partition_count(topic);  // also validates the name
    if (!count.ok()) return count.status();
  }
  const auto session_ms = ctx->config().session_timeout.count();
  auto conf = ctx->make_conf({{"group.id", group},
                              {"isolation.level", "read_committed"},
                              {"enable.auto.commit", "false"},
                              {"enable.auto.offset.store", "false"},
                              {"auto.offset.reset", "earliest"},
                              {"partition.assignment.strategy", "range"},
                              {"enable.partition.eof", "false"},
                              {"session.timeout.ms", std::to_string(session_ms)},
                              {"heartbeat.interval.ms", std::to_string(session_ms / 3)}});
  if (!conf.ok()) return conf.status();
  std::unique_ptr<KafkaConsumer> self(new KafkaConsumer(ctx, group, std::move(callbacks)));
  std::string errstr;
  if ((*conf)->set("rebalance_cb", self->rebalancer_.get(), errstr) != RdKafka::Conf::CONF_OK) {
    return internal_error("cannot install the rebalance callback: " + errstr);
  }
  self->consumer_.reset(RdKafka::KafkaConsumer::create(conf->get(), errstr));
  if (!self->consumer_) return invalid_argument("cannot create a Kafka consumer: " + errstr);
  const RdKafka::ErrorCode err = self->consumer_->subscribe(topics);
  if (err != RdKafka::ERR_NO_ERROR) {
    return status_from_kafka(static_cast<rd_kafka_resp_err_t>(err),
                             "subscribing group '" + group + "'");
  }
  return std::unique_ptr<events::Consumer>(std::move(self));
}

void KafkaConsumer::on_rebalance(RdKafka::KafkaConsumer* consumer, RdKafka::ErrorCode err,
                                 std::vector<RdKafka::TopicPartition*>& partitions) {
  try {
    if (err == RdKafka::ERR__ASSIGN_PARTITIONS) {
      const RdKafka::ErrorCode assign_err = consumer->assign(partitions);
      if (assign_err != RdKafka::ERR_NO_ERROR) {
        deferred_error_ = unavailable(
            status_from_kafka(static_cast<rd_kafka_resp_err_t>(assign_err),
                              "assigning partitions to group '" + group_ + "'")
                .message());
        return;
      }
      assignment_ = to_topic_partitions(partitions);
      if (callbacks_.on_assigned && !closing_) callbacks_.on_assigned(assignment_);
      return;
    }
    if (err == RdKafka::ERR__REVOKE_PARTITIONS) {
      if (callbacks_.on_revoked && !closing_ && !assignment_.empty()) {
        callbacks_.on_revoked(assignment_);
      }
    } else {
      deferred_error_ = unavailable(status_from_kafka(static_cast<rd_kafka_resp_err_t>(err),
                                                      "rebalance of group '" + group_ + "'")
                                        .message());
    }
    consumer->unassign();
    assignment_.clear();
  } catch (...) {
    // Never unwind through librdkafka's C frames: rethrown by poll() on the same thread.
    callback_exception_ = std::current_exception();
  }
}

Result<std::vector<events::StoredRecord>> KafkaConsumer::poll(std::chrono::milliseconds timeout) {
  if (closed_) return failed_precondition("consumer of group '" + group_ + "' is closed");
  if (deferred_error_) {
    Status s = std::move(*deferred_error_);
    deferred_error_.reset();
    return s;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<events::StoredRecord> records;
  while (records.size() < kMaxPollRecords) {
    const int wait_ms = records.empty() ? remaining_ms(deadline) : 0;
    std::unique_ptr<RdKafka::Message> message(consumer_->consume(wait_ms));
    if (callback_exception_) std::rethrow_exception(std::exchange(callback_exception_, nullptr));
    if (deferred_error_ && records.empty()) {
      Status s = std::move(*deferred_error_);
      deferred_error_.reset();
      return s;
    }
    if (!message) break;
    switch (message->err()) {
      case RdKafka::ERR_NO_ERROR:
        records.push_back(to_stored_record(*message));
        continue;
      case RdKafka::ERR__TIMED_OUT:
        if (!records.empty() || wait_ms == 0) return records;
        continue;
      case RdKafka::ERR__PARTITION_EOF:
        continue;
      default: {
        // Consumer errors end the batch; records already taken are returned first.
        const Status s = unavailable(
            status_from_kafka(static_cast<rd_kafka_resp_err_t>(message->err()),
                              "consumer of group '" + group_ + "'", message->errstr())
                .message());
        if (records.empty()) return s;
        deferred_error_ = s;
        return records;
      }
    }
  }
  return records;
}

Status KafkaConsumer::seek(const events::TopicPartition& tp, std::int64_t offset) {
  if (closed_) return failed_precondition("consumer of group '" + group_ + "' is closed");
  if (std::find(assignment_.begin(), assignment_.end(), tp) == assignment_.end()) {
    return invalid_argument("partition " + tp.to_string() +
                            " is not assigned to this member of group '" + group_ + "'");
  }
  if (offset < 0) return invalid_argument("seek to negative offset " + std::to_string(offset));
  std::unique_ptr<RdKafka::TopicPartition> target(
      RdKafka::TopicPartition::create(tp.topic, tp.partition, offset));
  const RdKafka::ErrorCode err = consumer_->seek(*target, ctx_->timeout_ms());
  return status_from_kafka(static_cast<rd_kafka_resp_err_t>(err),
                           "seeking " + tp.to_string() + " to offset " + std::to_string(offset));
}

void KafkaConsumer::close() {
  if (closed_.exchange(true) || !consumer_) return;
  closing_ = true;
  // Leaves the group (its partitions go to the other members). The error, if any, has no one
  // to go to: the member is gone either way and the group coordinator expires it.
  const RdKafka::ErrorCode err = consumer_->close();
  (void)err;
  assignment_.clear();
}

GroupMetadataPtr KafkaConsumer::group_metadata() const {
  if (closed_) return nullptr;
  return GroupMetadataPtr(rd_kafka_consumer_group_metadata(consumer_->c_ptr()));
}

}  // namespace axion::infra::kafka::impl
