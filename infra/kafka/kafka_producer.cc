// KafkaProducer lifecycle and group commit (impl/kafka_producer_impl.h): opening with
// init_transactions, validating and partitioning appends on the caller's thread, and the
// committer thread that batches pending appends into transactions (kafka_transaction.cc).
#include <algorithm>

#include "events/log_limits.h"
#include "events/partitioner.h"
#include "infra/kafka/impl/kafka_consumer.h"
#include "infra/kafka/impl/kafka_producer.h"
#include "infra/kafka/impl/kafka_producer_impl.h"

namespace axion::infra::kafka::impl {
namespace {

// How often an idle committer serves the handle's events (errors, logs).
constexpr auto kIdlePoll = std::chrono::milliseconds(500);

}  // namespace

void DeliveryReports::dr_cb(RdKafka::Message& message) {
  const auto id =
      static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(message.msg_opaque()));
  auto it = live_.find(id);
  if (it == live_.end()) return;  // from an aborted transaction: nobody waits for it
  Delivery& d = *it->second;
  d.reported = true;
  d.err = static_cast<rd_kafka_resp_err_t>(message.err());
  d.partition = message.partition();
  d.offset = message.offset();
}

std::uint64_t DeliveryReports::track(Delivery* delivery) {
  const std::uint64_t id = next_id_++;
  live_.emplace(id, delivery);
  return id;
}

Result<std::unique_ptr<events::Producer>> open_kafka_producer(std::shared_ptr<KafkaContext> ctx,
                                                              const std::string& transactional_id) {
  AXION_RETURN_IF_ERROR(events::validate_identifier("transactional id", transactional_id));
  auto producer = std::make_unique<KafkaProducer>(std::move(ctx), transactional_id);
  AXION_RETURN_IF_ERROR(producer->start());
  return std::unique_ptr<events::Producer>(std::move(producer));
}

KafkaProducer::KafkaProducer(std::shared_ptr<KafkaContext> ctx, std::string transactional_id)
    : ctx_(std::move(ctx)), txid_(std::move(transactional_id)) {}

Status KafkaProducer::start() {
  // Kafka's range (1 s .. the broker's transaction.max.timeout.ms, 15 min by default).
  const auto txn_timeout = std::clamp<std::int64_t>(ctx_->config().timeout.count(), 1000, 900000);
  auto conf = ctx_->make_conf({{"transactional.id", txid_},
                               {"enable.idempotence", "true"},
                               {"acks", "all"},
                               {"transaction.timeout.ms", std::to_string(txn_timeout)},
                               {"linger.ms", "1"}});
  if (!conf.ok()) return conf.status();
  std::string errstr;
  if ((*conf)->set("dr_cb", &reports_, errstr) != RdKafka::Conf::CONF_OK) {
    return internal_error("cannot install the delivery report callback: " + errstr);
  }
  producer_.reset(RdKafka::Producer::create(conf->get(), errstr));
  if (!producer_) {
    return invalid_argument("cannot create Kafka producer '" + txid_ + "': " + errstr);
  }
  // Fences any older instance with this id and aborts its unfinished transaction.
  ErrorPtr error(rd_kafka_init_transactions(rk(), ctx_->timeout_ms()));
  if (error) {
    Status s = status_from_kafka_error(
        error.get(), "initialising transactions of producer '" + txid_ + "' on Kafka brokers '" +
                         ctx_->config().brokers + "'");
    return Status(s.code(), s.message() + ctx_->client_problem_suffix(), s.retryable());
  }
  committer_ = std::thread([this] { committer_loop(); });
  return ok_status();
}

KafkaProducer::~KafkaProducer() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (committer_.joinable()) committer_.join();  // finishes the transaction in flight, if any
  std::unique_lock lock(mu_);
  for (AppendRequest* request : pending_) {
    request->status = unavailable("producer '" + txid_ + "' closed");
    request->done = true;
  }
  pending_.clear();
  done_cv_.notify_all();
  done_cv_.wait(lock, [&] { return active_appends_ == 0; });
  // producer_ is destroyed next; a transaction left open is aborted by the coordinator.
}

