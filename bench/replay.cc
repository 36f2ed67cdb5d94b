// replay_bench: how fast the read side rebuilds its views from the log (issue 5), per view
// store, against raw baselines measured in the same run, and how far behind the log the
// projection processor stays while events arrive at a fixed rate.
//
//  1. Writes a generated history (tools/history: projects and clusters, every event type) of
//     --events events into a fresh embedded log.
//  2. Baselines: reading every record through EventLog::read (no parsing, no projection), the
//     same plus parsing each envelope, and raw RocksDB WriteBatches (synced) of as many rows as
//     the RocksDB replay wrote, batch for batch — the storage floor.
//  3. replay() from offset 0 into a fresh store: memory, RocksDB (infra/rocksdb/view_store),
//     PostgreSQL (infra/postgres/view_store; DATABASE_URL or --database-url, a schema of its own
//     dropped at the end).
//  4. Projection lag: a ProjectionProcessor on a fresh log and store while a writer appends the
//     generated history at --lag-rate events/s (--lag-batch per append, stamped at append time
//     as the command processor does) for --lag-seconds; the per-event lag (view commit time
//     minus occurred_at) from ProjectionStats::recent_lag_ms, sampled so each event counts once.
#include <CLI/CLI.hpp>
#include <pqxx/pqxx>
#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>

#include "bench/bench_util.h"
#include "bench/projection_lag.h"
#include "events/envelope.h"
#include "events/topics.h"
#include "infra/postgres/view_store.h"
#include "infra/rocksdb/rocks_event_log.h"
#include "infra/rocksdb/view_store.h"
#include "projections/memory_view_store.h"
#include "projections/projection_processor.h"
#include "projections/replay.h"
#include "tools/history/history.h"

namespace {

using axion::bench::Clock;
using axion::bench::fmt;
using axion::bench::thousands;
namespace fs = std::filesystem;
namespace projections = axion::projections;

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

void check(const axion::Status& s, const std::string& what) {
  if (!s.ok()) {
    std::cerr << what << ": " << s.to_string() << "\n";
    std::exit(1);
  }
}

std::unique_ptr<axion::events::EventLog> open_log(const std::string& dir) {
  axion::infra::rocksdb::RocksLogConfig config;
  config.path = dir;
  auto log = axion::infra::rocksdb::open_rocks_event_log(config);
  check(log.status(), "open log " + dir);
  for (const auto& t : axion::events::kTopicDefaults) {
    check((*log)->ensure_topic({std::string(t.name), axion::events::kDefaultPartitions}),
          "ensure topic");
  }
  return std::move(log).value();
}

std::vector<axion::events::TopicPartition> event_partitions() {
  std::vector<axion::events::TopicPartition> out;
  for (std::string_view topic :
       {axion::events::kDeploymentEventsTopic, axion::events::kInfrastructureEventsTopic}) {
    for (std::int32_t p = 0; p < axion::events::kDefaultPartitions; ++p) {
      out.push_back({std::string(topic), p});
    }
  }
  return out;
}

// Forwards to a store and counts what the replay commits (for the raw RocksDB baseline).
class CountingStore final : public projections::ViewStore {
 public:
  explicit CountingStore(projections::ViewStore& store) : store_(store) {}
  axion::Result<std::optional<projections::Row>> get(projections::Table table,
                                                     const std::string& key) override {
    gets.fetch_add(1, std::memory_order_relaxed);
    return store_.get(table, key);
  }
  axion::Result<std::vector<projections::Row>> get_many(
      projections::Table table, const std::vector<std::string>& keys) override {
    gets.fetch_add(keys.size(), std::memory_order_relaxed);
    return store_.get_many(table, keys);
  }
  bool remote_reads() const override { return store_.remote_reads(); }
  axion::Result<projections::Page> list(const projections::Query& query) override {
    return store_.list(query);
  }
  axion::Status commit(const projections::ViewBatch& batch) override {
    {
      std::lock_guard lock(mu_);  // the replay commits from several threads
      batch_rows.push_back(batch.mutations.size());
      for (const auto& m : batch.mutations) bytes += m.row.key.size() + m.row.doc.size();
    }
    return store_.commit(batch);
  }
  axion::Result<projections::Offsets> offsets(const std::string& projection) override {
    return store_.offsets(projection);
  }
  axion::Status clear() override { return store_.clear(); }

