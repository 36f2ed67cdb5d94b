// Our partitioner agrees with Kafka's: a plain librdkafka producer configured with
// partitioner=murmur2_random (what the Java client does for keyed records) writes ~500 records
// with varied keys (ASCII, UTF-8, binary, empty, long) to a fresh 13-partition topic on the real
// broker (KAFKA_BROKERS); every record must land where events::partition_for_key says, and our
// KafkaEventLog's append must put each key on that same partition.
#include <gtest/gtest.h>
#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "events/event_log.h"
#include "events/partitioner.h"
#include "infra/kafka/kafka_event_log.h"

namespace axion {
namespace {

using namespace std::chrono_literals;

constexpr std::int32_t kPartitions = 13;

std::string unique_name(const std::string& prefix) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  return prefix + "-" + std::to_string(::getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now).count());
}

std::vector<std::string> varied_keys() {
  std::vector<std::string> keys;
  std::mt19937 rng(20240611);
  keys.push_back("");  // empty (not null): hashed like any key
  for (int i = 0; i < 150; ++i) keys.push_back("deployment-" + std::to_string(i));
  for (int i = 0; i < 100; ++i) {
    keys.push_back("ключ-" + std::to_string(i));
    keys.push_back("鍵🚀-" + std::to_string(i));
  }
  for (int i = 0; i < 100; ++i) {  // binary: every byte value, NULs and 0x80..0xff included
    std::string key(1 + rng() % 24, '\0');
    for (char& c : key) c = static_cast<char>(rng() % 256);
    keys.push_back(key);
  }
  for (int i = 0; i < 48; ++i) keys.push_back(std::string(1 + rng() % 4, static_cast<char>(i)));
  keys.push_back(std::string(10000, 'L'));
  keys.push_back(std::string(257, '\xff'));
  return keys;
}

class PartitionerAgreementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* brokers = std::getenv("KAFKA_BROKERS");
    ASSERT_TRUE(brokers != nullptr && *brokers != '\0')
        << "KAFKA_BROKERS is not set: run scripts/test, which starts a real broker";
    brokers_ = brokers;
    infra::kafka::KafkaConfig config;
    config.brokers = brokers_;
    config.timeout = 15s;
    auto log = infra::kafka::open_kafka_event_log(config);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    log_ = std::move(log).value();
  }

  // Every committed record of the topic, all partitions.
  std::vector<events::StoredRecord> read_all(const std::string& topic) {
    std::vector<events::StoredRecord> all;
    for (std::int32_t p = 0; p < kPartitions; ++p) {
      const events::TopicPartition tp{topic, p};
      auto end = log_->end_offset(tp);
      EXPECT_TRUE(end.ok()) << end.status().to_string();
      std::int64_t next = 0;
      while (end.ok() && next < *end) {
        // Below the end offset everything is committed: wait 0 still gets the broker's answer.
        auto batch = log_->read(tp, next, 1000, 0ms);
        EXPECT_TRUE(batch.ok()) << batch.status().to_string();
        if (!batch.ok() || batch->empty()) break;  // only commit markers left
        next = batch->back().offset + 1;
        all.insert(all.end(), batch->begin(), batch->end());
      }
    }
    return all;
  }

  std::string brokers_;
  std::unique_ptr<events::EventLog> log_;
};

TEST_F(PartitionerAgreementTest, LibrdkafkaMurmur2RandomPlacesKeysWhereWeDo) {
  const std::string topic = unique_name("axion-partitioner");
  ASSERT_TRUE(log_->ensure_topic({topic, kPartitions}).ok());
  const std::vector<std::string> keys = varied_keys();
  ASSERT_GE(keys.size(), 500u);

  std::string errstr;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  ASSERT_EQ(conf->set("bootstrap.servers", brokers_, errstr), RdKafka::Conf::CONF_OK) << errstr;
  ASSERT_EQ(conf->set("partitioner", "murmur2_random", errstr), RdKafka::Conf::CONF_OK) << errstr;
  std::unique_ptr<RdKafka::Producer> plain(RdKafka::Producer::create(conf.get(), errstr));
  ASSERT_TRUE(plain) << errstr;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::string value = std::to_string(i);
    // A non-null key pointer even for the empty key: a null key would be placed at random.
    const char* key = keys[i].empty() ? "" : keys[i].data();
    ASSERT_EQ(plain->produce(topic, RdKafka::Topic::PARTITION_UA, RdKafka::Producer::RK_MSG_COPY,
                             value.data(), value.size(), key, keys[i].size(), 0, nullptr),
              RdKafka::ERR_NO_ERROR);
  }
  ASSERT_EQ(plain->flush(15000), RdKafka::ERR_NO_ERROR);

  const auto records = read_all(topic);
  ASSERT_EQ(records.size(), keys.size());
  std::map<std::size_t, int> seen;
  for (const auto& r : records) {
    const std::size_t i = std::stoul(r.value);
    ASSERT_LT(i, keys.size());
    ++seen[i];
    EXPECT_EQ(r.key, keys[i]) << "key bytes must round-trip";
    EXPECT_EQ(r.tp.partition, events::partition_for_key(keys[i], kPartitions))
        << "record " << i << " (key of " << keys[i].size() << " bytes)";
  }
  EXPECT_EQ(seen.size(), keys.size());

  // Our own append, without explicit partitions, agrees key by key.
  auto producer = log_->open_producer(unique_name("axion-partitioner-tx"));
  ASSERT_TRUE(producer.ok()) << producer.status().to_string();
  std::vector<events::Record> ours;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    ours.push_back({topic, keys[i], "ours-" + std::to_string(i), {}});
  }
  auto positions = (*producer)->append(ours);
  ASSERT_TRUE(positions.ok()) << positions.status().to_string();
  ASSERT_EQ(positions->size(), keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ((*positions)[i].tp.partition, events::partition_for_key(keys[i], kPartitions));
  }
  const auto after = read_all(topic);
  std::size_t ours_found = 0;
  for (const auto& r : after) {
    if (r.value.rfind("ours-", 0) != 0) continue;
    const std::size_t i = std::stoul(r.value.substr(5));
    ++ours_found;
    EXPECT_EQ(r.key, keys[i]);
    EXPECT_EQ(r.tp.partition, events::partition_for_key(keys[i], kPartitions));
    EXPECT_EQ(r.tp, (*positions)[i].tp);
    EXPECT_EQ(r.offset, (*positions)[i].offset);
  }
  EXPECT_EQ(ours_found, keys.size());
}

}  // namespace
}  // namespace axion
