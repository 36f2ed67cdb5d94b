// Aggregate snapshots in the command processor, on both logs: a restarted processor loads its
// partitions from the snapshot store and folds only the log after the snapshot's marks, decides
// exactly as before (state, versions and idempotency memory); a snapshot written under another
// fold version, or taken from another log, is discarded and the log folded again; idempotency
// keys are forgotten after their TTL.
#include <gtest/gtest.h>

#include <atomic>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/project.pb.h"
#include "commands/aggregate_kinds.h"
#include "commands/command_bus.h"
#include "commands/command_processor.h"
#include "events/topics.h"
#include "infra/rocksdb/snapshot_store.h"
#include "tests/integration/log_backends.h"
#include "tests/integration/project_commands.h"

namespace axion::testing {
namespace {

using std::chrono::milliseconds;
namespace v1 = axion::v1;

constexpr auto kWait = milliseconds(60000);

// The project kind on an events topic of the test's own (the broker is shared with other tests),
// optionally under another fold version: what a build with a changed fold looks like.
class ProjectKindOn final : public commands::AggregateKind {
 public:
  explicit ProjectKindOn(std::string topic, std::uint32_t fold_delta = 0)
      : topic_(std::move(topic)), fold_delta_(fold_delta) {}
  std::string_view name() const override { return commands::project_kind().name(); }
  std::string_view events_topic() const override { return topic_; }
  bool handles(std::string_view type) const override {
    return commands::project_kind().handles(type);
  }
  std::unique_ptr<commands::AggregateState> empty_state() const override {
    return commands::project_kind().empty_state();
  }
  std::uint32_t fold_version() const override {
    return commands::project_kind().fold_version() + fold_delta_;
  }

 private:
  std::string topic_;
  std::uint32_t fold_delta_;
};

class Snapshots : public ::testing::TestWithParam<LogBackend> {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("snapshots-" + GetParam().name);
    auto log = GetParam().open(dir_ + "/log");
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    log_ = std::move(log).value();
    const std::string suffix = unique_name("t");
    options_.commands_topic = "cmd-" + suffix;
    options_.results_topic = "res-" + suffix;
    kind_ = std::make_unique<ProjectKindOn>("evt-" + suffix);
    refolded_ = std::make_unique<ProjectKindOn>("evt-" + suffix, 1);
    for (const auto& t : {options_.commands_topic, options_.results_topic,
                          std::string(kind_->events_topic())}) {
      ASSERT_TRUE(log_->ensure_topic({t, events::kDefaultPartitions}).ok());
    }
    options_.group = "processor-" + suffix;
    options_.transactional_id = "processor-" + suffix;
    options_.clock = [this] { return wall_ms() + clock_skew_ms_.load(); };
    options_.snapshot_every = 1;  // every partition that folded anything is snapshotted at load
    auto store = infra::rocksdb::open_rocks_snapshot_store(dir_ + "/snapshots");
    ASSERT_TRUE(store.ok()) << store.status().to_string();
    store_ = std::move(store).value();
    bus_ = std::make_unique<commands::CommandBus>(*log_, unique_name("gw"),
                                                  options_.commands_topic, options_.results_topic);
    ASSERT_TRUE(bus_->start().ok());
  }
  void TearDown() override {
    bus_.reset();
    processor_.reset();
  }

  // Starts a processor (stopping the previous one) with the given store and kinds.
  void start(commands::SnapshotStore* store, const commands::AggregateKind* kind = nullptr) {
    processor_.reset();
    std::vector<const commands::AggregateKind*> kinds{kind ? kind : kind_.get()};
    auto options = options_;
    options.snapshots = store;
    processor_ = std::make_unique<commands::CommandProcessor>(*log_, std::move(kinds), options);
    Status started = processor_->start();
    ASSERT_TRUE(started.ok()) << started.to_string();
  }

  v1::CommandResult submit(const v1::CommandEnvelope& c) {
    auto result = bus_->submit(c, kWait);
    EXPECT_TRUE(result.ok()) << result.status().to_string();
    return result.ok() ? *result : v1::CommandResult();
  }

  // Records a command appends: its events and its result.
  static std::uint64_t records_of(const v1::CommandResult& r) {
    return static_cast<std::uint64_t>(r.positions_size()) + 1;
  }

