// The KafkaProducer class (see impl/kafka_producer.h for what it does), shared by
// kafka_producer.cc (opening, the append queue, the committer thread) and
// kafka_transaction.cc (one Kafka transaction for a batch of queued appends).
#pragma once

#include <librdkafka/rdkafkacpp.h>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "events/event_log.h"
#include "infra/kafka/impl/kafka_context.h"
#include "infra/kafka/impl/kafka_errors.h"

namespace axion::infra::kafka::impl {

// The consumer-group offsets one append commits.
struct GroupOffsets {
  std::string group;
  std::vector<events::PartitionOffset> offsets;
  const events::Consumer* member = nullptr;  // appends of one group share a transaction only
                                             // when they come from the same member
  GroupMetadataPtr metadata;                 // generation-checked for our own consumers
};

// One append() call, queued for the committer thread; the caller waits for `done`.
struct AppendRequest {
  // The caller's records, then those its trailer built in the current transaction (dropped
  // and rebuilt when the transaction runs again).
  std::vector<events::Record> records;
  std::vector<std::int32_t> partitions;  // resolved partition of each record
  std::size_t own_records = 0;           // how many of `records` are the caller's
  const events::Producer::Trailer* trailer = nullptr;  // the caller's; null without one
  std::optional<GroupOffsets> offsets;
  bool done = false;
  Status status;
  std::vector<events::LogPosition> positions;
};

// The delivery report of one produced record.
struct Delivery {
  bool reported = false;
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  std::int32_t partition = -1;
  std::int64_t offset = -1;
};
// The delivery slots of a transaction, per request and record. A deque, so slots added for
// trailer records leave the addresses of the tracked ones intact.
using Deliveries = std::vector<std::deque<Delivery>>;

// Routes delivery reports to the Delivery slots of the current transaction by id; reports for
// ids no longer tracked (an earlier, aborted transaction) are ignored. Used only on the
// committer thread, where poll/flush/commit/abort run the callbacks.
class DeliveryReports final : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& message) override;
  std::uint64_t track(Delivery* delivery);
  void clear() { live_.clear(); }

 private:
  std::unordered_map<std::uint64_t, Delivery*> live_;
  std::uint64_t next_id_ = 1;
};

class KafkaProducer final : public events::Producer {
 public:
  KafkaProducer(std::shared_ptr<KafkaContext> ctx, std::string transactional_id);
  ~KafkaProducer() override;
  // Creates the handle, runs init_transactions and starts the committer thread.
  Status start();

  using events::Producer::append;  // the overload without a trailer
  Result<std::vector<events::LogPosition>> append(std::vector<events::Record> records,
                                                  const events::OffsetCommit* offsets,
                                                  const Trailer& trailer) override;
  const std::string& transactional_id() const override { return txid_; }

 private:
  // Validation and partitioning on the caller's thread.
  Status prepare(AppendRequest& request, const events::OffsetCommit* offsets);
  // The partition of each record (appended to `partitions`), checking topics, partitions and
  // header names; also used for trailer records on the committer thread.
  Status resolve(const std::vector<events::Record>& records, std::vector<std::int32_t>& partitions);
  // Loads a topic's metadata into the producer before its first record: otherwise librdkafka
  // learns about a new topic only at its next periodic topic scan (up to a second later).
  Status warm_up(const std::string& topic);
  void committer_loop();
  std::vector<AppendRequest*> take_batch();  // REQUIRES: mu_ held
  // One transaction for `batch`; sets each request's status/positions except those returned,
  // which must run again (refused only because another request's offsets were stale).
  std::vector<AppendRequest*> run_transaction(const std::vector<AppendRequest*>& batch);
  Status produce(const events::Record& record, std::int32_t partition, std::uint64_t id);
  // Produces request.records[first..], tracking each delivery in `deliveries`.
  Status produce_from(const AppendRequest& request, std::size_t first,
                      std::deque<Delivery>& deliveries);
  // Flushes the records produced so far, hands each trailer its records' positions and
  // produces the trailer's records in the same transaction. nullopt to go on; else the batch
  // is settled (the transaction aborted) and the result is the requests to run again.
  std::optional<std::vector<AppendRequest*>> add_trailers(const std::vector<AppendRequest*>& batch,
                                                          Deliveries& deliveries);
  // Aborts; each request with an error in `own` fails with it, the others (refused only for
  // sharing the transaction) are returned to run again.
  std::vector<AppendRequest*> refuse(const std::vector<AppendRequest*>& batch,
                                     const std::vector<std::optional<Status>>& own);
  Status send_offsets(const std::string& group,
                      const std::map<events::TopicPartition, std::int64_t>& offsets,
                      const rd_kafka_consumer_group_metadata_t* metadata,
                      rd_kafka_resp_err_t* code);
  Status abort_transaction();
  // Aborts, then fails each request with its own error or, without one, with `cause`.
  void abort_batch(const std::vector<AppendRequest*>& batch,
                   const std::vector<std::optional<Status>>& own, const Status& cause);
  // The failed delivery reports of the batch: each request's own worst error in `own`, and
  // the batch's root cause. Unreported records count as failed only after a flush (`flushed`).
  std::optional<Status> delivery_failures(const std::vector<AppendRequest*>& batch,
                                          const Deliveries& deliveries,
                                          std::optional<rd_kafka_resp_err_t> flushed,
                                          std::vector<std::optional<Status>>& own) const;
  Status failure(const rd_kafka_error_t* error, std::string_view what);
  std::optional<Status> fatal_status();  // the producer's final error, once it has one
  bool stopping();
  rd_kafka_t* rk() const { return producer_->c_ptr(); }

  std::shared_ptr<KafkaContext> ctx_;
  const std::string txid_;
  DeliveryReports reports_;                      // outlives producer_
  std::unique_ptr<RdKafka::Producer> producer_;
  bool needs_abort_ = false;                     // committer thread only
  std::mutex topics_mu_;
  std::map<std::string, std::unique_ptr<RdKafka::Topic>> topics_;  // warmed up; dies first

  std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable done_cv_;
  std::deque<AppendRequest*> pending_;
  std::optional<Status> fatal_;
  bool stopping_ = false;
  int active_appends_ = 0;
  std::thread committer_;
};

}  // namespace axion::infra::kafka::impl
