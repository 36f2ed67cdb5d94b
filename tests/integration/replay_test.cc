// Replay, audit and time travel (issue 5) on a generated history of more than 100,000 events
// with every event type of both events topics (tools/history), in an embedded log:
//  (a) a ProjectionProcessor applies the history incrementally into a RocksDB view store while
//      it is being written; replay() rebuilds it from offset 0 into a fresh RocksDB store and a
//      fresh memory store; every row of every table (byte for byte) and the stored offsets are
//      the same;
//  (b) a replay interrupted by a store that refuses commits resumes from the offsets it
//      committed and ends with the same views;
//  (c) views_as_of at an instant in the middle equals the views of a log holding exactly the
//      events up to that instant (the generator's history cut there), and matches the
//      generator's own counts; NOT_FOUND before the project existed;
//  (d) the audit export is byte-identical run after run and after a rebuild, one JSON line per
//      project event with position, event id, type, sequence 1..n and payload.
#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "axion/v1/audit.pb.h"
#include "axion/v1/deployment.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "axion/v1/project.pb.h"
#include "axion/v1/snapshot.pb.h"
#include "events/envelope.h"
#include "events/topics.h"
#include "infra/rocksdb/view_store.h"
#include "projections/memory_view_store.h"
#include "projections/projection_processor.h"
#include "projections/replay.h"
#include "tests/integration/log_backends.h"
#include "tools/history/history.h"

