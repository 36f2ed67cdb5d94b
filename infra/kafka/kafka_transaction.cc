// One Kafka transaction for a batch of queued appends (KafkaProducer::run_transaction):
// begin, produce every record to its resolved partition, send each group's merged offsets,
// flush, check every delivery report, commit. Appends with a trailer add a step after the
// produce: flush, so the delivery reports give the records' offsets, build each trailer from
// them and produce its records, still inside the transaction. Any failure before the commit
// aborts the whole transaction, so nothing of a failed batch is ever visible to read_committed
// readers; a commit whose outcome is not yet known is retried (it is resumable) rather than
// reported.
#include <algorithm>
#include <exception>

#include "events/log_limits.h"
#include "infra/kafka/impl/kafka_producer_impl.h"

namespace axion::infra::kafka::impl {
namespace {

// Forgets the batch's delivery slots before they go out of scope.
struct Untrack {
  DeliveryReports& reports;
  ~Untrack() { reports.clear(); }
};

// The delivered positions of request.records[0, count).
std::vector<events::LogPosition> positions_of(const AppendRequest& request,
                                              const std::deque<Delivery>& deliveries,
                                              std::size_t count) {
  std::vector<events::LogPosition> positions;
  positions.reserve(count);
  for (std::size_t j = 0; j < count; ++j) {
    positions.push_back({{request.records[j].topic, deliveries[j].partition},
                         deliveries[j].offset});
  }
  return positions;
}

}  // namespace

std::optional<Status> KafkaProducer::fatal_status() {
  {
    std::lock_guard lock(mu_);
    if (fatal_) return fatal_;
  }
  char reason[512] = {0};
  const rd_kafka_resp_err_t code = rd_kafka_fatal_error(rk(), reason, sizeof reason);
  if (code == RD_KAFKA_RESP_ERR_NO_ERROR) return std::nullopt;
  std::lock_guard lock(mu_);
  fatal_ = fenced_status(txid_, code, reason);
  return fatal_;
}

Status KafkaProducer::failure(const rd_kafka_error_t* error, std::string_view what) {
  if (rd_kafka_error_is_fatal(error)) {
    if (auto fatal = fatal_status()) return *fatal;
    std::lock_guard lock(mu_);
    fatal_ = fenced_status(txid_, rd_kafka_error_code(error), rd_kafka_error_string(error));
    return *fatal_;
  }
  return status_from_kafka_error(error, "producer '" + txid_ + "' " + std::string(what));
}

Status KafkaProducer::abort_transaction() {
  ErrorPtr error(rd_kafka_abort_transaction(rk(), ctx_->timeout_ms()));
  producer_->poll(0);  // delivery reports of purged messages
  if (!error || rd_kafka_error_code(error.get()) == RD_KAFKA_RESP_ERR__STATE) {
    needs_abort_ = false;
    return ok_status();
  }
  if (rd_kafka_error_is_fatal(error.get())) return failure(error.get(), "aborting");
  needs_abort_ = true;  // tried again before the next transaction
  return unavailable("producer '" + txid_ + "' could not abort its transaction yet: " +
                     rd_kafka_error_string(error.get()) + ctx_->client_problem_suffix());
}

void KafkaProducer::abort_batch(const std::vector<AppendRequest*>& batch,
                                const std::vector<std::optional<Status>>& own,
                                const Status& cause) {
  const Status aborted_status = abort_transaction();
  if (auto fatal = fatal_status()) {
    for (AppendRequest* request : batch) request->status = *fatal;
    return;
  }
  (void)aborted_status;  // not committed either way; a failed abort is retried before the next
  const Status innocent =
      cause.retryable()
          ? cause
          : aborted("append aborted: another append in the same transaction failed (" +
                    cause.message() + "); retry");
  for (std::size_t i = 0; i < batch.size(); ++i) {
    batch[i]->status = (i < own.size() && own[i]) ? *own[i] : innocent;
  }
}

Status KafkaProducer::produce(const events::Record& record, std::int32_t partition,
                              std::uint64_t id) {
  std::unique_ptr<RdKafka::Headers> headers;
  if (!record.headers.empty()) {
    headers.reset(RdKafka::Headers::create());
    for (const events::Header& h : record.headers) {
      const RdKafka::ErrorCode err = headers->add(h.key, h.value.data(), h.value.size());
      if (err != RdKafka::ERR_NO_ERROR) {
        return status_from_kafka(static_cast<rd_kafka_resp_err_t>(err),
                                 "adding header '" + h.key + "'");
      }
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + ctx_->config().timeout;
  void* opaque = reinterpret_cast<void*>(static_cast<std::uintptr_t>(id));
  for (;;) {
    const RdKafka::ErrorCode err = producer_->produce(
        record.topic, partition, RdKafka::Producer::RK_MSG_COPY,
        const_cast<char*>(record.value.data()), record.value.size(), record.key.data(),
        record.key.size(), 0, headers.get(), opaque);
    if (err == RdKafka::ERR_NO_ERROR) {
      (void)headers.release();  // librdkafka owns (and frees) the headers now
      return ok_status();
    }
    if (err == RdKafka::ERR__QUEUE_FULL && remaining_ms(deadline) > 0) {
      producer_->poll(10);  // let deliveries drain the local queue
      continue;
    }
    return status_from_kafka(static_cast<rd_kafka_resp_err_t>(err),
                             "producing to " + record.topic + "/" + std::to_string(partition));
  }
}

Status KafkaProducer::produce_from(const AppendRequest& request, std::size_t first,
                                   std::deque<Delivery>& deliveries) {
  for (std::size_t j = first; j < request.records.size(); ++j) {
    const std::uint64_t id = reports_.track(&deliveries.emplace_back());
    AXION_RETURN_IF_ERROR(produce(request.records[j], request.partitions[j], id));
  }
  return ok_status();
}

std::vector<AppendRequest*> KafkaProducer::refuse(const std::vector<AppendRequest*>& batch,
                                                  const std::vector<std::optional<Status>>& own) {
  const Status aborted_status = abort_transaction();
  if (auto fatal = fatal_status()) {
    for (AppendRequest* request : batch) request->status = *fatal;
    return {};
  }
  std::vector<AppendRequest*> again;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (own[i]) {
      batch[i]->status = *own[i];
    } else if (aborted_status.ok()) {
      again.push_back(batch[i]);
    } else {
      batch[i]->status = aborted_status;
    }
  }
  return again;
}

std::optional<std::vector<AppendRequest*>> KafkaProducer::add_trailers(
    const std::vector<AppendRequest*>& batch, Deliveries& deliveries) {
  // Offsets are known only from delivery reports: every record must be acknowledged first.
  const rd_kafka_resp_err_t flushed = rd_kafka_flush(rk(), ctx_->timeout_ms());
  std::vector<std::optional<Status>> own(batch.size());
  if (auto cause = delivery_failures(batch, deliveries, flushed, own)) {
    abort_batch(batch, own, *cause);
    return std::vector<AppendRequest*>{};
  }
  bool refused = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    AppendRequest& request = *batch[i];
    if (!request.trailer) continue;
    auto trailer = events::build_trailer(*request.trailer,
                                 positions_of(request, deliveries[i], request.records.size()),
                                 ctx_->config().limits);
    std::vector<std::int32_t> partitions;
    Status s = trailer.ok() ? resolve(*trailer, partitions) : trailer.status();
    if (!s.ok()) {
      own[i] = std::move(s);  // a bad trailer is this append's own error, as a bad record is
      refused = true;
      continue;
    }
    std::move(trailer->begin(), trailer->end(), std::back_inserter(request.records));
    request.partitions.insert(request.partitions.end(), partitions.begin(), partitions.end());
  }
  if (refused) return refuse(batch, own);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!batch[i]->trailer) continue;
    if (Status s = produce_from(*batch[i], batch[i]->own_records, deliveries[i]); !s.ok()) {
      own[i] = s;
      abort_batch(batch, own, s);
      return std::vector<AppendRequest*>{};
    }
  }
  return std::nullopt;
}

