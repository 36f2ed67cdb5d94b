#include "projections/projection_processor.h"

#include <google/protobuf/util/time_util.h>

#include "events/envelope.h"
#include "events/topics.h"
#include "projections/row_overlay.h"

namespace axion::projections {

namespace {

constexpr std::size_t kMaxLagSamples = 4096;
constexpr auto kStoreRecheck = std::chrono::milliseconds(50);

std::int64_t next_of(const Offsets& offsets, const events::TopicPartition& tp) {
  auto it = offsets.find(tp);
  return it == offsets.end() ? 0 : it->second;
}

}  // namespace

ProjectionProcessor::ProjectionProcessor(events::EventLog& log, ViewStore& store,
                                         ProjectionOptions options)
    : log_(log), store_(store), options_(std::move(options)) {
  if (options_.topics.empty()) {
    options_.topics = {std::string(events::kDeploymentEventsTopic),
                       std::string(events::kInfrastructureEventsTopic)};
  }
}

ProjectionProcessor::~ProjectionProcessor() { stop(); }

Status ProjectionProcessor::load_offsets() {
  auto stored = store_.offsets(options_.name);
  if (!stored.ok()) return stored.status();
  std::lock_guard lock(mu_);
  for (const auto& [tp, next] : *stored) {
    auto& known = applied_[tp];
    if (next > known) known = next;
  }
  applied_cv_.notify_all();
  return ok_status();
}

Status ProjectionProcessor::start() {
  if (!options_.clock) return failed_precondition("the projection processor needs a clock");
  AXION_RETURN_IF_ERROR(load_offsets());
  events::RebalanceCallbacks callbacks;
  callbacks.on_assigned = [this](const std::vector<events::TopicPartition>& tps) {
    std::lock_guard lock(mu_);
    for (const auto& tp : tps) {
      to_seek_.insert(tp);
      assigned_.insert(tp);
    }
  };
  callbacks.on_revoked = [this](const std::vector<events::TopicPartition>& tps) {
    std::lock_guard lock(mu_);
    for (const auto& tp : tps) {
      to_seek_.erase(tp);
      assigned_.erase(tp);
    }
  };
  auto consumer = log_.subscribe(options_.group, options_.topics, std::move(callbacks));
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(consumer).value();
  running_ = true;
  thread_ = std::thread([this] { loop(); });
  return ok_status();
}

void ProjectionProcessor::stop() {
  running_ = false;
  if (thread_.joinable()) thread_.join();
  if (consumer_) consumer_->close();
  consumer_.reset();
  std::lock_guard lock(mu_);
  to_seek_.clear();
  assigned_.clear();
}

void ProjectionProcessor::forget_offsets() {
  std::lock_guard lock(mu_);
  applied_.clear();
}

Status ProjectionProcessor::health() const {
  std::lock_guard lock(mu_);
  return status_;
}

ProjectionStats ProjectionProcessor::stats() const {
  std::lock_guard lock(mu_);
  ProjectionStats out = stats_;
  out.recent_lag_ms.assign(lags_.begin(), lags_.end());
  return out;
}

Offsets ProjectionProcessor::applied() const {
  std::lock_guard lock(mu_);
  return applied_;
}

void ProjectionProcessor::loop() {
  auto fail = [this](const Status& error) {
    if (error.ok()) return;
    if (error.retryable()) {
      std::this_thread::sleep_for(options_.poll_timeout);
      return;
    }
    std::lock_guard lock(mu_);
    status_ = error;  // e.g. a corrupt view row: stop rather than build wrong views
    running_ = false;
  };
  while (running_) {
    auto batch = consumer_->poll(options_.poll_timeout);
    if (!batch.ok()) {
      fail(batch.status());
      continue;
    }
    // Newly assigned partitions start where the store says (another writer may have moved it),
    // not where the consumer group happens to be; their records in this batch come again.
    std::set<events::TopicPartition> seeking;
    {
      std::lock_guard lock(mu_);
      seeking = to_seek_;
    }
    if (!seeking.empty()) {
      if (Status s = load_offsets(); !s.ok()) {
        fail(s);
        continue;
      }
      std::set<events::TopicPartition> positioned;
      for (const auto& tp : seeking) {
        std::int64_t next;
        {
          std::lock_guard lock(mu_);
          next = next_of(applied_, tp);
        }
        if (consumer_->seek(tp, next).ok()) positioned.insert(tp);
      }
      {
        std::lock_guard lock(mu_);
        for (const auto& tp : positioned) to_seek_.erase(tp);
      }
      std::erase_if(*batch, [&](const events::StoredRecord& r) { return seeking.count(r.tp) > 0; });
    }
    if (!batch->empty()) fail(process(std::move(batch).value()));
  }
}

Status ProjectionProcessor::process(std::vector<events::StoredRecord> batch) {
  RowOverlay rows(store_);
  ViewBatch commit;
  commit.projection = options_.name;
  {
    std::lock_guard lock(mu_);
    for (const auto& r : batch) commit.expected.emplace(r.tp, next_of(applied_, r.tp));
  }
  std::uint64_t malformed = 0;
  std::vector<axion::v1::EventEnvelope> envelopes;
  std::vector<EventAt> pending;
  envelopes.reserve(batch.size());
  for (const auto& r : batch) {
    auto next = commit.next.find(r.tp);
    const std::int64_t from = next != commit.next.end() ? next->second : commit.expected[r.tp];
    if (r.offset < from) continue;  // applied before (a re-delivery after a seek or restart)
    commit.next[r.tp] = r.offset + 1;
    auto envelope = events::parse_envelope(r);
    if (!envelope.ok()) {
      ++malformed;  // not an event of ours: nothing to project, but consumed
      continue;
    }
    envelopes.push_back(std::move(envelope).value());
    pending.push_back({nullptr, {r.tp, r.offset}});
  }
  for (std::size_t i = 0; i < pending.size(); ++i) pending[i].event = &envelopes[i];
  // A remote store reads the rows the batch will read first, one round trip per table (point
  // reads were the PostgreSQL projection's cost under load); then the batch, in order.
  Status projected =
      store_.remote_reads() ? rows.prefetch(rows_read(pending, options_.projector)) : ok_status();
  std::vector<std::int64_t> occurred;
  for (std::size_t i = 0; i < pending.size() && projected.ok(); ++i) {
    projected = project(*pending[i].event, pending[i].at, rows, options_.projector);
    occurred.push_back(google::protobuf::util::TimeUtil::TimestampToMilliseconds(
        pending[i].event->occurred_at()));
  }
  if (!projected.ok()) {
    for (const auto& [tp, offset] : commit.expected) (void)consumer_->seek(tp, offset);
    return projected;
  }
  const std::uint64_t applied = pending.size();
  if (commit.next.empty()) return ok_status();
  for (auto it = commit.expected.begin(); it != commit.expected.end();) {
    it = commit.next.count(it->first) ? std::next(it) : commit.expected.erase(it);
  }
  commit.mutations = rows.take();
  const Status committed = store_.commit(commit);
  if (!committed.ok()) {
    const bool conflict = committed.code() == StatusCode::kAborted;
    {
      std::lock_guard lock(mu_);
      ++(conflict ? stats_.conflicts : stats_.failed_commits);
    }
    // Read the batch again from where the store stands (another writer moved it on a conflict).
    if (conflict) AXION_RETURN_IF_ERROR(load_offsets());
    Offsets from;
    {
      std::lock_guard lock(mu_);
      from = applied_;
    }
    for (const auto& [tp, offset] : commit.next) (void)consumer_->seek(tp, next_of(from, tp));
    return conflict ? ok_status() : committed;
  }
  const std::int64_t now = options_.clock();
  std::lock_guard lock(mu_);
  for (const auto& [tp, next] : commit.next) {
    auto& known = applied_[tp];
    if (next > known) known = next;
  }
  stats_.events_applied += applied;
  stats_.malformed += malformed;
  ++stats_.batches;
  for (std::int64_t at : occurred) {
    lags_.push_back(now - at);
    if (lags_.size() > kMaxLagSamples) lags_.pop_front();
  }
  if (!occurred.empty()) stats_.last_lag_ms = now - occurred.back();
  applied_cv_.notify_all();
  return ok_status();
}

Status ProjectionProcessor::wait_for(const std::vector<events::LogPosition>& positions,
                                     std::chrono::steady_clock::time_point deadline) {
  std::vector<events::LogPosition> wanted;
  for (const auto& p : positions) {
    for (const auto& topic : options_.topics) {
      if (p.tp.topic == topic) wanted.push_back(p);
    }
  }
  auto missing = [&]() -> const events::LogPosition* {
    for (const auto& p : wanted) {
      if (next_of(applied_, p.tp) <= p.offset) return &p;
    }
    return nullptr;
  };
  std::unique_lock lock(mu_);
  while (const events::LogPosition* p = missing()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return deadline_exceeded("the views have not applied " + p->tp.to_string() + "@" +
                               std::to_string(p->offset) + " yet (they are at offset " +
                               std::to_string(next_of(applied_, p->tp)) +
                               "); retry, or allow a longer deadline");
    }
    applied_cv_.wait_until(lock, std::min(deadline, now + kStoreRecheck));
    if (missing() && std::chrono::steady_clock::now() < deadline) {
      // Another server may apply these partitions into a shared store: ask the store too.
      lock.unlock();
      Status s = load_offsets();
      lock.lock();
      if (!s.ok() && !s.retryable()) return s;
    }
  }
  return ok_status();
}

Result<std::int64_t> ProjectionProcessor::lag_records() {
  std::set<events::TopicPartition> assigned;
  Offsets applied;
  {
    std::lock_guard lock(mu_);
    assigned = assigned_;
    applied = applied_;
  }
  std::int64_t lag = 0;
  for (const auto& tp : assigned) {
    auto end = log_.end_offset(tp);
    if (!end.ok()) return end.status();
    lag += std::max<std::int64_t>(0, *end - next_of(applied, tp));
  }
  return lag;
}

}  // namespace axion::projections