  std::vector<std::size_t> batch_rows;  // mutations per commit
  std::uint64_t bytes = 0;              // keys + docs committed
  std::atomic<std::uint64_t> gets{0};   // point reads of rows not yet in the batch

  std::uint64_t rows() const {
    std::uint64_t n = 0;
    for (auto r : batch_rows) n += r;
    return n;
  }

 private:
  projections::ViewStore& store_;
  std::mutex mu_;
};

struct Line {
  std::string name;
  std::uint64_t events = 0;
  double seconds = 0;
  std::string note;
  double per_second() const { return seconds > 0 ? static_cast<double>(events) / seconds : 0; }
};

// Reads every record of the events topics; optionally parses each envelope.
Line read_all(axion::events::EventLog& log, bool parse) {
  Line line{parse ? "read + parse envelopes (no projection)" : "raw read (EventLog::read)"};
  std::uint64_t bytes = 0;
  const auto start = Clock::now();
  for (const auto& tp : event_partitions()) {
    auto end = log.end_offset(tp);
    check(end.status(), "end offset");
    for (std::int64_t next = 0; next < *end;) {
      auto records = log.read(tp, next, 5000, std::chrono::milliseconds(1000));
      check(records.status(), "read");
      if (records->empty()) break;
      for (const auto& r : *records) {
        bytes += r.value.size();
        if (parse) check(axion::events::parse_envelope(r).status(), "parse");
      }
      line.events += records->size();
      next = records->back().offset + 1;
    }
  }
  line.seconds = seconds_since(start);
  line.note = fmt("%.0f", static_cast<double>(bytes) / 1e6) + " MB of records";
  return line;
}

Line timed_replay(axion::events::EventLog& log, projections::ViewStore& store,
                  const std::string& name, std::size_t batch, std::size_t threads,
                  std::unique_ptr<CountingStore>* counted) {
  auto counting = std::make_unique<CountingStore>(store);
  projections::ReplayOptions options;
  options.batch_records = batch;
  options.threads = threads;
  const auto start = Clock::now();
  auto stats = projections::replay(log, *counting, options);
  Line line{name, 0, seconds_since(start)};
  check(stats.status(), "replay into " + name);
  line.events = stats->events;
  line.note = thousands(static_cast<double>(counting->rows())) + " rows in " +
              std::to_string(stats->batches) + " commits, " +
              fmt("%.0f", static_cast<double>(counting->bytes) / 1e6) + " MB";
  if (counted) *counted = std::move(counting);
  return line;
}

// Raw RocksDB: the same number of rows per batch as the RocksDB replay committed (a row put plus
// one index entry, values of the average doc size), one synced WriteBatch per replay commit.
Line raw_rocks(const std::string& dir, const CountingStore& replayed) {
  ::rocksdb::Options options;
  options.create_if_missing = true;
  ::rocksdb::DB* raw = nullptr;
  auto s = ::rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    std::cerr << "open raw rocksdb: " << s.ToString() << "\n";
    std::exit(1);
  }
  std::unique_ptr<::rocksdb::DB> db(raw);
  const std::uint64_t rows = replayed.rows();
  const std::size_t value_size = rows ? static_cast<std::size_t>(replayed.bytes / rows) : 100;
  const std::string value(value_size, 'v');
  ::rocksdb::WriteOptions write;
  write.sync = true;
  std::uint64_t n = 0;
  const auto start = Clock::now();
  for (std::size_t b = 0; b < replayed.batch_rows.size(); ++b) {
    ::rocksdb::WriteBatch wb;
    for (std::size_t i = 0; i < replayed.batch_rows[b]; ++i, ++n) {
      const std::string key = "R" + std::to_string(n % 7) + "/row-" + std::to_string(n);
      wb.Put(key, value);
      wb.Put("X" + key, "index");
    }
    s = db->Write(write, &wb);
    if (!s.ok()) {
      std::cerr << "raw rocksdb write: " << s.ToString() << "\n";
      std::exit(1);
    }
  }
  Line line{"raw RocksDB WriteBatch, same rows (floor)", rows, seconds_since(start)};
  line.note = thousands(static_cast<double>(rows)) + " rows of " + std::to_string(value_size) +
              " B + an index entry each, " + std::to_string(replayed.batch_rows.size()) +
              " synced batches (rows/s)";
  return line;
}