Status KafkaProducer::send_offsets(const std::string& group,
                                   const std::map<events::TopicPartition, std::int64_t>& offsets,
                                   const rd_kafka_consumer_group_metadata_t* metadata,
                                   rd_kafka_resp_err_t* code) {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(static_cast<int>(offsets.size())));
  for (const auto& [tp, offset] : offsets) {
    rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition)->offset = offset;
  }
  ErrorPtr error(
      rd_kafka_send_offsets_to_transaction(rk(), list.get(), metadata, ctx_->timeout_ms()));
  if (!error) return ok_status();
  *code = rd_kafka_error_code(error.get());
  if (is_stale_generation(*code) && !rd_kafka_error_is_fatal(error.get())) {
    return aborted("offsets of group '" + group + "' were refused because the consumer's group " +
                   "generation is stale (a rebalance happened): " +
                   rd_kafka_error_string(error.get()) + "; re-poll and retry");
  }
  return failure(error.get(), "committing offsets of group '" + group + "'");
}

std::optional<Status> KafkaProducer::delivery_failures(
    const std::vector<AppendRequest*>& batch, const Deliveries& deliveries,
    std::optional<rd_kafka_resp_err_t> flushed, std::vector<std::optional<Status>>& own) const {
  std::vector<bool> own_purged(batch.size(), false);
  std::optional<Status> cause;
  bool cause_purged = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    for (std::size_t j = 0; j < deliveries[i].size(); ++j) {
      const Delivery& d = deliveries[i][j];
      if (d.reported ? d.err == RD_KAFKA_RESP_ERR_NO_ERROR : !flushed) continue;
      const std::string what = "record " + std::to_string(j) + " of an append to topic '" +
                               batch[i]->records[j].topic + "'";
      Status s = d.reported ? status_from_kafka(d.err, what)
                            : status_from_kafka(*flushed ? *flushed : RD_KAFKA_RESP_ERR__TIMED_OUT,
                                                what + " was not acknowledged");
      // Records purged because another one failed say less than the failure itself.
      const bool purged = d.err == RD_KAFKA_RESP_ERR__PURGE_QUEUE ||
                          d.err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT;
      if (!own[i] || (!purged && own_purged[i])) {
        own[i] = s;
        own_purged[i] = purged;
      }
      if (!cause || (!purged && cause_purged)) {
        cause = s;
        cause_purged = purged;
      }
    }
  }
  return cause;
}