bool KafkaProducer::stopping() {
  std::lock_guard lock(mu_);
  return stopping_;
}

Result<std::vector<events::LogPosition>> KafkaProducer::append(
    std::vector<events::Record> records, const events::OffsetCommit* offsets,
    const Trailer& trailer) {
  {
    std::lock_guard lock(mu_);
    if (fatal_) return *fatal_;
    if (stopping_) return unavailable("producer '" + txid_ + "' closed");
  }
  AXION_RETURN_IF_ERROR(events::validate_append(records, ctx_->config().limits));
  AppendRequest request;
  request.records = std::move(records);
  request.own_records = request.records.size();
  if (trailer) request.trailer = &trailer;
  AXION_RETURN_IF_ERROR(prepare(request, offsets));
  if (request.records.empty() && !request.offsets && !request.trailer) {
    return std::vector<events::LogPosition>{};
  }

  std::unique_lock lock(mu_);
  if (fatal_) return *fatal_;
  if (stopping_) return unavailable("producer '" + txid_ + "' closed");
  ++active_appends_;
  pending_.push_back(&request);
  work_cv_.notify_one();
  done_cv_.wait(lock, [&] { return request.done; });
  --active_appends_;
  done_cv_.notify_all();
  if (!request.status.ok()) return request.status;
  return std::move(request.positions);
}

Status KafkaProducer::warm_up(const std::string& topic) {
  std::lock_guard lock(topics_mu_);
  if (topics_.count(topic)) return ok_status();
  std::string errstr;
  std::unique_ptr<RdKafka::Topic> handle(
      RdKafka::Topic::create(producer_.get(), topic, nullptr, errstr));
  if (!handle) return invalid_argument("topic '" + topic + "': " + errstr);
  const rd_kafka_metadata_t* raw = nullptr;
  const rd_kafka_resp_err_t err =
      rd_kafka_metadata(rk(), 0, handle->c_ptr(), &raw, ctx_->timeout_ms());
  MetadataPtr metadata(raw);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return status_from_kafka(err, "producer '" + txid_ + "' metadata for topic '" + topic + "'");
  }
  topics_.emplace(topic, std::move(handle));
  return ok_status();
}

Status KafkaProducer::resolve(const std::vector<events::Record>& records,
                              std::vector<std::int32_t>& partitions) {
  partitions.reserve(partitions.size() + records.size());
  for (std::size_t i = 0; i < records.size(); ++i) {
    const events::Record& record = records[i];
    for (const events::Header& header : record.headers) {
      // librdkafka passes header names as C strings: a NUL would silently cut the name.
      if (header.key.find('\0') != std::string::npos) {
        return invalid_argument("record " + std::to_string(i) +
                                " has a header name with a NUL byte; Kafka header names are "
                                "strings");
      }
    }
    auto count = ctx_->partition_count(record.topic);
    if (!count.ok()) return count.status();
    AXION_RETURN_IF_ERROR(warm_up(record.topic));
    if (record.partition) {
      if (*record.partition >= *count) {  // worded as the embedded log words it
        return invalid_argument("partition " + std::to_string(*record.partition) +
                                " is out of range: topic '" + record.topic + "' has " +
                                std::to_string(*count) + " partitions");
      }
      partitions.push_back(*record.partition);
    } else {
      partitions.push_back(events::partition_for_key(record.key, *count));
    }
  }
  return ok_status();
}

