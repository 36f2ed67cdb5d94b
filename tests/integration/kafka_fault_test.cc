// Fault injection for the Kafka adapter. Most cases run on librdkafka's mock cluster (three
// in-process brokers): a broker down mid-transaction, partition leaders moving during a stream
// of appends, and injected request errors (retriable, abortable, fencing). Each checks the
// exactly-once promise: every acknowledged append is in the log exactly once at the position we
// were given, nothing appears twice, and every failure is a specific, clear status. The mock
// does not hide aborted transactions from read_committed readers (it keeps no transaction
// index), so abort visibility is checked on the real broker (KAFKA_BROKERS) in the last case.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "events/event_log.h"
#include "infra/kafka/kafka_event_log.h"

namespace axion {
namespace {

using namespace std::chrono_literals;
using events::LogPosition;
using events::Record;
using events::TopicPartition;

constexpr std::int16_t kProduce = 0;  // Kafka protocol API keys
constexpr std::int16_t kAddPartitionsToTxn = 24;
constexpr std::int16_t kEndTxn = 26;
constexpr std::int16_t kTxnOffsetCommit = 28;
constexpr std::int32_t kPartitions = 4;

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

// A three-broker mock cluster; its bookkeeping handle is a throwaway producer.
class MockCluster {
 public:
  MockCluster() {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof errstr);  // no notices
    rk_.reset(rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr));
    if (rk_) cluster_.reset(rd_kafka_mock_cluster_new(rk_.get(), 3));
  }
  rd_kafka_mock_cluster_t* get() const { return cluster_.get(); }

 private:  // the cluster is destroyed before its handle
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> rk_{nullptr, rd_kafka_destroy};
  std::unique_ptr<rd_kafka_mock_cluster_t, decltype(&rd_kafka_mock_cluster_destroy)> cluster_{
      nullptr, rd_kafka_mock_cluster_destroy};
};

struct Outcome {
  Status status;
  std::vector<std::string> values;
  std::vector<LogPosition> positions;
};

class KafkaFaultTest : public ::testing::Test {
 protected:
  static constexpr const char* kTopic = "faults";
  static constexpr const char* kTxid = "fault-tx";
  static constexpr const char* kGroup = "fault-group";

  void SetUp() override {
    ASSERT_NE(mock_.get(), nullptr) << "could not create the mock cluster";
    ASSERT_EQ(rd_kafka_mock_topic_create(mock_.get(), kTopic, kPartitions, 3), 0);
    // Brokers 1 and 2 lead the partitions; broker 3 coordinates transactions and the group.
    for (std::int32_t p = 0; p < kPartitions; ++p) {
      ASSERT_EQ(rd_kafka_mock_partition_set_leader(mock_.get(), kTopic, p, 1 + p % 2), 0);
    }
    rd_kafka_mock_coordinator_set(mock_.get(), "transaction", kTxid, 3);
    rd_kafka_mock_coordinator_set(mock_.get(), "group", kGroup, 3);
    infra::kafka::KafkaConfig config;
    config.brokers = rd_kafka_mock_cluster_bootstraps(mock_.get());
    config.timeout = 3000ms;
    auto log = infra::kafka::open_kafka_event_log(config);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    log_ = std::move(log).value();
    ASSERT_NO_FATAL_FAILURE(open_producer());
  }

  void open_producer() {
    producer_.reset();  // a new instance with the same id fences the old one
    auto producer = log_->open_producer(kTxid);
    ASSERT_TRUE(producer.ok()) << producer.status().to_string();
    producer_ = std::move(producer).value();
  }

  // One record per partition, each value unique to this attempt.
  Outcome append_one(const std::string& tag, const events::OffsetCommit* offsets = nullptr) {
    Outcome outcome;
    std::vector<Record> records;
    for (std::int32_t p = 0; p < kPartitions; ++p) {
      outcome.values.push_back(tag + "-p" + std::to_string(p));
      records.push_back({kTopic, "k", outcome.values.back(), {{"attempt", tag}}, p});
    }
    auto positions = producer_->append(std::move(records), offsets);
    outcome.status = positions.status();
    if (positions.ok()) outcome.positions = *positions;
    return outcome;
  }

