// KafkaContext: what every part of the Kafka adapter shares — the configuration, librdkafka
// property sets, one admin handle (metadata, CreateTopics, topic configs, consumer-group
// offsets), the cached partition counts, the positions our own producers have had acknowledged
// (for read-your-writes while commit markers propagate), and the client's recent log lines (for
// error messages).
// Producers and consumers hold it by shared_ptr, so it outlives every librdkafka handle.
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "events/event_log.h"
#include "infra/kafka/impl/kafka_errors.h"
#include "infra/kafka/kafka_event_log.h"

namespace axion::infra::kafka::impl {

// Receives librdkafka's log lines and error events (from internal threads and poll()). Keeps
// the latest problem for error messages; prints to stderr only when config.log_client_events.
class ClientEvents final : public RdKafka::EventCb {
 public:
  explicit ClientEvents(bool print) : print_(print) {}
  void event_cb(RdKafka::Event& event) override;
  std::string last_problem() const;

 private:
  const bool print_;
  mutable std::mutex mu_;
  std::string last_problem_;
};

// One topic config as DescribeConfigs reports it.
struct TopicConfigEntry {
  std::string value;       // "" when the broker withholds it (sensitive) or it is unset
  bool has_value = false;  // false: withheld or unset
  bool dynamic = false;    // set on the topic itself (source DYNAMIC_TOPIC_CONFIG)
};

class KafkaContext {
 public:
  static Result<std::shared_ptr<KafkaContext>> open(const KafkaConfig& config);
  ~KafkaContext();
  KafkaContext(const KafkaContext&) = delete;
  KafkaContext& operator=(const KafkaContext&) = delete;

  const KafkaConfig& config() const { return config_; }
  int timeout_ms() const { return static_cast<int>(config_.timeout.count()); }
  // librdkafka message.max.bytes: the record limit plus room for framing and headers, so a
  // record that passes validate_append is never refused by the client.
  std::size_t message_max_bytes() const;
  // The common properties (brokers, client id, event callback, no topic auto-creation), then
  // `props`, then config.overrides.
  Result<std::unique_ptr<RdKafka::Conf>> make_conf(
      const std::map<std::string, std::string>& props) const;
  // " (last client error: ...)" or "".
  std::string client_problem_suffix() const;

  // Cached after the first successful look-up. NOT_FOUND for an unknown topic.
  Result<std::int32_t> partition_count(const std::string& topic);
  // Creates the topic, or checks an existing one's partition count; for spec.keep_forever also
  // sets retention.ms = retention.bytes = -1 on an existing topic that expires records
  // (FAILED_PRECONDITION, saying what to set by hand, if the broker refuses).
  Status ensure_topic(const events::TopicSpec& spec);
  // Every config of the topic the broker reports (effective values). NOT_FOUND for an unknown
  // topic.
  Result<std::map<std::string, TopicConfigEntry>> topic_configs(const std::string& topic);
  // Checks the name (INVALID_ARGUMENT), the topic and the partition exist (NOT_FOUND).
  Status check_partition(const events::TopicPartition& tp);
  Result<std::optional<std::int64_t>> committed_offset(const std::string& group,
                                                       const events::TopicPartition& tp);

  // Positions acknowledged to our callers: reads below them wait for the commit markers.
  void note_acknowledged(const events::LogPosition& position);
  std::int64_t acknowledged_end(const events::TopicPartition& tp) const;

 private:
  explicit KafkaContext(const KafkaConfig& config);
  // Metadata of one topic, straight from a broker (never creates the topic).
  Result<std::int32_t> fetch_partition_count(const std::string& topic, bool require_leaders);
  // true if this call created it, false if it already existed.
  Result<bool> create_topic(const events::TopicSpec& spec);
  // Pins retention.ms = retention.bytes = -1 on an existing topic, carrying over its other
  // topic-level configs (kafka_topic_config.cc). OK without a request if both are -1 already.
  Status keep_forever(const std::string& topic);
  Status wait_until_ready(const events::TopicSpec& spec);

  KafkaConfig config_;
  std::unique_ptr<ClientEvents> events_;  // declared before every handle that uses it
  std::unique_ptr<RdKafka::Producer> admin_;
  mutable std::mutex mu_;
  std::map<std::string, std::int32_t> partitions_;
  std::map<events::TopicPartition, std::int64_t> acknowledged_end_;
};

// Deadline arithmetic for librdkafka's int milliseconds.
inline int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

}  // namespace axion::infra::kafka::impl