struct Lag {
  std::string store;
  double rate = 0;  // achieved events/s
  std::uint64_t events = 0;
  std::vector<std::int64_t> samples;
  std::int64_t backlog = 0;  // records not applied when the writer stopped
  double at(double q) const { return static_cast<double>(axion::bench::quantile_ms(samples, q)); }
};

// A processor on `store` and a fresh log while a paced writer appends for `seconds`.
Lag measure_lag(const std::string& name, const std::string& dir, projections::ViewStore& store,
                double rate, std::size_t batch, double seconds) {
  auto log = open_log(dir);
  projections::ProjectionOptions views;
  views.group = "lag-" + name;
  views.clock = now_ms;
  projections::ProjectionProcessor processor(*log, store, views);
  check(processor.start(), "start projection processor");

  axion::tools::HistoryOptions history;
  history.events = static_cast<std::uint64_t>(rate * seconds);
  history.batch_records = batch;
  history.clock = now_ms;
  history.id_prefix = "lag";
  const auto start = Clock::now();
  history.before_append = [&](std::uint64_t written) {
    const auto due = start + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(static_cast<double>(written) / rate));
    std::this_thread::sleep_until(due);
  };

  Lag lag{name};
  std::atomic<bool> writing{true};
  axion::Result<axion::tools::HistorySummary> summary = axion::internal_error("not run");
  std::thread writer([&] {
    summary = axion::tools::write_history(*log, history);
    writing = false;
  });
  axion::bench::LagSampler sampler([&] { return processor.stats(); });
  while (writing) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    sampler.sample();
  }
  writer.join();
  const double elapsed = seconds_since(start);
  check(summary.status(), "write the live history");
  auto backlog = processor.lag_records();
  lag.backlog = backlog.ok() ? *backlog : -1;
  check(processor.wait_for(summary->last_positions(),
                           std::chrono::steady_clock::now() + std::chrono::minutes(5)),
        "projection catches up");
  lag.samples = sampler.stop();
  processor.stop();
  check(processor.health(), "projection processor");
  lag.events = summary->events;
  lag.rate = static_cast<double>(summary->events) / elapsed;
  return lag;
}

std::string row(const Line& line, double baseline) {
  return "| " + line.name + " | " + thousands(static_cast<double>(line.events)) + " | " +
         fmt("%.2f", line.seconds) + " | " + thousands(line.per_second()) + " | " +
         (baseline > 0 ? fmt("%.2f", line.per_second() / baseline) : std::string("-")) + " | " +
         line.note + " |";
}

