// Bad set-up against the real Kafka broker (KAFKA_BROKERS, set by scripts/test): unreachable
// brokers, oversized records, invalid and unknown topics, mismatched partition counts, and a
// second producer with the same transactional id fencing the first. Each must fail fast with a
// specific status code and a message naming the culprit, and leave nothing behind. Also: keys,
// values and headers survive the trip through Kafka byte for byte.
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>

#include "events/event_log.h"
#include "infra/kafka/kafka_event_log.h"

namespace axion {
namespace {

using namespace std::chrono_literals;
using events::Record;
using events::TopicPartition;

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> counter{0};
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return prefix + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count()) + "-" +
         std::to_string(counter++);
}

class KafkaSetupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* brokers = std::getenv("KAFKA_BROKERS");
    ASSERT_TRUE(brokers != nullptr && *brokers != '\0')
        << "KAFKA_BROKERS is not set: run scripts/test, which starts a real broker";
    config_.brokers = brokers;
    config_.timeout = 15s;
  }

  std::unique_ptr<events::EventLog> open(const infra::kafka::KafkaConfig& config) {
    auto log = infra::kafka::open_kafka_event_log(config);
    EXPECT_TRUE(log.ok()) << log.status().to_string();
    return log.ok() ? std::move(log).value() : nullptr;
  }

  infra::kafka::KafkaConfig config_;
};

TEST_F(KafkaSetupTest, UnreachableBrokerIsUnavailableWithinTheTimeout) {
  infra::kafka::KafkaConfig config;
  config.brokers = "127.0.0.1:1";
  config.timeout = 1500ms;
  const auto start = std::chrono::steady_clock::now();
  auto log = infra::kafka::open_kafka_event_log(config);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(log.ok());
  EXPECT_EQ(log.status().code(), StatusCode::kUnavailable) << log.status().to_string();
  EXPECT_TRUE(log.status().retryable());
  EXPECT_NE(log.status().message().find("'127.0.0.1:1'"), std::string::npos)
      << log.status().message();
  EXPECT_NE(log.status().message().find("1500 ms"), std::string::npos) << log.status().message();
  EXPECT_LT(elapsed, config.timeout + 5s) << "a hang guard, not a speed test";
}

TEST_F(KafkaSetupTest, RecordOverTheSizeLimitIsRefusedAndNothingIsAppended) {
  auto log = open(config_);
  ASSERT_TRUE(log);
  const std::string topic = unique_name("axion-setup-size");
  ASSERT_TRUE(log->ensure_topic({topic, 2}).ok());
  auto producer = log->open_producer(unique_name("axion-setup-size-tx"));
  ASSERT_TRUE(producer.ok()) << producer.status().to_string();
  const std::size_t limit = config_.limits.max_record_bytes;

  // Exactly at the limit: the client and the broker (default max.message.bytes) accept it.
  Record at_limit{topic, "k", std::string(limit - 1, 'x'), {}, 0};
  auto ok = (*producer)->append({at_limit});
  ASSERT_TRUE(ok.ok()) << ok.status().to_string();
  const TopicPartition p0{topic, 0};
  const TopicPartition p1{topic, 1};
  auto end0 = log->end_offset(p0);
  auto end1 = log->end_offset(p1);
  ASSERT_TRUE(end0.ok() && end1.ok());

  // One byte over, in a batch with a valid record on the other partition: all refused.
  Record small{topic, "k", "v", {{"h", "x"}}, 1};
  Record over{topic, "k", std::string(limit - 1, 'x'), {{"h", ""}}, 0};
  auto refused = (*producer)->append({small, over});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument) << refused.status().to_string();
  EXPECT_FALSE(refused.status().retryable());
  EXPECT_NE(refused.status().message().find(std::to_string(limit + 1)), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find(std::to_string(limit)), std::string::npos);
  EXPECT_EQ(*log->end_offset(p0), *end0);
  EXPECT_EQ(*log->end_offset(p1), *end1);
  auto nothing = log->read(p1, *end1, 10, 300ms);
  ASSERT_TRUE(nothing.ok()) << nothing.status().to_string();
  EXPECT_TRUE(nothing->empty());
}