namespace axion::testing {
namespace {

namespace v1 = axion::v1;
using projections::Offsets;
using projections::Row;
using projections::Table;
using projections::ViewStore;

// Issue 5 asks for >= 100,000 events; the release pass runs them. Under AddressSanitizer and
// ThreadSanitizer (whose passes look for memory errors and races, not for scale) a quarter keeps
// the CI run within its budget.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::uint64_t kEvents = 30000;
#else
constexpr std::uint64_t kEvents = 120000;
#endif
constexpr auto kCatchUp = std::chrono::minutes(10);  // a bound for a hung processor, not a target

std::int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

tools::HistoryOptions history_options(std::uint64_t events) {
  tools::HistoryOptions options;
  options.events = events;
  options.projects = 8;
  options.clusters = 4;
  return options;
}

std::unique_ptr<ViewStore> rocks_store(const std::string& dir) {
  auto store = infra::rocksdb::open_rocks_view_store(dir);
  EXPECT_TRUE(store.ok()) << store.status().to_string();
  return store.ok() ? std::move(store).value() : nullptr;
}

Result<std::unique_ptr<events::EventLog>> open_log(const std::string& dir) {
  auto log = log_backend("rocksdb").open(dir);
  if (!log.ok()) return log.status();
  for (std::string_view topic : {events::kDeploymentEventsTopic, events::kInfrastructureEventsTopic}) {
    AXION_RETURN_IF_ERROR((*log)->ensure_topic({std::string(topic), events::kDefaultPartitions}));
  }
  return log;
}

// Every row of a table, in listing order, read page by page.
std::vector<Row> all_rows(ViewStore& store, Table table, const std::string& project = "") {
  std::vector<Row> rows;
  projections::Query query;
  query.table = table;
  query.filter.project_id = project;
  query.newest_first = false;
  query.limit = 1000;
  for (;;) {
    auto page = store.list(query);
    EXPECT_TRUE(page.ok()) << page.status().to_string();
    if (!page.ok()) break;
    rows.insert(rows.end(), page->rows.begin(), page->rows.end());
    if (!page->next) break;
    query.after = page->next;
  }
  return rows;
}

// The read model a row's doc holds.
std::unique_ptr<google::protobuf::Message> doc_type(Table table, const std::string& key) {
  switch (table) {
    case Table::kProjects: return std::make_unique<v1::Project>();
    case Table::kGraphVersions: return std::make_unique<v1::GraphVersion>();
    case Table::kDeployments: return std::make_unique<v1::Deployment>();
    case Table::kDeploymentHistory: return std::make_unique<v1::DeploymentSnapshot>();
    case Table::kClusters: return std::make_unique<v1::Cluster>();
    case Table::kServers: return std::make_unique<v1::Server>();
    case Table::kAudit: return std::make_unique<v1::AuditEntry>();
    case Table::kInternal:
      if (key.rfind("rollback/", 0) == 0) return std::make_unique<v1::RollbackRequested>();
      if (key.rfind("history/", 0) == 0) return std::make_unique<v1::ProjectSnapshot::Successes>();
      if (key.rfind("cluster/", 0) == 0) return std::make_unique<v1::ClusterSnapshot>();
      return nullptr;
  }
  return nullptr;
}

std::string clip(const std::string& text) {
  return text.size() > 400 ? text.substr(0, 400) + "..." : text;
}

// Same rows: table, key, index columns and doc bytes. The projector serializes deterministically,
// so the same events make the same bytes; a difference is explained by comparing the messages.
void expect_same_rows(const std::vector<Row>& expected, const std::vector<Row>& actual,
                      const std::string& what) {
  ASSERT_EQ(expected.size(), actual.size()) << what << ": row counts differ";
  int reported = 0;
  for (std::size_t i = 0; i < expected.size() && reported < 5; ++i) {
    const Row& e = expected[i];
    const Row& a = actual[i];
    if (e == a) continue;
    ++reported;
    if (e.table != a.table || e.key != a.key || e.index != a.index) {
      ADD_FAILURE() << what << ": row " << i << " differs: expected key " << e.key << " (table "
                    << projections::table_name(e.table) << ", sort " << e.index.sort_key
                    << "), actual key " << a.key << " (table " << projections::table_name(a.table)
                    << ", sort " << a.index.sort_key << ")";
      continue;
    }
    auto em = doc_type(e.table, e.key);
    auto am = doc_type(a.table, a.key);
    if (!em || !am || !em->ParseFromString(e.doc) || !am->ParseFromString(a.doc)) {
      ADD_FAILURE() << what << ": row " << e.key << ": docs differ and do not parse";
    } else if (google::protobuf::util::MessageDifferencer::Equals(*em, *am)) {
      ADD_FAILURE() << what << ": row " << e.key
                    << ": equal messages serialized differently (non-deterministic bytes)";
    } else {
      ADD_FAILURE() << what << ": row " << e.key << " differs:\n  expected "
                    << clip(em->ShortDebugString()) << "\n  actual   "
                    << clip(am->ShortDebugString());
    }
  }
}

// Every row of every table; returns the number of rows compared.
std::size_t expect_same_views(ViewStore& expected, ViewStore& actual) {
  std::size_t rows = 0;
  for (Table table : projections::kAllTables) {
    const auto want = all_rows(expected, table);
    expect_same_rows(want, all_rows(actual, table), std::string(projections::table_name(table)));
    rows += want.size();
  }
  return rows;
}

Offsets offsets_of(ViewStore& store) {
  auto offsets = store.offsets("views");
  EXPECT_TRUE(offsets.ok()) << offsets.status().to_string();
  return offsets.ok() ? *offsets : Offsets{};
}

std::int64_t total(const Offsets& offsets) {
  std::int64_t sum = 0;
  for (const auto& [tp, next] : offsets) sum += next;
  return sum;
}

// A real store whose commits fail (UNAVAILABLE, nothing written) at the given attempts.
class FailingStore final : public ViewStore {
 public:
  FailingStore(ViewStore& store, std::set<int> failing) : store_(store), failing_(std::move(failing)) {}
  Result<std::optional<Row>> get(Table table, const std::string& key) override {
    return store_.get(table, key);
  }
  Result<projections::Page> list(const projections::Query& query) override {
    return store_.list(query);
  }
  Status commit(const projections::ViewBatch& batch) override {
    const int attempt = ++attempts_;
    if (failing_.count(attempt)) return unavailable("injected: commit " + std::to_string(attempt) + " fails");
    return store_.commit(batch);
  }
  Result<Offsets> offsets(const std::string& projection) override {
    return store_.offsets(projection);
  }
  Status clear() override { return store_.clear(); }
  int attempts() const { return attempts_; }

