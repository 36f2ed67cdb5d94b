// KafkaContext (impl/kafka_context.h): librdkafka configuration, the admin handle, topic
// metadata and creation, and consumer-group offset look-ups (topic configs:
// kafka_topic_config.cc).
#include "infra/kafka/impl/kafka_context.h"

#include <algorithm>
#include <iostream>
#include <thread>

#include "events/log_limits.h"

namespace axion::infra::kafka::impl {
namespace {

constexpr std::size_t kFramingAllowance = 32 * 1024;  // batch + record framing, header lengths
constexpr std::size_t kBrokerDefaultMaxMessageBytes = 1048588;
constexpr auto kMetadataRetryPause = std::chrono::milliseconds(25);

std::string ms_text(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + " ms"; }

}  // namespace

void ClientEvents::event_cb(RdKafka::Event& event) {
  std::string line;
  switch (event.type()) {
    case RdKafka::Event::EVENT_ERROR:
      line = RdKafka::err2str(event.err()) + ": " + event.str();
      break;
    case RdKafka::Event::EVENT_LOG:
      if (event.severity() > RdKafka::Event::EVENT_SEVERITY_WARNING) {
        if (print_) std::cerr << "librdkafka " << event.fac() << ": " << event.str() << "\n";
        return;
      }
      line = event.fac() + ": " + event.str();
      break;
    default:
      return;
  }
  if (print_) std::cerr << "librdkafka " << line << "\n";
  std::lock_guard lock(mu_);
  last_problem_ = std::move(line);
}

std::string ClientEvents::last_problem() const {
  std::lock_guard lock(mu_);
  return last_problem_;
}

KafkaContext::KafkaContext(const KafkaConfig& config)
    : config_(config), events_(std::make_unique<ClientEvents>(config.log_client_events)) {}

KafkaContext::~KafkaContext() = default;

Result<std::shared_ptr<KafkaContext>> KafkaContext::open(const KafkaConfig& config) {
  if (config.brokers.empty()) return invalid_argument("KafkaConfig.brokers is empty");
  if (config.timeout.count() < 1 || config.timeout > std::chrono::hours(1)) {
    return invalid_argument("KafkaConfig.timeout must be 1 ms .. 1 h, not " +
                            ms_text(config.timeout));
  }
  if (config.limits.max_record_bytes < 1 || config.limits.max_record_bytes > 500'000'000) {
    return invalid_argument("LogLimits.max_record_bytes must be 1 .. 500000000");
  }
  std::shared_ptr<KafkaContext> ctx(new KafkaContext(config));
  auto conf = ctx->make_conf({});
  if (!conf.ok()) return conf.status();
  std::string errstr;
  ctx->admin_.reset(RdKafka::Producer::create(conf->get(), errstr));
  if (!ctx->admin_) return invalid_argument("cannot create a Kafka client: " + errstr);

  // A broker must answer a metadata request within the timeout.
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(ctx->admin_->c_ptr(), 0, nullptr, &raw, ctx->timeout_ms());
  MetadataPtr metadata(raw);
  ctx->admin_->poll(0);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return unavailable("Kafka brokers '" + config.brokers + "' unreachable within " +
                       ms_text(config.timeout) + ": " + rd_kafka_err2str(err) +
                       ctx->client_problem_suffix());
  }
  return ctx;
}

std::size_t KafkaContext::message_max_bytes() const {
  return config_.limits.max_record_bytes + kFramingAllowance;
}

