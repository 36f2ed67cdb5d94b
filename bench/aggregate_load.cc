// aggregate_load_bench: how long the command processor takes to load a project with a long
// history (issue 4: "a project with 100,000 events loads in milliseconds"), with and without the
// aggregate snapshot, against reading the same records raw through the log.
//
// It writes one project's history straight to a fresh embedded log — a registration, a graph,
// then deployments each with the events a saga appends (status changes, steps, success,
// snapshot), --events in all — exactly as the processor would find it. Then, --runs times each:
//   scan      read every record of the project's partition through EventLog::read (no fold);
//   fold      a CommandProcessor without a snapshot store: start -> all partitions loaded;
//   snapshot  a CommandProcessor whose store holds the partition's snapshot: the same.
#include <CLI/CLI.hpp>

#include <filesystem>
#include <iostream>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/project.pb.h"
#include "bench/bench_util.h"
#include "commands/aggregate_kinds.h"
#include "commands/command_processor.h"
#include "commands/project_aggregate.h"
#include "events/envelope.h"
#include "events/partitioner.h"
#include "events/topics.h"
#include "infra/rocksdb/rocks_event_log.h"
#include "infra/rocksdb/snapshot_store.h"

namespace {

namespace v1 = axion::v1;
using axion::bench::Clock;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

void check(const axion::Status& s, const char* what) {
  if (!s.ok()) {
    std::cerr << what << ": " << s.to_string() << "\n";
    std::exit(1);
  }
}

// Builds and appends the history; returns the project's partition.
std::int32_t write_history(axion::events::EventLog& log, const std::string& project,
                           std::uint64_t events, axion::commands::ProjectState& state) {
  const std::string topic(axion::events::kDeploymentEventsTopic);
  const std::int32_t partition =
      axion::events::partition_for_key(project, axion::events::kDefaultPartitions);
  auto producer = log.open_producer("history-writer");
  check(producer.status(), "open producer");
  std::vector<axion::events::Record> batch;
  std::uint64_t sequence = 0;
  auto add = [&](const google::protobuf::Any& payload) {
    axion::commands::apply_event(state, payload, now_ms());
    axion::events::EnvelopeMeta meta{"evt-" + std::to_string(sequence + 1), "project", project,
                                     project, ++sequence, now_ms(), "bench", "", "", 1};
    auto record = axion::events::to_record(topic, axion::events::make_envelope(payload, meta));
    record.partition = partition;
    batch.push_back(std::move(record));
    if (batch.size() == 1000) {
      check((*producer)->append(std::move(batch)).status(), "append");
      batch.clear();
    }
  };
  auto decide = [&](const auto& command, const std::string& id) {
    axion::commands::CommandContext ctx{id, "bench", now_ms(), {}};
    auto decision = axion::commands::decide(state, command, ctx);
    check(decision.status(), "decide");
    for (const auto& e : decision->events) add(e);
    return decision->ids;
  };
  auto pack = [](const google::protobuf::Message& m) {
    google::protobuf::Any any;
    any.PackFrom(m);
    return any;
  };
  v1::RegisterProject reg;
  reg.set_project_id(project);
  reg.set_name("shop");
  decide(reg, "cmd-register");
  v1::PublishGraph graph;
  graph.set_project_id(project);
  for (const char* name : {"web", "api", "worker"}) {
    auto* s = graph.add_services();
    s->set_name(name);
    s->set_image(std::string("registry.local/shop/") + name + ":1");
  }
  decide(graph, "cmd-graph");
  for (std::uint64_t n = 0; sequence < events; ++n) {
    v1::DeployProject deploy;
    deploy.set_project_id(project);
    deploy.set_environment("env-" + std::to_string(n % 16));
    auto ids = decide(deploy, "cmd-deploy-" + std::to_string(n));
    const std::string id = ids["deployment_id"];
    v1::DeploymentStatus from = v1::DEPLOYMENT_STATUS_PENDING;
    for (auto to : {v1::DEPLOYMENT_STATUS_BUILDING, v1::DEPLOYMENT_STATUS_PROVISIONING,
                    v1::DEPLOYMENT_STATUS_DEPLOYING}) {
      v1::DeploymentStatusChanged changed;
      changed.set_deployment_id(id);
      changed.set_project_id(project);
      changed.set_from_status(from);
      changed.set_to_status(to);
      changed.set_cause(v1::STATUS_CHANGE_CAUSE_PROGRESS);
      add(pack(changed));
      from = to;
    }
    for (std::uint32_t step = 0; step < 2; ++step) {
      v1::DeploymentStepStarted started;
      started.set_deployment_id(id);
      started.set_project_id(project);
      started.set_step_index(step);
      started.set_kind(v1::STEP_KIND_ROLLING_BATCH);
      add(pack(started));
      v1::DeploymentStepCompleted completed;
      completed.set_deployment_id(id);
      completed.set_project_id(project);
      completed.set_step_index(step);
      completed.set_kind(v1::STEP_KIND_ROLLING_BATCH);
      add(pack(completed));
    }
    v1::DeploymentSucceeded succeeded;
    succeeded.set_deployment_id(id);
    succeeded.set_project_id(project);
    succeeded.set_graph_version(1);
    add(pack(succeeded));
  }
  if (!batch.empty()) check((*producer)->append(std::move(batch)).status(), "append");
  return partition;
}

// Starts a processor and waits until every partition is loaded; returns the milliseconds.
double timed_load(axion::events::EventLog& log, axion::commands::SnapshotStore* store,
                  const std::string& group, axion::commands::ProcessorStats* stats) {
  axion::commands::ProcessorOptions options;
  options.group = group;
  options.transactional_id = group;
  options.clock = now_ms;
  options.snapshots = store;
  options.poll_timeout = std::chrono::milliseconds(1);
  axion::commands::CommandProcessor processor(
      log, {&axion::commands::project_kind(), &axion::commands::cluster_kind()}, options);
  const auto start = Clock::now();
  check(processor.start(), "start processor");
  while (processor.stats().partitions_loaded <
         static_cast<std::uint64_t>(axion::events::kDefaultPartitions)) {
    if (!processor.health().ok()) check(processor.health(), "processor");
    std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
  const double ms = ms_since(start);
  *stats = processor.stats();
  processor.stop();  // writes the partition's snapshot when it has a store
  return ms;
}

struct Series {
  std::vector<double> ms;
  std::string row(const std::string& name, std::uint64_t records) const {
    std::vector<double> sorted = ms;
    std::sort(sorted.begin(), sorted.end());
    const double median = sorted[sorted.size() / 2];
    return "| " + name + " | " + axion::bench::thousands(static_cast<double>(records)) + " | " +
           axion::bench::fmt("%.1f", median) + " | " + axion::bench::fmt("%.1f", sorted.front()) +
           " | " + axion::bench::fmt("%.1f", sorted.back()) + " |";
  }
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Time to load a project with a long history, with and without its snapshot."};
  std::uint64_t events = 100000;
  int runs = 5;
  std::string dir;
  app.add_option("--events", events, "events in the project's history")->check(CLI::Range(10, 10000000));
  app.add_option("--runs", runs, "loads measured per variant")->check(CLI::Range(1, 100));
  app.add_option("--dir", dir, "scratch directory (default: a fresh one in the temp dir)");
  CLI11_PARSE(app, argc, argv);
  namespace fs = std::filesystem;
  if (dir.empty()) dir = (fs::temp_directory_path() / ("aggregate-load-" + std::to_string(getpid()))).string();
  fs::remove_all(dir);

  std::cout << "machine: " << axion::bench::machine_description() << "; " << axion::bench::utc_now()
            << "; load average " << axion::bench::load_average() << " at start\n";
  axion::infra::rocksdb::RocksLogConfig config;
  config.path = dir + "/log";
  auto log = axion::infra::rocksdb::open_rocks_event_log(config);
  check(log.status(), "open log");
  for (const auto& t : axion::events::kTopicDefaults) {
    check((*log)->ensure_topic({std::string(t.name), axion::events::kDefaultPartitions}),
          "ensure topic");
  }
  axion::commands::ProjectState state;
  const auto written = Clock::now();
  const std::int32_t partition = write_history(**log, "proj-long-history", events, state);
  std::cout << "history: " << state.version << " events, " << state.deployments.size()
            << " deployments, written in " << axion::bench::fmt("%.0f", ms_since(written))
            << " ms; ";
  {
    auto folded = axion::commands::project_kind().empty_state();
    const axion::events::TopicPartition tp{std::string(axion::events::kDeploymentEventsTopic),
                                           partition};
    auto end = (*log)->end_offset(tp);
    check(end.status(), "end offset");
    for (std::int64_t next = 0; next < *end;) {
      auto records = (*log)->read(tp, next, 5000, std::chrono::milliseconds(1000));
      check(records.status(), "read");
      for (const auto& r : *records) folded->evolve(axion::events::parse_envelope(r)->payload());
      next = records->back().offset + 1;
    }
    std::cout << "the project state's snapshot: " << folded->snapshot().size() << " bytes\n";
  }

  Series scan, fold, snap;
  std::uint64_t scanned = 0;
  axion::commands::ProcessorStats fold_stats, snap_stats;
  auto store = axion::infra::rocksdb::open_rocks_snapshot_store(dir + "/snapshots");
  check(store.status(), "open snapshot store");
  // The first load with the store folds everything and writes the snapshot (not measured).
  timed_load(**log, store->get(), "snapshot-group", &snap_stats);
  for (int r = 0; r < runs; ++r) {
    const auto start = Clock::now();
    scanned = 0;
    for (const auto& topic : {std::string(axion::events::kDeploymentEventsTopic)}) {
      const axion::events::TopicPartition tp{topic, partition};
      auto end = (*log)->end_offset(tp);
      check(end.status(), "end offset");
      for (std::int64_t next = 0; next < *end;) {
        auto records = (*log)->read(tp, next, 5000, std::chrono::milliseconds(1000));
        check(records.status(), "read");
        scanned += records->size();
        next = records->back().offset + 1;
      }
    }
    scan.ms.push_back(ms_since(start));
    fold.ms.push_back(timed_load(**log, nullptr, "fold-group-" + std::to_string(r), &fold_stats));
    snap.ms.push_back(timed_load(**log, store->get(), "snapshot-group", &snap_stats));
  }
  std::cout << "\n| load | records read from the log | median ms | min ms | max ms |\n"
            << "|---|---:|---:|---:|---:|\n"
            << scan.row("scan (read only, no fold)", scanned) << "\n"
            << fold.row("fold (no snapshot)", fold_stats.records_folded) << "\n"
            << snap.row("snapshot + tail", snap_stats.records_folded) << "\n";
  std::cout << "\nsnapshot/fold: "
            << axion::bench::fmt("%.3f", snap.ms[snap.ms.size() / 2] / fold.ms[fold.ms.size() / 2])
            << "x; aggregates restored per snapshot load: " << snap_stats.aggregates_restored
            << "; load average " << axion::bench::load_average() << " at end\n";
  log->reset();
  fs::remove_all(dir);
  return 0;
}