 private:
  ViewStore& store_;
  const std::set<int> failing_;
  std::atomic<int> attempts_{0};  // replays commit from several threads
};

// The history every test reads: written once, projected incrementally while it was written.
struct Shared {
  std::string dir;
  std::unique_ptr<events::EventLog> log;
  tools::HistorySummary summary;
  std::unique_ptr<ViewStore> incremental;  // store A (RocksDB, the server's default store)
  projections::ProjectionStats stats;
  std::uint64_t applied_while_writing = 0;
  std::unique_ptr<ViewStore> rebuilt;      // store B (test a), reused by the others
};

class Replay : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    shared_ = new Shared;
    shared_->dir = scratch_dir("replay");
    auto log = open_log(shared_->dir + "/log");
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    shared_->log = std::move(log).value();
    shared_->incremental = rocks_store(shared_->dir + "/views-incremental");
    ASSERT_NE(shared_->incremental, nullptr);
    projections::ProjectionOptions views;
    views.group = unique_name("views");
    views.clock = wall_ms;
    projections::ProjectionProcessor processor(*shared_->log, *shared_->incremental, views);
    ASSERT_TRUE(processor.start().ok());  // before the first event is written
    auto summary = tools::write_history(*shared_->log, history_options(kEvents));
    ASSERT_TRUE(summary.ok()) << summary.status().to_string();
    shared_->summary = std::move(summary).value();
    shared_->applied_while_writing = processor.stats().events_applied;
    const Status caught_up = processor.wait_for(shared_->summary.last_positions(),
                                                std::chrono::steady_clock::now() + kCatchUp);
    ASSERT_TRUE(caught_up.ok()) << caught_up.to_string();
    ASSERT_TRUE(processor.health().ok()) << processor.health().to_string();
    shared_->stats = processor.stats();
    processor.stop();
  }
  static void TearDownTestSuite() {
    const std::string dir = shared_->dir;
    delete shared_;  // closes the log and the stores
    shared_ = nullptr;
    // ~200 MB of logs and stores: kept only when something failed, to look at.
    if (::testing::UnitTest::GetInstance()->failed_test_count() == 0) {
      std::error_code ignored;
      std::filesystem::remove_all(dir, ignored);
    }
  }
  void SetUp() override {
    ASSERT_NE(shared_, nullptr);
    ASSERT_NE(shared_->log, nullptr) << "the shared history could not be written";
    ASSERT_EQ(shared_->summary.events, kEvents) << "the shared history is incomplete";
  }

  // The history replayed into a memory store (once, on first use).
  static ViewStore& rebuilt() {
    if (!shared_->rebuilt) {
      shared_->rebuilt = projections::make_memory_view_store();
      auto stats = projections::replay(*shared_->log, *shared_->rebuilt, {});
      EXPECT_TRUE(stats.ok()) << stats.status().to_string();
      if (stats.ok()) rebuilt_stats_ = *stats;
    }
    return *shared_->rebuilt;
  }

  // The offsets a complete projection stores: one past the last record of every partition.
  static Offsets log_ends() {
    Offsets ends;
    for (std::string_view topic :
         {events::kDeploymentEventsTopic, events::kInfrastructureEventsTopic}) {
      for (std::int32_t p = 0; p < events::kDefaultPartitions; ++p) {
        const events::TopicPartition tp{std::string(topic), p};
        auto end = shared_->log->end_offset(tp);
        EXPECT_TRUE(end.ok()) << end.status().to_string();
        if (end.ok() && *end > 0) ends[tp] = *end;
      }
    }
    return ends;
  }

  static Shared* shared_;
  static projections::ReplayStats rebuilt_stats_;
};

Shared* Replay::shared_ = nullptr;
projections::ReplayStats Replay::rebuilt_stats_;

TEST_F(Replay, TheHistoryHasEveryEventTypeOfBothEventsTopics) {
  const auto& s = shared_->summary;
  EXPECT_EQ(s.events, kEvents);
  EXPECT_EQ(s.project_events + s.infrastructure_events, s.events);
  for (const auto* types : {&tools::deployment_event_types(), &tools::infrastructure_event_types()}) {
    for (const auto& type : *types) EXPECT_TRUE(s.types.count(type)) << type << " never written";
  }
  EXPECT_EQ(s.types.size(),
            tools::deployment_event_types().size() + tools::infrastructure_event_types().size());
  EXPECT_EQ(s.project_ids.size(), 8u);
  EXPECT_GE(s.cluster_ids.size(), 4u + s.deleted_cluster_ids.size());
  EXPECT_FALSE(s.deleted_cluster_ids.empty());
  // Every event went to the log: the partitions hold exactly the history.
  EXPECT_EQ(total(log_ends()), static_cast<std::int64_t>(s.events));
  // Each stream is numbered 1..n without gaps: its last sequence is its event count.
  std::map<std::string, std::uint64_t> counted;
  for (std::string_view topic : {events::kDeploymentEventsTopic, events::kInfrastructureEventsTopic}) {
    auto records = read_all(*shared_->log, std::string(topic));
    ASSERT_TRUE(records.ok()) << records.status().to_string();
    for (const auto& r : *records) {
      auto e = events::parse_envelope(r);
      ASSERT_TRUE(e.ok()) << e.status().to_string();
      ASSERT_EQ(e->sequence(), ++counted[e->aggregate_id()]) << e->aggregate_id();
    }
  }
  for (const auto& [id, n] : counted) EXPECT_EQ(s.aggregates.at(id).events, n) << id;
}