  // Appends from a background thread until stopped, keeping every outcome.
  void start_appender() {
    appender_ = std::thread([this] {
      for (int attempt = 0; !stop_; ++attempt) {
        Outcome outcome = append_one("a" + std::to_string(attempt));
        const bool ok = outcome.status.ok();
        {
          std::lock_guard lock(mu_);
          outcomes_.push_back(std::move(outcome));
        }
        ++(ok ? successes_ : failures_);
      }
    });
  }
  void stop_appender() {
    stop_ = true;
    if (appender_.joinable()) appender_.join();
  }
  void TearDown() override { stop_appender(); }
  // Stops the appender; every failure was retryable and every success is there exactly once.
  void finish_stream() {
    stop_appender();
    for (const Outcome& o : outcomes_) {
      if (!o.status.ok()) expect_retryable_failure(o.status);
    }
    expect_acknowledged_exactly_once(outcomes_);
  }

  // Every record in the log by value (the mock also shows aborted ones: see the file comment).
  std::map<std::string, std::vector<LogPosition>> log_contents() {
    std::map<std::string, std::vector<LogPosition>> contents;
    for (std::int32_t p = 0; p < kPartitions; ++p) {
      const TopicPartition tp{kTopic, p};
      std::int64_t next = 0;
      for (;;) {
        auto batch = log_->read(tp, next, 1000, 0ms);
        EXPECT_TRUE(batch.ok()) << batch.status().to_string();
        if (!batch.ok() || batch->empty()) break;
        for (const auto& r : *batch) contents[r.value].push_back({r.tp, r.offset});
        next = batch->back().offset + 1;
      }
    }
    return contents;
  }

  // The exactly-once check over `outcomes`.
  void expect_acknowledged_exactly_once(const std::vector<Outcome>& outcomes) {
    const auto contents = log_contents();
    for (const auto& [value, positions] : contents) {
      EXPECT_EQ(positions.size(), 1u) << "'" << value << "' is in the log more than once";
    }
    for (const Outcome& o : outcomes) {
      if (!o.status.ok()) continue;
      ASSERT_EQ(o.positions.size(), o.values.size());
      for (std::size_t i = 0; i < o.values.size(); ++i) {
        auto it = contents.find(o.values[i]);
        ASSERT_NE(it, contents.end()) << "acknowledged '" << o.values[i] << "' is missing";
        EXPECT_EQ(it->second.front(), o.positions[i]) << o.values[i];
      }
    }
  }

  static void expect_retryable_failure(const Status& s) {
    EXPECT_TRUE(s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded ||
                s.code() == StatusCode::kAborted)
        << s.to_string();
    EXPECT_TRUE(s.retryable()) << s.to_string();
  }

  MockCluster mock_;
  std::unique_ptr<events::EventLog> log_;
  std::unique_ptr<events::Producer> producer_;
  std::mutex mu_;
  std::vector<Outcome> outcomes_;  // read by the test after stop_appender()
  std::atomic<int> successes_{0};
  std::atomic<int> failures_{0};
  std::atomic<bool> stop_{false};
  std::thread appender_;
};