void drop_schema(const std::string& url, const std::string& schema) {
  try {
    pqxx::connection c(url);
    pqxx::work w(c);
    w.exec("DROP SCHEMA IF EXISTS " + w.quote_name(schema) + " CASCADE");
    w.commit();
  } catch (const std::exception& e) {
    std::cerr << "could not drop schema " << schema << ": " << e.what() << "\n";
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Replay (rebuild views from offset 0) per view store, raw baselines, projection lag."};
  std::uint64_t events = 1000000;
  std::size_t projects = 8, clusters = 4, servers = 12, batch = 10000, lag_batch = 10, threads = 0;
  double lag_rate = 1000, lag_seconds = 10;
  std::string dir, database_url, stores = "memory,rocksdb,postgres";
  app.add_option("--events", events, "events in the generated history")
      ->check(CLI::Range(static_cast<std::uint64_t>(100), static_cast<std::uint64_t>(100000000)))
      ->capture_default_str();
  app.add_option("--projects", projects, "projects in the history")->capture_default_str();
  app.add_option("--clusters", clusters, "clusters in the history")->capture_default_str();
  app.add_option("--servers", servers, "servers per cluster (at most)")->capture_default_str();
  app.add_option("--batch", batch, "records per replay commit")
      ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(1000000)))
      ->capture_default_str();
  app.add_option("--threads", threads, "partitions replayed at once (0: one per hardware thread)")
      ->capture_default_str();
  app.add_option("--stores", stores, "stores to replay into (memory,rocksdb,postgres)")
      ->capture_default_str();
  app.add_option("--database-url", database_url, "PostgreSQL (default: $DATABASE_URL)");
  app.add_option("--lag-rate", lag_rate, "events/s appended during the lag measurement (0: skip)")
      ->capture_default_str();
  app.add_option("--lag-batch", lag_batch, "records per append during the lag measurement")
      ->check(CLI::Range(static_cast<std::size_t>(1), static_cast<std::size_t>(10000)))
      ->capture_default_str();
  app.add_option("--lag-seconds", lag_seconds, "seconds of the lag measurement")
      ->capture_default_str();
  app.add_option("--dir", dir, "scratch directory (default: a fresh one in the temp dir)");
  CLI11_PARSE(app, argc, argv);
  if (dir.empty()) dir = (fs::temp_directory_path() / ("replay-bench-" + std::to_string(getpid()))).string();
  if (database_url.empty()) {
    if (const char* env = std::getenv("DATABASE_URL"); env && *env) database_url = env;
  }
  auto wanted = [&](const std::string& store) {
    return ("," + stores + ",").find("," + store + ",") != std::string::npos;
  };
  const bool postgres = wanted("postgres") && !database_url.empty();
  if (wanted("postgres") && database_url.empty()) {
    std::cout << "PostgreSQL skipped: no DATABASE_URL / --database-url\n";
  }
  fs::remove_all(dir);

  std::cout << "machine: " << axion::bench::machine_description() << "; " << axion::bench::utc_now()
            << "; load average " << axion::bench::load_average() << " at start\n";
  auto log = open_log(dir + "/log");
  axion::tools::HistoryOptions history;
  history.events = events;
  history.projects = projects;
  history.clusters = clusters;
  history.max_servers_per_cluster = servers;
  auto start = Clock::now();
  auto summary = axion::tools::write_history(*log, history);
  check(summary.status(), "write history");
  std::cout << "history: " << thousands(static_cast<double>(summary->events)) << " events ("
            << thousands(static_cast<double>(summary->project_events)) << " project, "
            << thousands(static_cast<double>(summary->infrastructure_events))
            << " infrastructure; " << summary->types.size() << " event types; "
            << summary->project_ids.size() << " projects, "
            << summary->cluster_ids.size() - summary->deleted_cluster_ids.size() << " clusters + "
            << summary->deleted_cluster_ids.size() << " created and deleted) written in " << fmt("%.1f", seconds_since(start)) << " s\n";

  std::vector<Line> lines;
  const Line raw = read_all(*log, false);
  lines.push_back(raw);
  lines.push_back(read_all(*log, true));
  if (wanted("memory")) {
    auto store = projections::make_memory_view_store();
    lines.push_back(timed_replay(*log, *store, "replay -> memory store", batch, threads, nullptr));
    std::cout << "memory done; load average " << axion::bench::load_average() << "\n";
  }
  std::unique_ptr<projections::ViewStore> rocks;
  std::unique_ptr<CountingStore> rocks_counts;
  if (wanted("rocksdb")) {
    auto store = axion::infra::rocksdb::open_rocks_view_store(dir + "/views-rocksdb");
    check(store.status(), "open RocksDB view store");
    rocks = std::move(store).value();
    lines.push_back(timed_replay(*log, *rocks, "replay -> RocksDB view store", batch, threads, &rocks_counts));
    lines.push_back(raw_rocks(dir + "/raw-rocksdb", *rocks_counts));
    std::cout << "rocksdb done; load average " << axion::bench::load_average() << "\n";
  }
  const std::string schema = "replay_bench_" + std::to_string(getpid());
  if (postgres) {
    axion::infra::postgres::PostgresConfig config;
    config.url = database_url;
    config.schema = schema;
    config.statement_timeout = std::chrono::milliseconds(600000);
    auto store = axion::infra::postgres::open_postgres_view_store(config);
    check(store.status(), "open PostgreSQL view store");
    lines.push_back(timed_replay(*log, **store, "replay -> PostgreSQL view store", batch, threads, nullptr));
    std::cout << "postgres done; load average " << axion::bench::load_average() << "\n";
  }

  std::cout << "\n| replay of " << thousands(static_cast<double>(summary->events))
            << " events | events | s | events/s | vs raw read | notes |\n"
            << "|---|---:|---:|---:|---:|---|\n";
  for (const auto& line : lines) std::cout << row(line, raw.per_second()) << "\n";
  if (rocks_counts) {
    std::cout << "\nRocksDB replay: " << thousands(static_cast<double>(rocks_counts->gets.load()))
              << " point reads of rows not yet in the batch\n";
  }
  rocks_counts.reset();
  rocks.reset();
  log.reset();

  if (lag_rate > 0) {
    std::vector<Lag> lags;
    if (wanted("memory")) {
      auto store = projections::make_memory_view_store();
      lags.push_back(measure_lag("memory", dir + "/lag-memory", *store, lag_rate, lag_batch, lag_seconds));
    }
    if (wanted("rocksdb")) {
      auto store = axion::infra::rocksdb::open_rocks_view_store(dir + "/lag-views-rocksdb");
      check(store.status(), "open RocksDB view store");
      lags.push_back(measure_lag("RocksDB", dir + "/lag-rocksdb", **store, lag_rate, lag_batch, lag_seconds));
    }
    if (postgres) {
      axion::infra::postgres::PostgresConfig config;
      config.url = database_url;
      config.schema = schema + "_lag";
      auto store = axion::infra::postgres::open_postgres_view_store(config);
      check(store.status(), "open PostgreSQL view store");
      lags.push_back(measure_lag("PostgreSQL", dir + "/lag-postgres", **store, lag_rate, lag_batch, lag_seconds));
    }
    std::cout << "\n| projection lag, " << fmt("%.0f", lag_rate) << " events/s offered in appends of "
              << lag_batch << " | events/s achieved | samples | p50 ms | p99 ms | max ms | backlog at stop |\n"
              << "|---|---:|---:|---:|---:|---:|---:|\n";
    for (const auto& l : lags) {
      std::cout << "| " << l.store << " | " << thousands(l.rate) << " | "
                << thousands(static_cast<double>(l.samples.size())) << " | " << fmt("%.0f", l.at(0.5))
                << " | " << fmt("%.0f", l.at(0.99)) << " | "
                << fmt("%.0f", l.samples.empty() ? 0.0 : static_cast<double>(l.samples.back()))
                << " | " << l.backlog << " |\n";
    }
  }
  if (postgres) {
    drop_schema(database_url, schema);
    drop_schema(database_url, schema + "_lag");
  }
  std::cout << "\nload average " << axion::bench::load_average() << " at end\n";
  fs::remove_all(dir);
  return 0;
}