// (a)
TEST_F(Replay, RebuildFromOffsetZeroEqualsTheIncrementalViews) {
  std::cout << "incremental: " << shared_->stats.events_applied << " events in "
            << shared_->stats.batches << " batches (" << shared_->applied_while_writing
            << " applied before the writer finished), " << shared_->stats.conflicts
            << " conflicts, " << shared_->stats.failed_commits << " failed commits\n";
  EXPECT_EQ(shared_->stats.events_applied, shared_->summary.events);
  EXPECT_EQ(shared_->stats.malformed, 0u);

  // Into a fresh RocksDB store and a fresh memory store: both equal A row for row.
  auto fresh = rocks_store(shared_->dir + "/views-rebuilt");
  ASSERT_NE(fresh, nullptr);
  projections::ReplayOptions parallel;
  parallel.threads = 4;  // partitions folded concurrently (the memory rebuild: one per core)
  auto stats = projections::replay(*shared_->log, *fresh, parallel);
  ASSERT_TRUE(stats.ok()) << stats.status().to_string();
  ViewStore& memory = rebuilt();
  for (const projections::ReplayStats& s : {*stats, rebuilt_stats_}) {
    EXPECT_EQ(s.events, shared_->summary.events);
    EXPECT_EQ(s.records, shared_->summary.events);
  }
  for (const auto& [name, store] : {std::pair<const char*, ViewStore*>{"RocksDB", fresh.get()},
                                    std::pair<const char*, ViewStore*>{"memory", &memory}}) {
    SCOPED_TRACE(name);
    const std::size_t rows = expect_same_views(*shared_->incremental, *store);
    std::cout << name << ": " << rows << " rows compared\n";
    EXPECT_EQ(offsets_of(*store), offsets_of(*shared_->incremental));
    EXPECT_EQ(offsets_of(*store), log_ends());
  }

  // The views are not trivially small: every table has rows.
  for (Table table : projections::kAllTables) {
    EXPECT_FALSE(all_rows(*fresh, table).empty()) << projections::table_name(table);
  }
  EXPECT_EQ(all_rows(*fresh, Table::kAudit).size(), shared_->summary.project_events);
  std::uint64_t deployments = 0;
  for (const auto& id : shared_->summary.project_ids) {
    deployments += shared_->summary.aggregates.at(id).deployments;
  }
  EXPECT_EQ(all_rows(*fresh, Table::kDeployments).size(), deployments);
  // Deleted clusters have no rows; the others do.
  EXPECT_EQ(all_rows(*fresh, Table::kClusters).size(),
            shared_->summary.cluster_ids.size() - shared_->summary.deleted_cluster_ids.size());
}

// (b)
TEST_F(Replay, AnInterruptedReplayResumesToTheSameViews) {
  auto target = rocks_store(shared_->dir + "/views-interrupted");
  ASSERT_NE(target, nullptr);
  FailingStore failing(*target, {3, 9});
  projections::ReplayOptions options;
  options.batch_records = 5000;
  options.threads = 1;  // commit attempts in a known order (parallel replays: the next test)

  auto first = projections::replay(*shared_->log, failing, options);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable) << first.status().to_string();
  const std::int64_t after_first = total(offsets_of(*target));
  EXPECT_GT(after_first, 0);  // two batches landed before the third commit failed

  auto second = projections::replay(*shared_->log, failing, options);
  ASSERT_FALSE(second.ok());
  const std::int64_t after_second = total(offsets_of(*target));
  EXPECT_GT(after_second, after_first);  // it went on from there, not from 0
  EXPECT_LT(after_second, static_cast<std::int64_t>(shared_->summary.events));

  auto third = projections::replay(*shared_->log, failing, options);
  ASSERT_TRUE(third.ok()) << third.status().to_string();
  // Only what was not committed before is read again.
  EXPECT_EQ(static_cast<std::int64_t>(third->records),
            static_cast<std::int64_t>(shared_->summary.events) - after_second);
  EXPECT_EQ(failing.attempts(), 9 + static_cast<int>(third->batches));

  expect_same_views(*shared_->incremental, *target);
  EXPECT_EQ(offsets_of(*target), log_ends());

  // A complete store has nothing left to replay.
  auto again = projections::replay(*shared_->log, *target, options);
  ASSERT_TRUE(again.ok()) << again.status().to_string();
  EXPECT_EQ(again->records, 0u);
}