TEST_F(KafkaFaultTest, BrokerDownMidTransactionNeverLosesOrDuplicatesAcknowledgedAppends) {
  start_appender();
  ASSERT_TRUE(wait_until([&] { return successes_ >= 3; }, 20s));
  // A partition leader goes away: appends touching it time out and are aborted.
  ASSERT_EQ(rd_kafka_mock_broker_set_down(mock_.get(), 1), 0);
  ASSERT_TRUE(wait_until([&] { return failures_ >= 1; }, 20s)) << "no append failed";
  ASSERT_EQ(rd_kafka_mock_broker_set_up(mock_.get(), 1), 0);
  const int after_leader = successes_;
  ASSERT_TRUE(wait_until([&] { return successes_ >= after_leader + 3; }, 30s));
  // The transaction coordinator goes away. An append in its commit waits for the coordinator
  // (the outcome is unknown until then); one in an earlier phase fails. Either is right, so
  // this waits for an append to finish or for a transaction timeout, whichever comes first.
  ASSERT_EQ(rd_kafka_mock_broker_set_down(mock_.get(), 3), 0);
  const int before_coordinator = successes_ + failures_;
  (void)wait_until([&] { return successes_ + failures_ > before_coordinator; }, 3s);
  ASSERT_EQ(rd_kafka_mock_broker_set_up(mock_.get(), 3), 0);
  const int after_coordinator = successes_;
  ASSERT_TRUE(wait_until([&] { return successes_ >= after_coordinator + 3; }, 30s));
  finish_stream();
}

TEST_F(KafkaFaultTest, LeaderChangesDuringAppendsLoseAndDuplicateNothing) {
  start_appender();
  ASSERT_TRUE(wait_until([&] { return successes_ >= 2; }, 20s));
  for (int round = 0; round < 6; ++round) {
    for (std::int32_t p = 0; p < kPartitions; ++p) {
      ASSERT_EQ(rd_kafka_mock_partition_set_leader(mock_.get(), kTopic, p, 1 + (p + round) % 3), 0);
    }
    const int before = successes_;
    ASSERT_TRUE(wait_until([&] { return successes_ >= before + 2; }, 30s)) << "round " << round;
  }
  finish_stream();
}

TEST_F(KafkaFaultTest, RetriableRequestErrorsAreRetriedAndAppendOnce) {
  const std::map<std::int16_t, std::vector<rd_kafka_resp_err_t>> injected = {
      {kProduce, {RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS,
                  RD_KAFKA_RESP_ERR__TRANSPORT}},
      {kAddPartitionsToTxn, {RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS,
                             RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS}},
      {kEndTxn, {RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR}}};
  std::vector<Outcome> outcomes;
  for (const auto& [api, errors] : injected) {
    rd_kafka_mock_push_request_errors_array(mock_.get(), api, errors.size(), errors.data());
    outcomes.push_back(append_one("retried-" + std::to_string(api)));
    ASSERT_TRUE(outcomes.back().status.ok()) << api << ": " << outcomes.back().status.to_string();
  }
  expect_acknowledged_exactly_once(outcomes);
}

TEST_F(KafkaFaultTest, AbortableErrorsFailTheAppendClearlyAndTheNextOneSucceeds) {
  std::vector<Outcome> outcomes;
  // As a caller would: retry while the error says so. After an aborted transaction librdkafka
  // may need one more failed attempt to reset its sequence numbers (an epoch bump).
  auto append_until_ok = [&](const std::string& tag, const events::OffsetCommit* offsets) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      outcomes.push_back(append_one(tag + "-" + std::to_string(attempt), offsets));
      if (outcomes.back().status.ok()) return;
      expect_retryable_failure(outcomes.back().status);
    }
    ADD_FAILURE() << tag << ": still failing: " << outcomes.back().status.to_string();
  };
  // The broker refuses a record outright: the transaction is aborted, the caller told why.
  rd_kafka_mock_push_request_errors(mock_.get(), kProduce, 1, RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE);
  outcomes.push_back(append_one("refused"));
  const Status refused = outcomes.back().status;
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument) << refused.to_string();
  EXPECT_FALSE(refused.retryable());
  EXPECT_NE(refused.message().find("Message size too large"), std::string::npos);
  append_until_ok("recovered", nullptr);

  // The consumer's generation is stale: ABORTED, retryable after a re-poll.
  events::OffsetCommit offsets{kGroup, {{{kTopic, 0}, 7}}, nullptr};
  rd_kafka_mock_push_request_errors(mock_.get(), kTxnOffsetCommit, 1,
                                    RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION);
  outcomes.push_back(append_one("stale-generation", &offsets));
  const Status stale = outcomes.back().status;
  EXPECT_EQ(stale.code(), StatusCode::kAborted) << stale.to_string();
  EXPECT_TRUE(stale.retryable());
  EXPECT_NE(stale.message().find("generation is stale"), std::string::npos) << stale.message();
  append_until_ok("after", &offsets);
  expect_acknowledged_exactly_once(outcomes);
}

