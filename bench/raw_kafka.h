// The raw librdkafka baseline the benchmarks compare Axion's Kafka paths against: the best a
// hand-written client does for durable appends — one transactional producer (acks=all,
// idempotent) whose loop thread (bench/group_loop.h) begins a transaction, produces everything
// queued since the last one, flushes, commits, and then reports to each waiting caller. Used by
// log_append_bench (blocking writers) and commands_bench's raw gRPC + Kafka server (callbacks from
// gRPC handlers).
#pragma once

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>

#include <deque>
#include <future>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "bench/group_loop.h"
#include "common/status.h"
#include "events/event_log.h"

namespace axion::bench {

// Creates `topic` with `partitions` partitions (replication factor 1) through `rk`'s admin API.
inline Status create_topic(rd_kafka_t* rk, const std::string& topic, int partitions) {
  char errstr[512];
  rd_kafka_NewTopic_t* nt =
      rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, errstr, sizeof errstr);
  if (!nt) return invalid_argument(errstr);
  rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
  rd_kafka_AdminOptions_t* ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
  (void)rd_kafka_AdminOptions_set_operation_timeout(ao, 10000, errstr, sizeof errstr);
  rd_kafka_CreateTopics(rk, &nt, 1, ao, q);
  rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 20000);
  Status result;
  if (!ev) {
    result = unavailable("creating topic " + topic + " timed out");
  } else if (rd_kafka_event_error(ev)) {
    result = unavailable(std::string("creating topic: ") + rd_kafka_event_error_string(ev));
  } else {
    size_t n = 0;
    const rd_kafka_topic_result_t** res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    if (n == 1 && rd_kafka_topic_result_error(res[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      result =
          unavailable(std::string("creating topic: ") + rd_kafka_topic_result_error_string(res[0]));
    }
  }
  if (ev) rd_kafka_event_destroy(ev);
  rd_kafka_AdminOptions_destroy(ao);
  rd_kafka_queue_destroy(q);
  rd_kafka_NewTopic_destroy(nt);
  return result;
}

class RawTxnProducer {
 public:
  static Result<std::unique_ptr<RawTxnProducer>> open(const std::string& brokers,
                                                      const std::string& txid) {
    std::string err;
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    const std::pair<const char*, std::string> props[] = {
        {"bootstrap.servers", brokers}, {"transactional.id", txid},        {"acks", "all"},
        {"enable.idempotence", "true"}, {"partitioner", "murmur2_random"}, {"linger.ms", "0"},
        {"client.id", "raw-bench"},
    };
    for (const auto& [k, v] : props) {
      if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) return invalid_argument(err);
    }
    // Delivery reports: how a client learns each record's fate, and what wakes flush() as soon
    // as the last one is in (without a report callback flush() polls in 10 ms steps).
    auto reports = std::make_unique<Reports>();
    if (conf->set("dr_cb", reports.get(), err) != RdKafka::Conf::CONF_OK)
      return invalid_argument(err);
    std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
    if (!p) return unavailable("raw producer: " + err);
    std::unique_ptr<RawTxnProducer> self(new RawTxnProducer(std::move(p), std::move(reports)));
    return self;
  }

  // Creates `topic` and starts the loop thread.
  Status init(const std::string& topic, int partitions) {
    AXION_RETURN_IF_ERROR(create_topic(producer_->c_ptr(), topic, partitions));
    if (RdKafka::Error* e = producer_->init_transactions(30000)) {
      Status st = unavailable("init_transactions: " + e->str());
      delete e;
      return st;
    }
    loop_.start();
    return ok_status();
  }

  // Queues one record for the next transaction; `done` is called on the loop thread when that
  // transaction ended (at once, with "stopping", when the producer is being destroyed).
  void append_async(std::string topic, std::string key, std::string value,
                    std::vector<events::Header> headers, GroupDone done) {
    loop_.push(Pending{std::move(topic), std::move(key), std::move(value), std::move(headers),
                       std::move(done)});
  }

  // Durably appends one record (committed transaction); "" on success, else the error.
  std::string append(const std::string& topic, const std::string& key, const std::string& value,
                     const std::vector<events::Header>& headers) {
    std::promise<std::string> result;
    auto future = result.get_future();
    append_async(topic, key, value, headers,
                 [&result](const std::string& error) { result.set_value(error); });
    return future.get();
  }

 private:
  struct Pending {
    std::string topic, key, value;
    std::vector<events::Header> headers;
    GroupDone done;
  };

  // Counts failed deliveries; called from flush()/poll() on the loop thread.
  struct Reports final : RdKafka::DeliveryReportCb {
    void dr_cb(RdKafka::Message& message) override {
      if (message.err() != RdKafka::ERR_NO_ERROR && first_error.empty()) {
        first_error = message.errstr();
      }
    }
    std::string first_error;
  };

  RawTxnProducer(std::unique_ptr<RdKafka::Producer> p, std::unique_ptr<Reports> reports)
      : reports_(std::move(reports)), producer_(std::move(p)) {}

  std::string commit(const std::deque<Pending>& batch) {
    if (RdKafka::Error* e = producer_->begin_transaction()) {
      std::string s = "begin_transaction: " + e->str();
      delete e;
      return s;
    }
    for (const Pending& p : batch) {
      for (;;) {
        RdKafka::Headers* hs = RdKafka::Headers::create();
        for (const auto& h : p.headers) hs->add(h.key, h.value);
        RdKafka::ErrorCode ec =
            producer_->produce(p.topic, RdKafka::Topic::PARTITION_UA,
                               RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(p.value.data()),
                               p.value.size(), p.key.data(), p.key.size(), 0, hs, nullptr);
        if (ec == RdKafka::ERR_NO_ERROR) break;
        delete hs;  // not taken over on failure
        if (ec != RdKafka::ERR__QUEUE_FULL) return abort("produce: " + RdKafka::err2str(ec));
        producer_->poll(1);
      }
    }
    reports_->first_error.clear();
    producer_->flush(30000);
    if (!reports_->first_error.empty()) return abort("delivery: " + reports_->first_error);
    if (RdKafka::Error* e = producer_->commit_transaction(30000)) {
      std::string s = "commit_transaction: " + e->str();
      const bool needs_abort = e->txn_requires_abort();
      delete e;
      return needs_abort ? abort(s) : s;
    }
    return {};
  }

  std::string abort(std::string why) {
    if (RdKafka::Error* e = producer_->abort_transaction(30000)) {
      why += "; abort_transaction: " + e->str();
      delete e;
    }
    return why;
  }

  std::unique_ptr<Reports> reports_;  // outlives producer_, which calls it
  std::unique_ptr<RdKafka::Producer> producer_;
  // Last: destroyed first, so the loop ends (after what is queued) while the producer lives.
  GroupLoop<Pending> loop_{[this](const std::deque<Pending>& round) { return commit(round); }};
};

}  // namespace axion::bench