// (b) with partitions replayed concurrently: a failed commit stops the other threads, whatever
// they committed stays committed, and the next replay completes the same views.
TEST_F(Replay, AnInterruptedParallelReplayResumesToTheSameViews) {
  auto target = rocks_store(shared_->dir + "/views-interrupted-parallel");
  ASSERT_NE(target, nullptr);
  FailingStore failing(*target, {4});
  projections::ReplayOptions options;
  options.batch_records = 2000;
  options.threads = 3;

  auto first = projections::replay(*shared_->log, failing, options);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kUnavailable) << first.status().to_string();
  EXPECT_NE(first.status().message().find("injected: commit 4 fails"), std::string::npos)
      << "the first error is the one returned: " << first.status().to_string();
  const std::int64_t after_first = total(offsets_of(*target));
  EXPECT_GT(after_first, 0);
  EXPECT_LT(after_first, static_cast<std::int64_t>(shared_->summary.events));

  auto second = projections::replay(*shared_->log, failing, options);
  ASSERT_TRUE(second.ok()) << second.status().to_string();
  EXPECT_EQ(static_cast<std::int64_t>(second->records),
            static_cast<std::int64_t>(shared_->summary.events) - after_first);
  expect_same_views(*shared_->incremental, *target);
  EXPECT_EQ(offsets_of(*target), log_ends());
}

// (c)
TEST_F(Replay, ViewsAsOfAnInstantAreTheViewsOfTheLogUpToThen) {
  const auto options = history_options(kEvents);
  // Between event K-1 and event K: exactly the first K events occurred at or before it.
  const std::uint64_t prefix = kEvents / 2 + 1;
  const std::int64_t at = options.start_ms + static_cast<std::int64_t>(prefix - 1) * options.step_ms +
                          options.step_ms / 2;

  // The log as it was then: the same generator cut after `prefix` events.
  auto prefix_log = open_log(shared_->dir + "/prefix-log");
  ASSERT_TRUE(prefix_log.ok()) << prefix_log.status().to_string();
  auto then = tools::write_history(**prefix_log, history_options(prefix));
  ASSERT_TRUE(then.ok()) << then.status().to_string();
  ASSERT_EQ(then->events, prefix);
  ASSERT_LE(then->last_ms, at);
  auto views_then = projections::make_memory_view_store();
  ASSERT_TRUE(projections::replay(**prefix_log, *views_then, {}).ok());

  int compared = 0;
  for (const std::string& project : shared_->summary.project_ids) {
    SCOPED_TRACE(project);
    const tools::AggregateCounts& counts = then->aggregates.at(project);
    const tools::AggregateCounts& now = shared_->summary.aggregates.at(project);
    ASSERT_LT(counts.events, now.events) << "the instant is not in the middle of the history";

    auto as_of = projections::views_as_of(*shared_->log, project, at);
    ASSERT_TRUE(as_of.ok()) << as_of.status().to_string();
    EXPECT_EQ(as_of->events, counts.events);

    // Row for row what the views of the prefix log hold for this project.
    auto mine = [&](Table table) {
      std::vector<Row> rows;
      for (auto& row : all_rows(*views_then, table)) {
        if (table == Table::kProjects ? row.key == project : row.index.project_id == project) {
          rows.push_back(std::move(row));
        }
      }
      return rows;
    };
    for (Table table : {Table::kProjects, Table::kGraphVersions, Table::kDeployments,
                        Table::kDeploymentHistory, Table::kAudit}) {
      expect_same_rows(mine(table), all_rows(*as_of->store, table),
                       project + " " + std::string(projections::table_name(table)));
    }
    // And what the generator says happened up to then.
    auto p = as_of->queries->project(project);
    ASSERT_TRUE(p.ok()) << p.status().to_string();
    EXPECT_EQ(p->version(), counts.events);
    EXPECT_EQ(p->latest_graph_version(), counts.graph_versions);
    EXPECT_EQ(all_rows(*as_of->store, Table::kGraphVersions).size(), counts.graph_versions);
    EXPECT_EQ(all_rows(*as_of->store, Table::kDeployments).size(), counts.deployments);
    EXPECT_EQ(all_rows(*as_of->store, Table::kAudit).size(), counts.events);
    auto latest = rebuilt().get(Table::kProjects, project);
    ASSERT_TRUE(latest.ok() && latest->has_value());
    v1::Project today;
    ASSERT_TRUE(today.ParseFromString((*latest)->doc));
    EXPECT_GT(today.version(), p->version());

    // Before the project existed there is nothing to show; at its first event, the project.
    auto before = projections::views_as_of(*shared_->log, project, now.first_ms - 1);
    ASSERT_FALSE(before.ok());
    EXPECT_EQ(before.status().code(), StatusCode::kNotFound) << before.status().to_string();
    auto born = projections::views_as_of(*shared_->log, project, now.first_ms);
    ASSERT_TRUE(born.ok()) << born.status().to_string();
    EXPECT_EQ(born->events, 1u);
    EXPECT_TRUE(born->queries->project(project).ok());
    ++compared;
  }
  EXPECT_EQ(compared, 8);
  auto unknown = projections::views_as_of(*shared_->log, "no-such-project", at);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
}