TEST_F(KafkaFaultTest, FencingReportedByTheCoordinatorIsFinal) {
  rd_kafka_mock_push_request_errors(mock_.get(), kEndTxn, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
  const Outcome fenced = append_one("fenced");
  ASSERT_EQ(fenced.status.code(), StatusCode::kFailedPrecondition) << fenced.status.to_string();
  EXPECT_NE(fenced.status.message().find(std::string("producer '") + kTxid + "' was fenced"),
            std::string::npos)
      << fenced.status.message();
  const Outcome later = append_one("later");
  EXPECT_EQ(later.status, fenced.status);
  open_producer();  // a new instance with the same id takes over
  const Outcome next = append_one("next");
  ASSERT_TRUE(next.status.ok()) << next.status.to_string();
  expect_acknowledged_exactly_once({next});
}

// A plain librdkafka client for what the EventLog port does not offer.
using RawClient = std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)>;
RawClient raw_client(rd_kafka_type_t type, const std::map<std::string, std::string>& props) {
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  for (const auto& [key, value] : props) {
    EXPECT_EQ(rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr),
              RD_KAFKA_CONF_OK) << errstr;
  }
  RawClient client(rd_kafka_new(type, conf, errstr, sizeof errstr), rd_kafka_destroy);
  EXPECT_TRUE(client) << errstr;
  return client;
}