TEST_F(KafkaSetupTest, InvalidTopicNamesAreInvalidArguments) {
  auto log = open(config_);
  ASSERT_TRUE(log);
  auto producer = log->open_producer(unique_name("axion-setup-names-tx"));
  ASSERT_TRUE(producer.ok()) << producer.status().to_string();
  for (const std::string& name :
       {std::string("bad topic!"), std::string(), std::string(250, 'a')}) {
    SCOPED_TRACE("topic name '" + name + "'");
    const Status created = log->ensure_topic({name, 1});
    EXPECT_EQ(created.code(), StatusCode::kInvalidArgument) << created.to_string();
    EXPECT_EQ(log->partition_count(name).status().code(), StatusCode::kInvalidArgument);
    auto appended = (*producer)->append({Record{name, "k", "v"}});
    EXPECT_EQ(appended.status().code(), StatusCode::kInvalidArgument)
        << appended.status().to_string();
    EXPECT_EQ(log->subscribe(unique_name("axion-setup-names-g"), {name}).status().code(),
              StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(log->ensure_topic({unique_name("axion-setup-parts"), 0}).code(),
            StatusCode::kInvalidArgument);
}

TEST_F(KafkaSetupTest, UnknownTopicIsNotFoundAndIsNotAutoCreated) {
  auto log = open(config_);
  ASSERT_TRUE(log);
  const std::string topic = unique_name("axion-setup-missing");
  auto count = log->partition_count(topic);
  ASSERT_EQ(count.status().code(), StatusCode::kNotFound) << count.status().to_string();
  EXPECT_EQ(count.status().message(), "topic '" + topic + "' does not exist");

  auto producer = log->open_producer(unique_name("axion-setup-missing-tx"));
  ASSERT_TRUE(producer.ok()) << producer.status().to_string();
  auto appended = (*producer)->append({Record{topic, "k", "v"}});
  EXPECT_EQ(appended.status().code(), StatusCode::kNotFound) << appended.status().to_string();
  EXPECT_EQ(log->read({topic, 0}, 0, 10, 0ms).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(log->end_offset({topic, 0}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(log->committed_offset("g", {topic, 0}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(log->subscribe(unique_name("axion-setup-missing-g"), {topic}).status().code(),
            StatusCode::kNotFound);
  // The broker auto-creates topics on request by default; we must never ask it to.
  auto again = infra::kafka::open_kafka_event_log(config_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->partition_count(topic).status().code(), StatusCode::kNotFound);
}

TEST_F(KafkaSetupTest, ExistingTopicWithOtherPartitionCountIsFailedPrecondition) {
  auto log = open(config_);
  ASSERT_TRUE(log);
  const std::string topic = unique_name("axion-setup-parts");
  ASSERT_TRUE(log->ensure_topic({topic, 3}).ok());
  EXPECT_TRUE(log->ensure_topic({topic, 3}).ok());
  const Status other = log->ensure_topic({topic, 5});
  EXPECT_EQ(other.code(), StatusCode::kFailedPrecondition) << other.to_string();
  // Another process (no cache) sees the same.
  auto fresh = open(config_);
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->ensure_topic({topic, 5}).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(*fresh->partition_count(topic), 3);
}

TEST_F(KafkaSetupTest, SecondProducerWithTheSameIdFencesTheFirst) {
  auto log = open(config_);
  ASSERT_TRUE(log);
  const std::string topic = unique_name("axion-setup-fence");
  ASSERT_TRUE(log->ensure_topic({topic, 1}).ok());
  const std::string txid = unique_name("axion-setup-fence-tx");
  auto first = log->open_producer(txid);
  ASSERT_TRUE(first.ok()) << first.status().to_string();
  ASSERT_TRUE((*first)->append({Record{topic, "k", "first-before"}}).ok());

  auto second = log->open_producer(txid);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  auto fenced = (*first)->append({Record{topic, "k", "first-after"}});
  ASSERT_EQ(fenced.status().code(), StatusCode::kFailedPrecondition) << fenced.status().to_string();
  EXPECT_FALSE(fenced.status().retryable());
  const std::string expected = "producer '" + txid + "' was fenced by a newer instance";
  EXPECT_NE(fenced.status().message().find(expected), std::string::npos)
      << fenced.status().message();
  // Final: every later append fails the same way, at once.
  auto again = (*first)->append({Record{topic, "k", "first-again"}});
  EXPECT_EQ(again.status(), fenced.status());

  auto appended = (*second)->append({Record{topic, "k", "second"}});
  ASSERT_TRUE(appended.ok()) << appended.status().to_string();
  auto records = log->read({topic, 0}, 0, 100, 2s);
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  std::vector<std::string> values;
  for (const auto& r : *records) values.push_back(r.value);
  EXPECT_EQ(values, (std::vector<std::string>{"first-before", "second"}));
}

TEST_F(KafkaSetupTest, HeadersKeysAndValuesRoundTripByteForByte) {
  auto log = open(config_);
  ASSERT_TRUE(log);
  const std::string topic = unique_name("axion-setup-bytes");
  ASSERT_TRUE(log->ensure_topic({topic, 1}).ok());
  auto producer = log->open_producer(unique_name("axion-setup-bytes-tx"));
  ASSERT_TRUE(producer.ok()) << producer.status().to_string();
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes.push_back(static_cast<char>(b));
  Record record{topic, all_bytes, all_bytes + all_bytes, {}, 0};
  record.headers = {{"binary", all_bytes}, {"empty", ""},     {"dup", "1"},
                    {"dup", "2"},          {"ключ", "значение"}, {"", "no name"}};
  auto appended = (*producer)->append({record});
  ASSERT_TRUE(appended.ok()) << appended.status().to_string();
  auto read = log->read({topic, 0}, 0, 10, 5s);
  ASSERT_TRUE(read.ok()) << read.status().to_string();
  ASSERT_EQ(read->size(), 1u);
  EXPECT_EQ(read->front().key, record.key);
  EXPECT_EQ(read->front().value, record.value);
  EXPECT_EQ(read->front().headers, record.headers) << "order, duplicates and bytes are kept";
  EXPECT_GT(read->front().timestamp_ms, 0);

  // librdkafka passes header names as C strings: a NUL in a name is refused, not truncated.
  Record nul_name{topic, "k", "v", {{std::string("a\0b", 3), "v"}}, 0};
  EXPECT_EQ((*producer)->append({nul_name}).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace axion
