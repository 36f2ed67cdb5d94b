// CommandProcessor::process: decides one polled batch of commands and appends its events, its
// results (a trailer carrying the events' positions) and its offsets in one atomic append.
#include <algorithm>
#include <chrono>
#include <set>

#include "commands/command_processor.h"
#include "events/envelope.h"
#include "events/log_limits.h"

namespace axion::commands {

namespace {

std::string type_name(const google::protobuf::Any& any) {
  const std::string& url = any.type_url();
  const auto slash = url.rfind('/');
  return slash == std::string::npos ? url : url.substr(slash + 1);
}

void set_status(axion::v1::CommandResult& result, const Status& status) {
  result.set_status_code(static_cast<int>(status.code()));
  result.set_message(status.message());
  result.set_field(status.field());
  result.set_retryable(status.retryable());
}

// One command of the batch, and where its events sit in the batch's records.
struct Answer {
  std::int32_t partition = 0;
  std::string reply_to;
  axion::v1::CommandResult result;
  std::size_t first_event = 0;
  std::size_t event_count = 0;
  bool remember = false;  // a new answer under an idempotency key
  // The gateway's receipt (the envelope's issued_at); 0 = the envelope has none.
  std::int64_t issued_at_ms = 0;
};

}  // namespace

Status CommandProcessor::process(std::vector<events::StoredRecord> batch) {
  std::vector<events::Record> records;
  std::vector<Answer> answers;
  std::map<events::TopicPartition, std::pair<std::int64_t, std::int64_t>> consumed;  // first, next
  std::map<std::tuple<std::int32_t, std::string, std::string>, std::size_t> keys_in_batch;
  std::set<std::int32_t> touched;
  std::vector<std::uint64_t> hashes;  // of `records`' values, then the trailer's (marks)
  ProcessorStats counted;

  for (const auto& r : batch) {
    auto [it, fresh] = consumed.try_emplace(r.tp, r.offset, r.offset + 1);
    if (!fresh) it->second.second = r.offset + 1;
    axion::v1::CommandEnvelope cmd;
    if (!cmd.ParseFromString(r.value)) {
      ++counted.malformed;  // nobody to answer: skip it (its offset is still consumed)
      continue;
    }
    const std::int32_t p = r.tp.partition;
    PartitionState& ps = partitions_[p];
    Answer answer;
    answer.partition = p;
    answer.reply_to = cmd.reply_to();
    answer.result.set_command_id(cmd.command_id());
    answer.result.set_idempotency_key(cmd.idempotency_key());
    answer.result.set_aggregate_id(cmd.aggregate_id());
    answer.result.set_correlation_id(cmd.correlation_id().empty() ? cmd.command_id()
                                                                  : cmd.correlation_id());
    const std::int64_t now = options_.clock();
    answer.result.set_decided_at_ms(now);
    if (cmd.has_issued_at()) {
      answer.issued_at_ms = cmd.issued_at().seconds() * 1000 + cmd.issued_at().nanos() / 1000000;
    }
    ++counted.commands;

    // A retry under a known idempotency key gets the first answer again and appends nothing.
    const auto key = std::make_tuple(p, cmd.aggregate_id(), cmd.idempotency_key());
    // A refusal that may succeed later (an expired deadline, ...) is answered but not
    // remembered: a retry with the same key must be decided again, not refused for the TTL.
    auto refuse = [&](const Status& status) {
      set_status(answer.result, status);
      if (status.retryable() && answer.remember) {
        answer.remember = false;
        keys_in_batch.erase(key);
      }
      answers.push_back(std::move(answer));
    };
    if (!cmd.idempotency_key().empty()) {
      auto answer_as_first = [&](const axion::v1::CommandResult& first) {
        answer.result = first;
        answer.result.set_first_command_id(first.first_command_id().empty()
                                               ? first.command_id()
                                               : first.first_command_id());
        answer.result.set_command_id(cmd.command_id());  // routes the answer to this caller
        ++counted.duplicates;
      };
      if (auto in_batch = keys_in_batch.find(key); in_batch != keys_in_batch.end()) {
        answer_as_first(answers[in_batch->second].result);
        answer.first_event = answers[in_batch->second].first_event;
        answer.event_count = answers[in_batch->second].event_count;
        answers.push_back(std::move(answer));
        continue;
      }
      if (auto known = ps.results.find({cmd.aggregate_id(), cmd.idempotency_key()});
          known != ps.results.end() && !expired(known->second, now)) {
        answer_as_first(known->second);
        answers.push_back(std::move(answer));
        continue;
      }
      answer.remember = true;
      keys_in_batch[key] = answers.size();
    }

    const AggregateKind* kind = kind_for(cmd.type());
    Status refusal;
    if (cmd.has_deadline() &&
        cmd.deadline().seconds() * 1000 + cmd.deadline().nanos() / 1000000 < now) {
      refusal = deadline_exceeded("the command expired before it could be processed");
    } else if (cmd.aggregate_id().empty()) {
      refusal = invalid_field("aggregate_id", "the command names no aggregate");
    } else if (type_name(cmd.payload()) != cmd.type()) {
      refusal = invalid_field("payload", "the payload is a '" + type_name(cmd.payload()) +
                                             "', not the declared '" + cmd.type() + "'");
    } else if (!kind) {
      refusal = Status(StatusCode::kUnimplemented, "unknown command type '" + cmd.type() + "'");
    }
    if (!refusal.ok()) {
      refuse(refusal);
      continue;
    }

    Aggregate& agg = ps.aggregates[cmd.aggregate_id()];
    if (!agg.state) {
      agg.kind = kind;
      agg.state = kind->empty_state();
    }
    if (agg.kind != kind) {
      refusal = failed_precondition("'" + cmd.aggregate_id() + "' is a " +
                                    std::string(agg.kind->name()) + ", not a " +
                                    std::string(kind->name()));
    } else if (cmd.expected_version() != 0 && cmd.expected_version() != agg.version) {
      refusal = aborted("expected version " + std::to_string(cmd.expected_version()) + " of '" +
                            cmd.aggregate_id() + "' but it is at version " +
                            std::to_string(agg.version) + ": reload it and retry",
                        false);
    }
    Result<Decision> decision =
        refusal.ok() ? agg.state->decide(cmd.payload(), {cmd.command_id(), cmd.actor(), now,
                                                         options_.limits})
                     : Result<Decision>(refusal);
    if (!decision.ok()) {
      if (agg.version == 0) ps.aggregates.erase(cmd.aggregate_id());  // never existed
      refuse(decision.status());
      continue;
    }
    // Build every event first: an event the log could not take refuses the command alone.
    std::vector<events::Record> built;
    for (std::size_t i = 0; i < decision->events.size(); ++i) {
      const google::protobuf::Any& payload = decision->events[i];
      const axion::v1::EventEnvelope envelope = events::make_envelope(
          payload, {derive_id("evt", cmd.command_id(), std::to_string(i)),
                    std::string(kind->name()), cmd.aggregate_id(), cmd.partition_key(),
                    agg.version + i + 1, now, cmd.actor(), answer.result.correlation_id(),
                    cmd.command_id(), 1});
      events::Record record = events::to_record(std::string(kind->events_topic()), envelope);
      record.partition = p;  // aligned with the command's partition
      if (events::record_size(record) > options_.max_event_bytes) {
        refusal = resource_exhausted("the command would record a " +
                                     std::to_string(events::record_size(record)) +
                                     "-byte event; the limit is " +
                                     std::to_string(options_.max_event_bytes) + " bytes");
        break;
      }
      built.push_back(std::move(record));
    }
    if (!refusal.ok()) {
      if (agg.version == 0) ps.aggregates.erase(cmd.aggregate_id());
      refuse(refusal);
      continue;
    }
    touched.insert(p);
    ps.dirty.insert(cmd.aggregate_id());
    answer.first_event = records.size();
    for (std::size_t i = 0; i < built.size(); ++i) {
      agg.state->evolve(decision->events[i]);
      hashes.push_back(value_hash(built[i].value));
      records.push_back(std::move(built[i]));
    }
    agg.version += built.size();
    answer.event_count = decision->events.size();
    answer.result.set_aggregate_version(agg.version);
    for (const auto& [name, id] : decision->ids) (*answer.result.mutable_created_ids())[name] = id;
    ++counted.accepted;
    answers.push_back(std::move(answer));
  }

  // Results name their events' positions; they are built once the events are placed.
  std::vector<axion::v1::CommandResult> final_results(answers.size());
  const std::size_t event_records = records.size();
  auto trailer = [&](const std::vector<events::LogPosition>& positions) {
    hashes.resize(event_records);  // a redone placement rebuilds the trailer
    std::vector<events::Record> out;
    for (std::size_t i = 0; i < answers.size(); ++i) {
      axion::v1::CommandResult result = answers[i].result;
      if (answers[i].event_count > 0 && result.positions_size() == 0) {
        for (std::size_t e = 0; e < answers[i].event_count; ++e) {
          const auto& pos = positions[answers[i].first_event + e];
          auto* lp = result.add_positions();
          lp->set_topic(pos.tp.topic);
          lp->set_partition(pos.tp.partition);
          lp->set_offset(pos.offset);
        }
      }
      final_results[i] = result;
      out.push_back({options_.results_topic, answers[i].reply_to, result.SerializeAsString(), {},
                     answers[i].partition});
      hashes.push_back(value_hash(out.back().value));
    }
    return out;
  };
  events::OffsetCommit offsets{options_.group, {}, consumer_.get()};
  for (const auto& [tp, range] : consumed) offsets.offsets.push_back({tp, range.second});
  const auto append_started = std::chrono::steady_clock::now();
  auto appended = producer_->append(std::move(records), &offsets, trailer);
  if (options_.append_seconds) {
    options_.append_seconds->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - append_started).count());
  }

  if (!appended.ok()) {
    // Undo what this batch decided: refold the touched partitions, re-read the batch. A
    // partition that cannot be refolded now is dropped (never kept with undone decisions) and
    // loaded again before the next batch.
    for (std::int32_t p : touched) {
      if (Status s = rebuild(p); !s.ok()) {
        for (std::int32_t q : touched) {
          if (q >= p) partitions_.erase(q);
        }
        if (rebalance_error_.ok()) rebalance_error_ = s;
        break;
      }
    }
    for (const auto& [tp, range] : consumed) (void)consumer_->seek(tp, range.first);
    std::lock_guard lock(status_mu_);
    ++stats_.failed_appends;
    return appended.status();
  }
  if (options_.command_seconds) {
    const std::int64_t durable = options_.clock();
    for (const auto& answer : answers) {
      if (answer.issued_at_ms <= 0) continue;
      options_.command_seconds->observe(
          static_cast<double>(std::max<std::int64_t>(0, durable - answer.issued_at_ms)) / 1000.0);
    }
  }
  for (std::size_t i = 0; i < answers.size(); ++i) {
    if (!answers[i].remember) continue;
    const auto& r = final_results[i];
    PartitionState& ps = partitions_[answers[i].partition];
    ResultKey key{r.aggregate_id(), r.idempotency_key()};
    ps.new_results.insert(key);
    ps.results[std::move(key)] = r;
  }
  // Advance the snapshot marks past everything appended (events, then the trailer's results).
  for (std::size_t i = 0; i < appended->size() && i < hashes.size(); ++i) {
    const auto& pos = (*appended)[i];
    auto ps = partitions_.find(pos.tp.partition);
    if (ps == partitions_.end()) continue;
    note_record(ps->second, pos.tp.topic, pos.offset, hashes[i]);
    ++ps->second.since_checkpoint;
  }
  {
    std::lock_guard lock(status_mu_);
    stats_.commands += counted.commands;
    stats_.accepted += counted.accepted;
    stats_.duplicates += counted.duplicates;
    stats_.malformed += counted.malformed;
  }
  for (auto& [p, ps] : partitions_) {
    if (ps.since_checkpoint >= options_.snapshot_every) checkpoint(p);
  }
  return ok_status();
}

}  // namespace axion::commands