// The real broker: records of an aborted transaction stay invisible to read_committed readers.
TEST(KafkaAbortTest, AbortedTransactionIsInvisibleToReadCommittedReaders) {
  const char* brokers = std::getenv("KAFKA_BROKERS");
  ASSERT_TRUE(brokers != nullptr && *brokers != '\0')
      << "KAFKA_BROKERS is not set: run scripts/test, which starts a real broker";
  const auto now = std::chrono::system_clock::now().time_since_epoch().count();
  const std::string topic = "axion-abort-" + std::to_string(::getpid()) + "-" + std::to_string(now);
  {  // A topic whose broker-side record limit (2048 bytes) is below our own.
    RawClient admin = raw_client(RD_KAFKA_PRODUCER, {{"bootstrap.servers", brokers}});
    ASSERT_TRUE(admin);
    char errstr[512];
    std::unique_ptr<rd_kafka_NewTopic_t, decltype(&rd_kafka_NewTopic_destroy)> new_topic(
        rd_kafka_NewTopic_new(topic.c_str(), 2, 1, errstr, sizeof errstr),
        rd_kafka_NewTopic_destroy);
    ASSERT_TRUE(new_topic) << errstr;
    rd_kafka_NewTopic_set_config(new_topic.get(), "max.message.bytes", "2048");
    std::unique_ptr<rd_kafka_queue_t, decltype(&rd_kafka_queue_destroy)> queue(
        rd_kafka_queue_new(admin.get()), rd_kafka_queue_destroy);
    rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
    rd_kafka_CreateTopics(admin.get(), topics, 1, nullptr, queue.get());
    std::unique_ptr<rd_kafka_event_t, decltype(&rd_kafka_event_destroy)> event(
        rd_kafka_queue_poll(queue.get(), 15000), rd_kafka_event_destroy);
    ASSERT_TRUE(event);
    size_t n = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event.get()), &n);
    ASSERT_EQ(n, 1u);
    ASSERT_EQ(rd_kafka_topic_result_error(results[0]), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  infra::kafka::KafkaConfig config;
  config.brokers = brokers;
  config.timeout = 15s;
  config.limits.max_record_bytes = 100000;
  auto log = infra::kafka::open_kafka_event_log(config);
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  // partition_count waits for nothing: poll until the new topic's metadata is visible.
  ASSERT_TRUE(wait_until([&] { return (*log)->partition_count(topic).ok(); }, 15s));
  auto producer = (*log)->open_producer("axion-abort-tx-" + topic);
  ASSERT_TRUE(producer.ok()) << producer.status().to_string();

  // Partition 0's records are sent; partition 1's is refused by the broker; the transaction
  // aborts. Whether partition 0's records reached the broker before the abort is a race (the
  // producer purges what it has not sent yet), so the append is repeated until they did.
  const TopicPartition p0{topic, 0};
  RawClient raw = raw_client(RD_KAFKA_CONSUMER, {{"bootstrap.servers", brokers},
                                                 {"group.id", "axion-abort-uncommitted"},
                                                 {"isolation.level", "read_uncommitted"}});
  ASSERT_TRUE(raw);
  auto p0_end = [&] {  // read_uncommitted: aborted records and markers count
    std::int64_t low = -1;
    std::int64_t high = -1;
    EXPECT_EQ(rd_kafka_query_watermark_offsets(raw.get(), topic.c_str(), 0, &low, &high, 15000),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    return high;
  };
  bool landed = false;
  for (int attempt = 0; attempt < 20 && !landed; ++attempt) {
    const std::int64_t before = p0_end();
    auto failed = (*producer)->append({Record{topic, "k", "aborted-1", {}, 0},
                                       Record{topic, "k", "aborted-2", {}, 0},
                                       Record{topic, "k", std::string(10000, 'x'), {}, 1}});
    ASSERT_EQ(failed.status().code(), StatusCode::kInvalidArgument)
        << failed.status().to_string();
    // Both records land or neither (one batch). An abort marker is written by the coordinator
    // after the abort is answered, so this attempt's may not count yet and the previous one's may
    // count now: without the records the partition grows by at most 2 — and by at most 1 on the
    // first attempt.
    const std::int64_t grew = p0_end() - before;
    landed = grew >= (attempt == 0 ? 2 : 3);
  }
  ASSERT_TRUE(landed) << "in 20 attempts the aborted records never reached the broker";
  auto end = (*log)->end_offset(p0);
  ASSERT_TRUE(end.ok()) << end.status().to_string();
  EXPECT_EQ(*end, 0) << "no committed record yet";
  auto seen = (*log)->read(p0, 0, 100, 500ms);
  ASSERT_TRUE(seen.ok()) << seen.status().to_string();
  EXPECT_TRUE(seen->empty()) << "aborted records are visible";

  auto committed = (*producer)->append({Record{topic, "k", "committed", {}, 0}});
  ASSERT_TRUE(committed.ok()) << committed.status().to_string();
  auto consumer = (*log)->subscribe("axion-abort-g-" + topic, {topic});
  ASSERT_TRUE(consumer.ok()) << consumer.status().to_string();
  std::vector<std::string> values;
  auto poll_some = [&] {
    auto batch = (*consumer)->poll(100ms);
    EXPECT_TRUE(batch.ok()) << batch.status().to_string();
    for (const auto& r : batch.ok() ? *batch : std::vector<events::StoredRecord>{}) {
      values.push_back(r.value);
    }
    return !values.empty();
  };
  ASSERT_TRUE(wait_until(poll_some, 15s));
  EXPECT_EQ(values, std::vector<std::string>{"committed"});
  auto read_back = (*log)->read(p0, 0, 100, 2s);
  ASSERT_TRUE(read_back.ok() && read_back->size() == 1u);
  EXPECT_EQ(read_back->front().value, "committed");
  EXPECT_EQ(read_back->front().offset, (*committed)[0].offset);
  // The end is after the last committed record (not after its commit marker).
  EXPECT_EQ(*(*log)->end_offset(p0), (*committed)[0].offset + 1);
}

}  // namespace
}  // namespace axion