// (d)
TEST_F(Replay, TheAuditExportIsByteStableAndOneLinePerProjectEvent) {
  const std::string project = shared_->summary.project_ids.at(1);
  auto export_once = [&] {
    std::ostringstream out;
    auto lines = projections::export_audit(*shared_->log, project, out);
    EXPECT_TRUE(lines.ok()) << lines.status().to_string();
    EXPECT_EQ(lines.ok() ? *lines : 0, shared_->summary.aggregates.at(project).events);
    return out.str();
  };
  const std::string first = export_once();
  EXPECT_EQ(export_once(), first);
  auto rebuilt_store = projections::make_memory_view_store();
  ASSERT_TRUE(projections::replay(*shared_->log, *rebuilt_store, {}).ok());
  EXPECT_EQ(export_once(), first) << "a rebuild changed the export";

  // The view's audit entries, for the same events in the same order.
  const std::vector<Row> entries = all_rows(*rebuilt_store, Table::kAudit, project);
  std::istringstream in(first);
  std::string line;
  std::uint64_t n = 0;
  std::int64_t last_offset = -1;
  std::set<std::string> types;
  while (std::getline(in, line)) {
    SCOPED_TRACE("line " + std::to_string(n + 1));
    const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(json.is_discarded()) << line.substr(0, 200);
    ASSERT_TRUE(json.is_object());
    for (const char* key : {"position", "event_id", "type", "sequence", "payload", "occurred_at"}) {
      ASSERT_TRUE(json.contains(key)) << key << " missing in " << line.substr(0, 200);
    }
    EXPECT_EQ(json["sequence"].get<std::uint64_t>(), n + 1);
    EXPECT_EQ(json["aggregate_id"], project);
    EXPECT_EQ(json["position"]["topic"], std::string(events::kDeploymentEventsTopic));
    const std::int64_t offset = json["position"]["offset"].get<std::int64_t>();
    EXPECT_GT(offset, last_offset);
    last_offset = offset;
    const std::string type = json["type"].get<std::string>();
    types.insert(type);
    ASSERT_TRUE(json["payload"].is_object());
    EXPECT_EQ(json["payload"]["@type"], "type.googleapis.com/" + type);
    EXPECT_FALSE(json["event_id"].get<std::string>().empty());
    if (n < entries.size()) {
      v1::AuditEntry entry;
      ASSERT_TRUE(entry.ParseFromString(entries[n].doc));
      EXPECT_EQ(entry.event_id(), json["event_id"].get<std::string>());
      EXPECT_EQ(entry.sequence(), n + 1);
      EXPECT_EQ(entry.position().offset(), offset);
    }
    ++n;
  }
  EXPECT_EQ(n, shared_->summary.aggregates.at(project).events);
  EXPECT_EQ(entries.size(), n);
  EXPECT_EQ(types.size(), tools::deployment_event_types().size());  // a project sees them all
}

}  // namespace
}  // namespace axion::testing
