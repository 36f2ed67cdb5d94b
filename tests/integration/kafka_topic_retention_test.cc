// Retention of the system-of-record topics on the real Kafka broker (KAFKA_BROKERS, set by
// scripts/test): ensure_topic with keep_forever creates a topic that keeps every record, lifts
// the retention of an existing one (an older Axion's, or an operator's with the broker's
// default) while keeping its other topic configs, changes nothing the second time, and leaves
// topics without keep_forever as they are. The topics are created and their configs read with
// librdkafka's admin API directly, independently of the adapter.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>

#include "events/event_log.h"
#include "infra/kafka/kafka_event_log.h"

namespace axion {
namespace {

using namespace std::chrono_literals;

#define ASSERT_OK(expr)                               \
  do {                                                \
    const ::axion::Status status_ = (expr);           \
    ASSERT_TRUE(status_.ok()) << status_.to_string(); \
  } while (0)

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return prefix + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) + "-" +
         std::to_string(counter++);
}

struct Config {
  std::string value;
  bool on_topic = false;  // source DYNAMIC_TOPIC_CONFIG
};
using Configs = std::map<std::string, Config>;

// A plain librdkafka admin client: creates topics with configs and describes them.
class Admin {
 public:
  explicit Admin(const std::string& brokers) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char errstr[512];
    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers.c_str(), errstr, sizeof errstr) !=
        RD_KAFKA_CONF_OK) {
      rd_kafka_conf_destroy(conf);
      return;
    }
    rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr));
    if (!rk_) rd_kafka_conf_destroy(conf);
  }
  bool ok() const { return rk_ != nullptr; }

  // "" on success, else what went wrong.
  std::string create_topic(const std::string& name, int partitions, const Configs& configs) {
    char errstr[512];
    rd_kafka_NewTopic_t* topic =
        rd_kafka_NewTopic_new(name.c_str(), partitions, 1, errstr, sizeof errstr);
    if (!topic) return errstr;
    for (const auto& [key, config] : configs) {
      rd_kafka_NewTopic_set_config(topic, key.c_str(), config.value.c_str());
    }
    Queue queue(rd_kafka_queue_new(rk_.get()));
    rd_kafka_CreateTopics(rk_.get(), &topic, 1, nullptr, queue.get());
    Event event(rd_kafka_queue_poll(queue.get(), 15000));
    rd_kafka_NewTopic_destroy(topic);
    if (!event) return "no CreateTopics answer";
    if (rd_kafka_event_error(event.get())) return rd_kafka_event_error_string(event.get());
    std::size_t count = 0;
    const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(event.get()), &count);
    if (count != 1) return "unexpected CreateTopics result";
    const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[0]);
    return err ? rd_kafka_err2str(err) : "";
  }

  // Every config the broker reports; empty if it cannot describe the topic.
  Configs describe(const std::string& name) {
    rd_kafka_ConfigResource_t* resource =
        rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, name.c_str());
    Queue queue(rd_kafka_queue_new(rk_.get()));
    rd_kafka_DescribeConfigs(rk_.get(), &resource, 1, nullptr, queue.get());
    Event event(rd_kafka_queue_poll(queue.get(), 15000));
    rd_kafka_ConfigResource_destroy(resource);
    Configs configs;
    if (!event || rd_kafka_event_error(event.get())) return configs;
    std::size_t count = 0;
    const rd_kafka_ConfigResource_t** described = rd_kafka_DescribeConfigs_result_resources(
        rd_kafka_event_DescribeConfigs_result(event.get()), &count);
    if (count != 1 || rd_kafka_ConfigResource_error(described[0])) return configs;
    std::size_t n = 0;
    const rd_kafka_ConfigEntry_t** entries = rd_kafka_ConfigResource_configs(described[0], &n);
    for (std::size_t i = 0; i < n; ++i) {
      const char* value = rd_kafka_ConfigEntry_value(entries[i]);
      configs[rd_kafka_ConfigEntry_name(entries[i])] = {
          value ? value : "",
          rd_kafka_ConfigEntry_source(entries[i]) == RD_KAFKA_CONFIG_SOURCE_DYNAMIC_TOPIC_CONFIG};
    }
    return configs;
  }

  // Waits until the broker describes the topic with `key` = `value` (a topic just created is
  // not described at once).
  Configs describe_when(const std::string& name, const std::string& key, const std::string& value) {
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    for (;;) {
      Configs configs = describe(name);
      auto it = configs.find(key);
      if ((it != configs.end() && it->second.value == value) ||
          std::chrono::steady_clock::now() > deadline) {
        return configs;
      }
      std::this_thread::sleep_for(50ms);
    }
  }

 private:
  struct RkDeleter {
    void operator()(rd_kafka_t* rk) const { rd_kafka_destroy(rk); }
  };
  struct QueueDeleter {
    void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
  };
  struct EventDeleter {
    void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
  };
  using Queue = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
  using Event = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
  std::unique_ptr<rd_kafka_t, RkDeleter> rk_;
};

std::string value(const Configs& configs, const std::string& key) {
  auto it = configs.find(key);
  return it == configs.end() ? "(missing)" : it->second.value;
}

bool on_topic(const Configs& configs, const std::string& key) {
  auto it = configs.find(key);
  return it != configs.end() && it->second.on_topic;
}

class KafkaTopicRetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* brokers = std::getenv("KAFKA_BROKERS");
    ASSERT_TRUE(brokers != nullptr && *brokers != '\0')
        << "KAFKA_BROKERS is not set: run scripts/test, which starts a real broker";
    infra::kafka::KafkaConfig config;
    config.brokers = brokers;
    config.timeout = 15s;
    auto log = infra::kafka::open_kafka_event_log(config);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    log_ = std::move(log).value();
    admin_ = std::make_unique<Admin>(brokers);
    ASSERT_TRUE(admin_->ok());
    // The adapter's log lines, to see whether it altered a topic.
    previous_logger_ = spdlog::default_logger();
    spdlog::set_default_logger(std::make_shared<spdlog::logger>(
        "retention-test", std::make_shared<spdlog::sinks::ostream_sink_mt>(lines_)));
  }
  void TearDown() override {
    if (previous_logger_) spdlog::set_default_logger(previous_logger_);
  }

  // A topic as an older Axion or an operator left it.
  void create_existing(const std::string& topic, const Configs& configs) {
    ASSERT_EQ(admin_->create_topic(topic, 2, configs), "");
    const auto& [key, config] = *configs.begin();
    ASSERT_EQ(value(admin_->describe_when(topic, key, config.value), key), config.value);
  }

  std::unique_ptr<events::EventLog> log_;
  std::unique_ptr<Admin> admin_;
  std::ostringstream lines_;
  std::shared_ptr<spdlog::logger> previous_logger_;
};

TEST_F(KafkaTopicRetentionTest, NewKeepForeverTopicKeepsEveryRecord) {
  const std::string topic = unique_name("axion-retention-new");
  ASSERT_OK(log_->ensure_topic({topic, 2, true}));
  const Configs configs = admin_->describe(topic);
  EXPECT_EQ(value(configs, "retention.ms"), "-1");
  EXPECT_EQ(value(configs, "retention.bytes"), "-1");
  EXPECT_TRUE(on_topic(configs, "retention.ms")) << "set on the topic, not inherited";
  EXPECT_TRUE(on_topic(configs, "retention.bytes"));
}

TEST_F(KafkaTopicRetentionTest, ExistingTopicIsMadeToKeepEveryRecordKeepingItsOtherConfigs) {
  const std::string topic = unique_name("axion-retention-old");
  create_existing(topic, {{"retention.ms", {"3600000"}}, {"max.message.bytes", {"2000000"}}});

  ASSERT_OK(log_->ensure_topic({topic, 2, true}));
  const Configs configs = admin_->describe(topic);
  EXPECT_EQ(value(configs, "retention.ms"), "-1");
  EXPECT_EQ(value(configs, "retention.bytes"), "-1");
  EXPECT_EQ(value(configs, "max.message.bytes"), "2000000");
  EXPECT_TRUE(on_topic(configs, "max.message.bytes"));
  const std::string logged = lines_.str();
  EXPECT_NE(logged.find("'" + topic + "' now keeps every record"), std::string::npos) << logged;
  EXPECT_NE(logged.find("retention.ms 3600000 -> -1"), std::string::npos) << logged;
  EXPECT_NE(logged.find("max.message.bytes=2000000"), std::string::npos) << logged;

  lines_.str("");
  ASSERT_OK(log_->ensure_topic({topic, 2, true}));
  EXPECT_EQ(lines_.str(), "") << "the second ensure_topic must not alter the topic";
  const Configs again = admin_->describe(topic);
  EXPECT_EQ(value(again, "retention.ms"), "-1");
  EXPECT_EQ(value(again, "max.message.bytes"), "2000000");
}

TEST_F(KafkaTopicRetentionTest, SizeLimitedRetentionIsLiftedToo) {
  const std::string topic = unique_name("axion-retention-bytes");
  create_existing(topic, {{"retention.bytes", {"1073741824"}}, {"retention.ms", {"-1"}}});

  ASSERT_OK(log_->ensure_topic({topic, 2, true}));
  const Configs configs = admin_->describe(topic);
  EXPECT_EQ(value(configs, "retention.ms"), "-1");
  EXPECT_EQ(value(configs, "retention.bytes"), "-1");
  EXPECT_NE(lines_.str().find("retention.bytes 1073741824 -> -1"), std::string::npos)
      << lines_.str();
}

TEST_F(KafkaTopicRetentionTest, TopicWithoutKeepForeverKeepsItsRetention) {
  const std::string topic = unique_name("axion-retention-other");
  create_existing(topic, {{"retention.ms", {"3600000"}}});

  ASSERT_OK(log_->ensure_topic({topic, 2, false}));
  const Configs configs = admin_->describe(topic);
  EXPECT_EQ(value(configs, "retention.ms"), "3600000");
  EXPECT_TRUE(on_topic(configs, "retention.ms"));
  EXPECT_EQ(lines_.str(), "");
}

TEST_F(KafkaTopicRetentionTest, PartitionMismatchIsRefusedBeforeAnyAlter) {
  const std::string topic = unique_name("axion-retention-mismatch");
  create_existing(topic, {{"retention.ms", {"3600000"}}});

  const Status status = log_->ensure_topic({topic, 3, true});
  EXPECT_EQ(status.code(), StatusCode::kFailedPrecondition) << status.to_string();
  EXPECT_EQ(value(admin_->describe(topic), "retention.ms"), "3600000");
  EXPECT_EQ(lines_.str(), "");
}

}  // namespace
}  // namespace axion
