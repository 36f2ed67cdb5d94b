// KafkaContext's topic configs (impl/kafka_context.h): DescribeConfigs, and keeping every record
// of an existing system-of-record topic. librdkafka 2.0 has only the legacy AlterConfigs, which
// replaces a topic's whole dynamic configuration (anything left out reverts to the broker's
// default), so the alter carries every other config set on the topic over unchanged.
#include <spdlog/spdlog.h>

#include <string>
#include <thread>
#include <vector>

#include "events/log_limits.h"
#include "infra/kafka/impl/kafka_context.h"

namespace axion::infra::kafka::impl {
namespace {

constexpr const char* kRetentionMs = "retention.ms";
constexpr const char* kRetentionBytes = "retention.bytes";
constexpr const char* kForever = "-1";
constexpr auto kConfigRetryPause = std::chrono::milliseconds(50);

std::string join(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& part : parts) out += (out.empty() ? "" : ", ") + part;
  return out;
}

std::string value_of(const std::map<std::string, TopicConfigEntry>& configs, const char* key) {
  auto it = configs.find(key);
  return it == configs.end() || !it->second.has_value ? std::string("(unset)") : it->second.value;
}

bool kept_forever(const std::map<std::string, TopicConfigEntry>& configs) {
  return value_of(configs, kRetentionMs) == kForever &&
         value_of(configs, kRetentionBytes) == kForever;
}

// What an operator must do by hand, and why, for a topic that expires records.
std::string set_by_hand(const std::string& topic, const std::string& brokers,
                        const std::map<std::string, TopicConfigEntry>& configs) {
  std::vector<std::string> limits;
  if (const std::string ms = value_of(configs, kRetentionMs); ms != kForever) {
    limits.push_back("only " + ms + " ms");
  }
  if (const std::string bytes = value_of(configs, kRetentionBytes); bytes != kForever) {
    limits.push_back("only " + bytes + " bytes per partition");
  }
  std::string limit;
  for (std::size_t i = 0; i < limits.size(); ++i) limit += (i ? " and " : "") + limits[i];
  return "topic '" + topic + "' keeps records " + limit +
         "; set retention.ms=-1 and retention.bytes=-1 on it (kafka-configs.sh "
         "--bootstrap-server " +
         brokers + " --alter --entity-type topics --entity-name " + topic +
         " --add-config retention.ms=-1,retention.bytes=-1) because Axion replays it from offset 0";
}

}  // namespace

Result<std::map<std::string, TopicConfigEntry>> KafkaContext::topic_configs(
    const std::string& topic) {
  AXION_RETURN_IF_ERROR(events::validate_topic_name(topic));
  rd_kafka_t* rk = admin_->c_ptr();
  const std::string what = "configs of topic '" + topic + "'";
  AdminOptionsPtr options(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS));
  char errbuf[512] = {0};
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms(), errbuf,
                                                sizeof errbuf)) {
    return internal_error(std::string("DescribeConfigs options: ") + errbuf);
  }
  ConfigResourcePtr resource(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_DescribeConfigs(rk, resources, 1, options.get(), queue.get());
  EventPtr event(rd_kafka_queue_poll(queue.get(), timeout_ms() + 1000));
  if (!event) {
    return deadline_exceeded(what + ": no answer within " + std::to_string(timeout_ms()) + " ms" +
                             client_problem_suffix());
  }
  if (rd_kafka_event_error(event.get())) {
    return status_from_kafka(rd_kafka_event_error(event.get()), what,
                             rd_kafka_event_error_string(event.get()));
  }
  const auto* result = rd_kafka_event_DescribeConfigs_result(event.get());
  std::size_t count = 0;
  const rd_kafka_ConfigResource_t** described =
      result ? rd_kafka_DescribeConfigs_result_resources(result, &count) : nullptr;
  if (count != 1) return internal_error(what + ": unexpected DescribeConfigs result");
  if (const rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(described[0])) {
    const char* detail = rd_kafka_ConfigResource_error_string(described[0]);
    return status_from_kafka(err, what, detail ? detail : "");
  }
  std::size_t entry_count = 0;
  const rd_kafka_ConfigEntry_t** entries =
      rd_kafka_ConfigResource_configs(described[0], &entry_count);
  std::map<std::string, TopicConfigEntry> configs;
  for (std::size_t i = 0; i < entry_count; ++i) {
    const char* value = rd_kafka_ConfigEntry_value(entries[i]);
    configs[rd_kafka_ConfigEntry_name(entries[i])] = {
        value ? value : "", value != nullptr,
        rd_kafka_ConfigEntry_source(entries[i]) == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG};
  }
  return configs;
}