Result<std::unique_ptr<RdKafka::Conf>> KafkaContext::make_conf(
    const std::map<std::string, std::string>& props) const {
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  std::string errstr;
  auto set = [&](const std::string& key, const std::string& value) -> Status {
    if (conf->set(key, value, errstr) != RdKafka::Conf::CONF_OK) {
      return invalid_argument("Kafka property '" + key + "'='" + value + "' rejected: " + errstr);
    }
    return ok_status();
  };
  AXION_RETURN_IF_ERROR(set("bootstrap.servers", config_.brokers));
  AXION_RETURN_IF_ERROR(set("client.id", config_.client_id));
  AXION_RETURN_IF_ERROR(set("allow.auto.create.topics", "false"));
  AXION_RETURN_IF_ERROR(set("reconnect.backoff.ms", "50"));
  AXION_RETURN_IF_ERROR(set("reconnect.backoff.max.ms", "1000"));
  AXION_RETURN_IF_ERROR(set("message.max.bytes", std::to_string(message_max_bytes())));
  if (conf->set("event_cb", events_.get(), errstr) != RdKafka::Conf::CONF_OK) {
    return internal_error("cannot install the Kafka event callback: " + errstr);
  }
  for (const auto& [key, value] : props) AXION_RETURN_IF_ERROR(set(key, value));
  for (const auto& [key, value] : config_.overrides) AXION_RETURN_IF_ERROR(set(key, value));
  return conf;
}

std::string KafkaContext::client_problem_suffix() const {
  const std::string problem = events_->last_problem();
  return problem.empty() ? std::string() : " (last client error: " + problem + ")";
}

Result<std::int32_t> KafkaContext::fetch_partition_count(const std::string& topic,
                                                         bool require_leaders) {
  admin_->poll(0);
  std::string errstr;
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(admin_.get(), topic, nullptr, errstr));
  if (!handle) return invalid_argument("topic '" + topic + "': " + errstr);
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(admin_->c_ptr(), 0, handle->c_ptr(), &raw, timeout_ms());
  MetadataPtr metadata(raw);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return status_from_kafka(err, "metadata for topic '" + topic + "' from Kafka brokers '" +
                                      config_.brokers + "'",
                             std::string(rd_kafka_err2str(err)) + client_problem_suffix());
  }
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      return not_found("topic '" + topic + "' does not exist");
    }
    if (t.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      return status_from_kafka(t.err, "metadata for topic '" + topic + "'");
    }
    if (require_leaders) {
      for (int p = 0; p < t.partition_cnt; ++p) {
        if (t.partitions[p].err != RD_KAFKA_RESP_ERR_NO_ERROR || t.partitions[p].leader < 0) {
          return unavailable("partition " + topic + "/" + std::to_string(t.partitions[p].id) +
                             " has no leader yet");
        }
      }
    }
    return static_cast<std::int32_t>(t.partition_cnt);
  }
  return not_found("topic '" + topic + "' does not exist");
}

Result<std::int32_t> KafkaContext::partition_count(const std::string& topic) {
  AXION_RETURN_IF_ERROR(events::validate_topic_name(topic));
  {
    std::lock_guard lock(mu_);
    if (auto it = partitions_.find(topic); it != partitions_.end()) return it->second;
  }
  auto count = fetch_partition_count(topic, false);
  if (count.ok() && *count > 0) {
    std::lock_guard lock(mu_);
    partitions_[topic] = *count;
  }
  return count;
}

Status KafkaContext::check_partition(const events::TopicPartition& tp) {
  auto count = partition_count(tp.topic);
  if (!count.ok()) return count.status();
  if (tp.partition < 0 || tp.partition >= *count) {
    return not_found("partition " + tp.to_string() + " does not exist");
  }
  return ok_status();
}

Status KafkaContext::ensure_topic(const events::TopicSpec& spec) {
  AXION_RETURN_IF_ERROR(events::validate_topic_name(spec.name));
  AXION_RETURN_IF_ERROR(events::validate_partitions(spec.partitions));
  auto existing = partition_count(spec.name);
  if (existing.ok()) {
    if (*existing != spec.partitions) {
      return failed_precondition("topic '" + spec.name + "' exists with " +
                                 std::to_string(*existing) + " partitions, not " +
                                 std::to_string(spec.partitions));
    }
    return spec.keep_forever ? keep_forever(spec.name) : ok_status();
  }
  if (existing.status().code() != StatusCode::kNotFound) return existing.status();
  auto created = create_topic(spec);
  if (!created.ok()) return created.status();
  AXION_RETURN_IF_ERROR(wait_until_ready(spec));
  // Another process created it meanwhile, perhaps without our retention.
  return spec.keep_forever && !*created ? keep_forever(spec.name) : ok_status();
}