std::vector<AppendRequest*> KafkaProducer::run_transaction(
    const std::vector<AppendRequest*>& batch) {
  // Fails every request; returns "nothing to run again".
  auto fail_all = [&](const Status& s) {
    for (AppendRequest* request : batch) request->status = s;
    return std::vector<AppendRequest*>{};
  };
  if (auto fatal = fatal_status()) return fail_all(*fatal);
  if (needs_abort_) {
    if (Status s = abort_transaction(); !s.ok()) return fail_all(s);
  }
  if (ErrorPtr error{rd_kafka_begin_transaction(rk())}) {
    return fail_all(failure(error.get(), "beginning a transaction"));
  }
  needs_abort_ = true;  // until committed or aborted

  Deliveries deliveries(batch.size());
  Untrack untrack{reports_};
  reports_.clear();
  bool trailers = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    AppendRequest& request = *batch[i];
    // A run again rebuilds the trailer from the new positions.
    request.records.erase(request.records.begin() + request.own_records, request.records.end());
    request.partitions.erase(request.partitions.begin() + request.own_records,
                             request.partitions.end());
    trailers = trailers || request.trailer;
    if (Status s = produce_from(request, 0, deliveries[i]); !s.ok()) {
      std::vector<std::optional<Status>> own(batch.size());
      own[i] = s;
      abort_batch(batch, own, s);
      return {};
    }
  }
  if (trailers) {
    if (auto settled = add_trailers(batch, deliveries)) return std::move(*settled);
  }

  struct Merged {
    std::map<events::TopicPartition, std::int64_t> offsets;
    const rd_kafka_consumer_group_metadata_t* metadata = nullptr;
  };
  std::map<std::string, Merged> groups;
  for (const AppendRequest* request : batch) {
    if (!request->offsets) continue;
    Merged& merged = groups[request->offsets->group];
    if (!merged.metadata) merged.metadata = request->offsets->metadata.get();
    for (const events::PartitionOffset& po : request->offsets->offsets) {
      auto [it, inserted] = merged.offsets.emplace(po.tp, po.next_offset);
      if (!inserted) it->second = std::max(it->second, po.next_offset);
    }
  }
  for (const auto& [group, merged] : groups) {
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
    const Status s = send_offsets(group, merged.offsets, merged.metadata, &code);
    if (s.ok()) continue;
    if (auto fatal = fatal_status()) return fail_all(*fatal);
    std::vector<std::optional<Status>> own(batch.size());
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (batch[i]->offsets && batch[i]->offsets->group == group) own[i] = s;
    }
    if (!is_stale_generation(code)) {
      // An abortable state usually comes from a failed delivery: report that if there is one.
      producer_->poll(0);
      std::vector<std::optional<Status>> delivered(batch.size());
      const auto cause = delivery_failures(batch, deliveries, std::nullopt, delivered);
      for (std::size_t i = 0; i < batch.size(); ++i) {
        if (delivered[i]) own[i] = delivered[i];
      }
      abort_batch(batch, own, cause ? *cause : s);
      return {};
    }
    // Only this group's appends are refused; the others run again in the next transaction.
    return refuse(batch, own);
  }

  const rd_kafka_resp_err_t flushed = rd_kafka_flush(rk(), ctx_->timeout_ms());
  std::vector<std::optional<Status>> own(batch.size());
  if (auto cause = delivery_failures(batch, deliveries, flushed, own)) {
    if (auto fatal = fatal_status()) return fail_all(*fatal);
    abort_batch(batch, own, *cause);
    return {};
  }

  for (;;) {
    ErrorPtr error(rd_kafka_commit_transaction(rk(), -1));
    if (!error) break;
    if (rd_kafka_error_is_fatal(error.get())) {
      return fail_all(failure(error.get(), "committing"));
    }
    if (rd_kafka_error_txn_requires_abort(error.get())) {
      abort_batch(batch, {}, status_from_kafka_error(error.get(), "committing a transaction"));
      return {};
    }
    if (rd_kafka_error_is_retriable(error.get()) && !stopping()) continue;  // outcome unknown
    Status s(StatusCode::kUnknown,
             "producer '" + txid_ + "' could not learn whether its transaction committed (" +
                 rd_kafka_error_string(error.get()) + "); check the log before retrying",
             false);
    return fail_all(s);
  }
  needs_abort_ = false;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    AppendRequest& request = *batch[i];
    request.positions = positions_of(request, deliveries[i], request.records.size());
    for (const events::LogPosition& position : request.positions) {
      ctx_->note_acknowledged(position);
    }
    request.status = ok_status();
  }
  return {};
}

}  // namespace axion::infra::kafka::impl