Status KafkaContext::keep_forever(const std::string& topic) {
  auto configs = topic_configs(topic);
  if (!configs.ok()) {
    if (configs.status().code() != StatusCode::kPermissionDenied) return configs.status();
    return failed_precondition("cannot check that topic '" + topic + "' keeps every record (" +
                               configs.status().message() +
                               "): allow this client DescribeConfigs on it (and AlterConfigs, or "
                               "set retention.ms=-1 and retention.bytes=-1 on it yourself) "
                               "because Axion replays it from offset 0");
  }
  if (kept_forever(*configs)) return ok_status();

  const std::string by_hand = set_by_hand(topic, config_.brokers, *configs);
  ConfigResourcePtr resource(rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str()));
  std::vector<std::string> kept;
  for (const auto& [name, entry] : *configs) {
    if (!entry.dynamic || name == kRetentionMs || name == kRetentionBytes) continue;
    if (!entry.has_value) {
      return failed_precondition(by_hand + "; Axion cannot do it itself without resetting " + name +
                                 ", whose value the broker withholds");
    }
    if (const auto err =
            rd_kafka_ConfigResource_set_config(resource.get(), name.c_str(), entry.value.c_str())) {
      return status_from_kafka(err, "topic '" + topic + "' config " + name);
    }
    kept.push_back(name + "=" + entry.value);
  }
  for (const char* key : {kRetentionMs, kRetentionBytes}) {
    if (const auto err = rd_kafka_ConfigResource_set_config(resource.get(), key, kForever)) {
      return status_from_kafka(err, "topic '" + topic + "' " + key);
    }
  }

  rd_kafka_t* rk = admin_->c_ptr();
  AdminOptionsPtr options(rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_ALTERCONFIGS));
  char errbuf[512] = {0};
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), timeout_ms(), errbuf,
                                                sizeof errbuf)) {
    return internal_error(std::string("AlterConfigs options: ") + errbuf);
  }
  rd_kafka_ConfigResource_t* resources[] = {resource.get()};
  QueuePtr queue(rd_kafka_queue_new(rk));
  rd_kafka_AlterConfigs(rk, resources, 1, options.get(), queue.get());
  EventPtr event(rd_kafka_queue_poll(queue.get(), timeout_ms() + 1000));
  const std::string what =
      "setting retention.ms=-1 and retention.bytes=-1 on topic '" + topic + "'";
  if (!event) {
    return deadline_exceeded(what + ": no answer within " + std::to_string(timeout_ms()) + " ms" +
                             client_problem_suffix());
  }
  if (rd_kafka_event_error(event.get())) {  // no answer from a broker: worth a retry
    return status_from_kafka(rd_kafka_event_error(event.get()), what,
                             rd_kafka_event_error_string(event.get()));
  }
  const auto* result = rd_kafka_event_AlterConfigs_result(event.get());
  std::size_t count = 0;
  const rd_kafka_ConfigResource_t** altered =
      result ? rd_kafka_AlterConfigs_result_resources(result, &count) : nullptr;
  if (count != 1) return internal_error(what + ": unexpected AlterConfigs result");
  if (const rd_kafka_resp_err_t err = rd_kafka_ConfigResource_error(altered[0])) {
    const char* detail = rd_kafka_ConfigResource_error_string(altered[0]);
    return failed_precondition(by_hand + "; the broker refused to do it for Axion: " +
                               rd_kafka_err2str(err) + (detail ? std::string(": ") + detail : ""));
  }
  std::vector<std::string> changed;
  for (const char* key : {kRetentionMs, kRetentionBytes}) {
    const std::string was = value_of(*configs, key);
    if (was != kForever) changed.push_back(std::string(key) + " " + was + " -> -1");
  }
  spdlog::info("Kafka topic '{}' now keeps every record: {} (its other topic configs kept: {})",
               topic, join(changed), kept.empty() ? std::string("none") : join(kept));

  // The broker applies the change shortly after answering; wait for it, so that what this call
  // returns holds for the next look (and a second ensure_topic changes nothing).
  const auto deadline = std::chrono::steady_clock::now() + config_.timeout;
  for (;;) {
    auto now = topic_configs(topic);
    if (now.ok() && kept_forever(*now)) return ok_status();
    if (remaining_ms(deadline) == 0) {
      return unavailable("topic '" + topic +
                         "': the broker accepted retention.ms=-1 and retention.bytes=-1 but "
                         "does not report them after " +
                         std::to_string(timeout_ms()) + " ms" +
                         (now.ok() ? std::string() : ": " + now.status().message()));
    }
    std::this_thread::sleep_for(kConfigRetryPause);
  }
}

}  // namespace axion::infra::kafka::impl