Result<bool> KafkaContext::create_topic(const events::TopicSpec& spec) {
  char errbuf[512] = {0};
  NewTopicPtr topic(rd_kafka_NewTopic_new(spec.name.c_str(), spec.partitions,
                                          config_.replication_factor, errbuf, sizeof errbuf));
  if (!topic) return invalid_argument("topic '" + spec.name + "': " + errbuf);
  if (message_max_bytes() > kBrokerDefaultMaxMessageBytes) {
    const std::string max_bytes = std::to_string(message_max_bytes());
    const rd_kafka_resp_err_t err =
        rd_kafka_NewTopic_set_config(topic.get(), "max.message.bytes", max_bytes.c_str());
    if (err) return status_from_kafka(err, "topic '" + spec.name + "' max.message.bytes");
  }
  if (spec.keep_forever) {
    for (const char* key : {"retention.ms", "retention.bytes"}) {
      const rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(topic.get(), key, "-1");
      if (err) return status_from_kafka(err, "topic '" + spec.name + "' " + key);
    }
  }
  rd_kafka_t* rk = admin_->c_ptr();
  AdminOptionsPtr options(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS));
  if (rd_kafka_AdminOptions_set_operation_timeout(options.get(), timeout_ms(), errbuf,
                                                  sizeof errbuf) ||
      rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms(), errbuf,
                                                sizeof errbuf)) {
    return internal_error(std::string("CreateTopics options: ") + errbuf);
  }
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_NewTopic_t* topics[] = {topic.get()};
  rd_kafka_CreateTopics(rk, topics, 1, options.get(), queue.get());
  EventPtr event(rd_kafka_queue_poll(queue.get(), timeout_ms() + 1000));
  const std::string what = "creating topic '" + spec.name + "'";
  if (!event) {
    return deadline_exceeded(what + ": no answer within " + ms_text(config_.timeout) +
                             client_problem_suffix());
  }
  if (rd_kafka_event_error(event.get())) {
    return status_from_kafka(rd_kafka_event_error(event.get()), what,
                             rd_kafka_event_error_string(event.get()));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  std::size_t count = 0;
  const rd_kafka_topic_result_t** results =
      result ? rd_kafka_CreateTopics_result_topics(result, &count) : nullptr;
  if (count != 1) return internal_error(what + ": unexpected CreateTopics result");
  const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[0]);
  if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) return false;  // compared when ready
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* detail = rd_kafka_topic_result_error_string(results[0]);
    return status_from_kafka(err, what, detail ? detail : "");
  }
  return true;
}

Status KafkaContext::wait_until_ready(const events::TopicSpec& spec) {
  const auto deadline = std::chrono::steady_clock::now() + config_.timeout;
  for (;;) {
    auto count = fetch_partition_count(spec.name, true);
    if (count.ok()) {
      if (*count != spec.partitions) {
        return failed_precondition("topic '" + spec.name + "' exists with " +
                                   std::to_string(*count) + " partitions, not " +
                                   std::to_string(spec.partitions));
      }
      std::lock_guard lock(mu_);
      partitions_[spec.name] = *count;
      return ok_status();
    }
    if (remaining_ms(deadline) == 0) {
      return unavailable("topic '" + spec.name + "' was created but is not ready after " +
                         ms_text(config_.timeout) + ": " + count.status().message());
    }
    std::this_thread::sleep_for(kMetadataRetryPause);
  }
}