Status KafkaProducer::prepare(AppendRequest& request, const events::OffsetCommit* offsets) {
  AXION_RETURN_IF_ERROR(resolve(request.records, request.partitions));
  if (offsets == nullptr) return ok_status();
  AXION_RETURN_IF_ERROR(events::validate_identifier("consumer group", offsets->group));
  for (const events::PartitionOffset& po : offsets->offsets) {
    if (po.next_offset < 0) {
      return invalid_argument("offset " + std::to_string(po.next_offset) + " for " +
                              po.tp.to_string() + " is negative");
    }
  }
  for (const events::PartitionOffset& po : offsets->offsets) {
    AXION_RETURN_IF_ERROR(ctx_->check_partition(po.tp));
  }
  if (offsets->offsets.empty()) return ok_status();
  GroupOffsets group{offsets->group, offsets->offsets, offsets->consumer, nullptr};
  if (const auto* member = dynamic_cast<const KafkaConsumer*>(offsets->consumer)) {
    if (member->group() != offsets->group) {
      return invalid_argument("offsets for group '" + offsets->group +
                              "' come from a consumer of group '" + member->group() + "'");
    }
    group.metadata = member->group_metadata();
    if (!group.metadata) {
      return aborted("the consumer of group '" + offsets->group +
                     "' is closed, so its offsets can no longer be committed; re-poll");
    }
  } else {
    group.metadata.reset(rd_kafka_consumer_group_metadata_new(offsets->group.c_str()));
  }
  request.offsets = std::move(group);
  return ok_status();
}

std::vector<AppendRequest*> KafkaProducer::take_batch() {
  std::vector<AppendRequest*> batch;
  std::map<std::string, const events::Consumer*> members;
  std::size_t records = 0;
  const std::size_t cap = ctx_->config().limits.max_records_per_append;
  for (auto it = pending_.begin(); it != pending_.end();) {
    AppendRequest* request = *it;
    // own_records: a request run again still holds its last trailer, rebuilt when it runs.
    if (!batch.empty() && records + request->own_records > cap) break;
    if (request->offsets) {
      auto [known, inserted] = members.emplace(request->offsets->group, request->offsets->member);
      if (!inserted && known->second != request->offsets->member) {
        ++it;  // same group, another member: its generation is checked in a later transaction
        continue;
      }
    }
    records += request->own_records;
    batch.push_back(request);
    it = pending_.erase(it);
  }
  return batch;
}

void KafkaProducer::committer_loop() {
  const auto linger = ctx_->config().batch_linger;
  // While appends come concurrently (the last transaction carried more than one), a transaction
  // lingers to gather more: fewer, larger transactions, and time for the coordinator to finish
  // the previous one (begun right after a commit, AddPartitionsToTxn is often answered
  // CONCURRENT_TRANSACTIONS and librdkafka retries only after 20 ms). A lone append — one
  // caller at a time — starts at once unless the previous transaction ended less than `linger`
  // ago.
  auto last_end = std::chrono::steady_clock::now() - linger;
  std::size_t last_batch = 0;
  std::unique_lock lock(mu_);
  for (;;) {
    work_cv_.wait_for(lock, kIdlePoll, [&] { return stopping_ || !pending_.empty(); });
    if (stopping_) return;
    if (pending_.empty()) {
      lock.unlock();
      producer_->poll(0);
      lock.lock();
      continue;
    }
    if (linger.count() > 0) {
      const auto until = last_batch > 1 || pending_.size() > 1
                             ? std::chrono::steady_clock::now() + linger
                             : last_end + linger;
      work_cv_.wait_until(lock, until, [&] { return stopping_; });  // gather more appends
      if (stopping_) return;
    }
    std::vector<AppendRequest*> batch = take_batch();
    last_batch = batch.size();
    lock.unlock();
    const std::vector<AppendRequest*> again = run_transaction(batch);
    last_end = std::chrono::steady_clock::now();
    lock.lock();
    for (AppendRequest* request : batch) {
      if (std::find(again.begin(), again.end(), request) == again.end()) request->done = true;
    }
    pending_.insert(pending_.begin(), again.begin(), again.end());
    done_cv_.notify_all();
  }
}

}  // namespace axion::infra::kafka::impl