  // A project with a graph and `deployments` accepted deployments, one per environment.
  // Returns the records appended.
  std::uint64_t build_history(const std::string& project, int deployments) {
    std::uint64_t records = 0;
    auto ok = [&](const v1::CommandResult& r) {
      EXPECT_EQ(r.status_code(), 0) << r.message();
      records += records_of(r);
    };
    ok(submit(envelope(project, register_project(project), "register-" + project)));
    ok(submit(envelope(project, graph(project))));
    for (int i = 0; i < deployments; ++i) {
      ok(submit(envelope(project, deploy(project, "env-" + std::to_string(i)),
                         "deploy-" + std::to_string(i))));
    }
    return records;
  }

  std::string dir_;
  std::unique_ptr<events::EventLog> log_;
  std::unique_ptr<ProjectKindOn> kind_, refolded_;
  commands::ProcessorOptions options_;
  std::atomic<std::int64_t> clock_skew_ms_{0};
  std::unique_ptr<commands::SnapshotStore> store_;
  std::unique_ptr<commands::CommandProcessor> processor_;
  std::unique_ptr<commands::CommandBus> bus_;
};

TEST_P(Snapshots, ARestartLoadsTheSnapshotAndFoldsOnlyTheLogAfterIt) {
  const std::string project = unique_name("proj");
  start(store_.get());
  const std::uint64_t before = build_history(project, 20);
  ASSERT_GT(before, 40u);
  processor_->stop();  // writes the snapshots of what changed

  // Written while no snapshot is taken: the tail the next load must fold.
  start(nullptr);
  std::uint64_t tail = 0;
  for (int i = 20; i < 25; ++i) {
    auto r = submit(envelope(project, deploy(project, "env-" + std::to_string(i))));
    ASSERT_EQ(r.status_code(), 0) << r.message();
    tail += records_of(r);
  }

  start(store_.get());
  // The restored state decides as the folded one: the environment is taken...
  auto busy = submit(envelope(project, deploy(project, "env-3")));
  EXPECT_EQ(busy.status_code(), static_cast<int>(StatusCode::kFailedPrecondition)) << busy.message();
  // (the partitions were loaded before that answer)
  auto stats = processor_->stats();
  EXPECT_EQ(stats.records_folded, tail) << "only the records after the snapshot are folded";
  EXPECT_GE(stats.aggregates_restored, 1u);
  EXPECT_EQ(stats.snapshots_discarded, 0u);
  // ...a retry is answered from the restored idempotency memory, appending nothing...
  auto retry = submit(envelope(project, deploy(project, "env-7"), "deploy-7"));
  EXPECT_EQ(retry.status_code(), 0) << retry.message();
  EXPECT_FALSE(retry.first_command_id().empty()) << "answered from idempotency memory";
  // ...and the aggregate's version continues without a gap.
  auto next = submit(envelope(project, deploy(project, "env-new")));
  ASSERT_EQ(next.status_code(), 0) << next.message();
  EXPECT_EQ(next.aggregate_version(), 2u + 25u + 1u);  // registered, graph, 25 deployments
}

TEST_P(Snapshots, ASnapshotOfAnotherFoldVersionIsDiscardedAndTheLogFoldedAgain) {
  const std::string project = unique_name("proj");
  start(store_.get());
  build_history(project, 5);
  processor_->stop();

  start(store_.get(), refolded_.get());
  auto busy = submit(envelope(project, deploy(project, "env-1")));
  EXPECT_EQ(busy.status_code(), static_cast<int>(StatusCode::kFailedPrecondition)) << busy.message();
  auto stats = processor_->stats();
  EXPECT_GE(stats.snapshots_discarded, 1u);
  EXPECT_EQ(stats.aggregates_restored, 0u);
  EXPECT_GT(stats.records_folded, 0u);
  processor_->stop();

  // The replaced snapshot is valid for the new fold: the next load restores it.
  start(store_.get(), refolded_.get());
  busy = submit(envelope(project, deploy(project, "env-2")));
  EXPECT_EQ(busy.status_code(), static_cast<int>(StatusCode::kFailedPrecondition)) << busy.message();
  EXPECT_EQ(processor_->stats().snapshots_discarded, 0u);
  EXPECT_GE(processor_->stats().aggregates_restored, 1u);
}

TEST_P(Snapshots, IdempotencyKeysAreForgottenAfterTheirTtl) {
  options_.idempotency_ttl_ms = 60 * 60 * 1000;
  const std::string project = unique_name("proj");
  start(store_.get());
  auto first = submit(envelope(project, register_project(project), "reg"));
  ASSERT_EQ(first.status_code(), 0) << first.message();
  auto retry = submit(envelope(project, register_project(project), "reg"));
  EXPECT_EQ(retry.status_code(), 0) << "within the TTL a retry gets the first answer";
  EXPECT_EQ(retry.first_command_id(), first.command_id());

  clock_skew_ms_ = 2 * 60 * 60 * 1000;  // two hours later
  auto late = submit(envelope(project, register_project(project), "reg"));
  EXPECT_EQ(late.status_code(), static_cast<int>(StatusCode::kAlreadyExists))
      << "after the TTL the key is forgotten and the command decided again";
  // Forgotten across a restart as well (the snapshot drops it, the log fold skips it).
  processor_->stop();
  start(store_.get());
  auto after_restart = submit(envelope(project, register_project(project), "reg"));
  EXPECT_EQ(after_restart.status_code(), static_cast<int>(StatusCode::kAlreadyExists));
}

// A command that expired before it was decided is refused (retryably) but its key is not
// burnt: a retry with the same key is decided, also after a restart.
TEST_P(Snapshots, AnExpiredCommandDoesNotBurnItsIdempotencyKey) {
  const std::string project = unique_name("proj");
  start(store_.get());
  auto expiring = envelope(project, register_project(project), "reg-late");
  expiring.mutable_deadline()->set_seconds(wall_ms() / 1000 + 60);
  clock_skew_ms_ = 60 * 60 * 1000;  // the processor decides it an hour "later"
  auto late = submit(expiring);
  EXPECT_EQ(late.status_code(), static_cast<int>(StatusCode::kDeadlineExceeded)) << late.message();
  EXPECT_TRUE(late.retryable());
  clock_skew_ms_ = 0;
  auto retried = submit(envelope(project, register_project(project), "reg-late"));
  EXPECT_EQ(retried.status_code(), 0) << retried.message();
  EXPECT_TRUE(retried.first_command_id().empty()) << "decided, not answered from memory";
  processor_->stop();
  start(store_.get());
  auto again = submit(envelope(project, register_project(project), "reg-late"));
  EXPECT_EQ(again.status_code(), 0) << again.message();
  EXPECT_EQ(again.first_command_id(), retried.command_id());
}

INSTANTIATE_TEST_SUITE_P(AllBackends, Snapshots, ::testing::ValuesIn(all_log_backends()),
                         [](const auto& info) { return info.param.name; });

// A snapshot store kept from another log (a wiped broker, a restored backup) must not be
// trusted: its marks name records this log does not hold, byte for byte.
TEST(SnapshotsOnAnotherLog, AreDiscarded) {
  const auto backend = log_backend("rocksdb");
  const std::string dir = scratch_dir("snapshots-other-log");
  auto store = infra::rocksdb::open_rocks_snapshot_store(dir + "/snapshots");
  ASSERT_TRUE(store.ok());
  const std::vector<const commands::AggregateKind*> kinds{&commands::project_kind(),
                                                          &commands::cluster_kind()};
  const std::string project = "proj-on-two-logs";
  // Runs a processor on `log` (with or without the store), registers the project, stops.
  auto run = [&](events::EventLog& log, bool with_store) {
    commands::ProcessorOptions options;
    options.clock = wall_ms;
    options.snapshots = with_store ? store->get() : nullptr;
    options.snapshot_every = 1;
    commands::CommandProcessor processor(log, kinds, options);
    EXPECT_TRUE(processor.start().ok());
    commands::CommandBus bus(log, unique_name("gw"));
    EXPECT_TRUE(bus.start().ok());
    auto r = bus.submit(envelope(project, register_project(project)), kWait);
    EXPECT_TRUE(r.ok()) << r.status().to_string();
    processor.stop();
    return std::make_pair(r.ok() ? r->status_code() : -1, processor.stats());
  };
  auto open = [&](const std::string& name) {
    auto log = backend.open(dir + "/" + name);
    EXPECT_TRUE(log.ok());
    for (const auto& t : events::kTopicDefaults) {
      EXPECT_TRUE((*log)->ensure_topic({std::string(t.name), events::kDefaultPartitions}).ok());
    }
    return std::move(log).value();
  };
  auto log_a = open("log-a");
  EXPECT_EQ(run(*log_a, true).first, 0);  // snapshot of log a: the project at offset 0
  auto log_b = open("log-b");
  EXPECT_EQ(run(*log_b, false).first, 0);  // log b: the same project, another event at offset 0
  const auto [code, stats] = run(*log_b, true);
  EXPECT_GE(stats.snapshots_discarded, 1u) << "the fingerprint of offset 0 differs";
  EXPECT_EQ(stats.aggregates_restored, 0u);
  EXPECT_EQ(code, static_cast<int>(StatusCode::kAlreadyExists));
}

}  // namespace
}  // namespace axion::testing