Result<std::optional<std::int64_t>> KafkaContext::committed_offset(
    const std::string& group, const events::TopicPartition& tp) {
  AXION_RETURN_IF_ERROR(events::validate_identifier("group id", group));
  AXION_RETURN_IF_ERROR(check_partition(tp));
  rd_kafka_t* rk = admin_->c_ptr();
  PartitionListPtr partitions(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(partitions.get(), tp.topic.c_str(), tp.partition);
  ListGroupOffsetsPtr request(rd_kafka_ListConsumerGroupOffsets_new(group.c_str(),
                                                                    partitions.get()));
  const std::string what = "committed offset of group '" + group + "' for " + tp.to_string();
  const auto deadline = std::chrono::steady_clock::now() + config_.timeout;
  bool require_stable = true;  // wait out offsets of a transaction still being committed
  for (;;) {
    AdminOptionsPtr options(
        rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS));
    char errbuf[512] = {0};
    rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms(), errbuf,
                                              sizeof errbuf);
    ErrorPtr option_error(
        rd_kafka_AdminOptions_set_require_stable_offsets(options.get(), require_stable));
    if (option_error) return status_from_kafka_error(option_error.get(), what);
    QueuePtr queue(rd_kafka_queue_new(rk));
    rd_kafka_ListConsumerGroupOffsets_t* requests[] = {request.get()};
    rd_kafka_ListConsumerGroupOffsets(rk, requests, 1, options.get(), queue.get());
    EventPtr event(rd_kafka_queue_poll(queue.get(), timeout_ms() + 1000));
    if (!event) return deadline_exceeded(what + ": no answer within " + ms_text(config_.timeout));
    rd_kafka_resp_err_t err = rd_kafka_event_error(event.get());
    std::string detail = err ? rd_kafka_event_error_string(event.get()) : "";
    std::optional<std::int64_t> offset;
    if (!err) {
      const auto* result = rd_kafka_event_ListConsumerGroupOffsets_result(event.get());
      std::size_t count = 0;
      const rd_kafka_group_result_t** groups =
          result ? rd_kafka_ListConsumerGroupOffsets_result_groups(result, &count) : nullptr;
      if (count != 1) return internal_error(what + ": unexpected ListConsumerGroupOffsets result");
      if (const rd_kafka_error_t* group_error = rd_kafka_group_result_error(groups[0])) {
        err = rd_kafka_error_code(group_error);
        detail = rd_kafka_error_string(group_error);
      } else if (const auto* list = rd_kafka_group_result_partitions(groups[0])) {
        for (int i = 0; i < list->cnt; ++i) {
          const rd_kafka_topic_partition_t& p = list->elems[i];
          if (tp.topic != p.topic || tp.partition != p.partition) continue;
          err = p.err;
          if (!err && p.offset >= 0) offset = p.offset;
        }
      }
    }
    if (!err) return offset;
    if (err == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE && require_stable) {
      require_stable = false;  // brokers before OffsetFetch v7 (and the mock cluster)
      continue;
    }
    const bool transient = err == RD_KAFKA_RESP_ERR_UNSTABLE_OFFSET_COMMIT ||
                           err == RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS ||
                           err == RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE ||
                           err == RD_KAFKA_RESP_ERR_NOT_COORDINATOR;
    if (!transient || remaining_ms(deadline) == 0) return status_from_kafka(err, what, detail);
    std::this_thread::sleep_for(kMetadataRetryPause);
  }
}

void KafkaContext::note_acknowledged(const events::LogPosition& position) {
  std::lock_guard lock(mu_);
  std::int64_t& end = acknowledged_end_[position.tp];
  end = std::max(end, position.offset + 1);
}

std::int64_t KafkaContext::acknowledged_end(const events::TopicPartition& tp) const {
  std::lock_guard lock(mu_);
  auto it = acknowledged_end_.find(tp);
  return it == acknowledged_end_.end() ? 0 : it->second;
}

}  // namespace axion::infra::kafka::impl
