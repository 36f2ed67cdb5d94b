// commands_bench: accepted DeployProject commands/s and per-call latency through the whole
// control plane — a ServerApp in-process (log, command processor, command bus, gRPC gateway) on
// an ephemeral port, called over real gRPC with a bearer token from C concurrent client threads.
//   embedded: a fresh data directory under --dir (default a new temp dir), removed afterwards;
//   kafka:    when KAFKA_BROKERS is set or --kafka host:port is given; a fresh instance id, but
//             Axion's topics are shared with whatever else used that broker.
// Setup: P projects, each registered and with one published graph (2 services). Each client
// thread then deploys its projects round-robin, each request to a new environment
// ("c<C>-e<thread>-<n>"), so every command is accepted (one active deployment per environment).
// The server runs the deployment saga, which moves each deployment on through commands of its
// own (the bench registers no servers, so placement fails it): about three events per
// DeployProject instead of one. --no-sagas leaves the saga out.
// Clients: with --client async (the default) each channel has one completion-queue thread that
// keeps its share of the C calls in flight (C outstanding calls, as C blocking threads would, at
// a fraction of the client's CPU); --client sync runs C threads making blocking calls.
// Besides throughput and latency it reports the process's CPU time per accepted command (user +
// system, server and clients together): unlike throughput, that barely moves with other load on
// the machine, so it is the figure to compare changes by on a shared machine.
// The raw baselines, in the same run with the same client (bench/commands_raw.h): a bare gRPC
// server answering DeployProject at once, and answering after one synced RocksDB write (before
// the embedded cells) or one committed Kafka transaction (before the Kafka cells) for everything
// queued; each Axion row's accepted/s is divided by its durable baseline's.
// Prints a markdown table for docs/BENCHMARKS.md, with the machine and the date.
//
//   commands_bench [--seconds 5] [--clients 1,16,64] [--projects 64] [--channels 4]
//                  [--mode embedded|kafka|all] [--dir DIR] [--kafka host:port]
//                  [--client async|sync] [--views rocksdb|postgres] [--no-baseline]
//                  [--no-sagas]
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "axion/v1/deployment.grpc.pb.h"
#include "axion/v1/project.grpc.pb.h"
#include "bench/bench_cli.h"
#include "bench/bench_util.h"
#include "bench/commands_client.h"
#include "bench/commands_raw.h"
#include "bench/projection_lag.h"
#include "events/topics.h"
#include "infra/postgres/migrations.h"
#include "server/server_app.h"

namespace {

using namespace axion;
using namespace axion::bench;
namespace fs = std::filesystem;
namespace v1 = axion::v1;

// The raw baselines' rows (bench/commands_raw.h).
constexpr const char* kRawGrpc = "raw gRPC";
constexpr const char* kRawRocks = "raw gRPC + RocksDB sync";
constexpr const char* kRawKafka = "raw gRPC + Kafka txn";

struct Options {
  double seconds = 5;
  std::vector<int> clients{1, 16, 64};
  int projects = 64;
  int channels = 4;  // client channels, shared round-robin by the client threads
  std::string mode = "all";
  std::string dir;
  std::string kafka;
  std::string client = "async";
  std::string views = "rocksdb";
  std::string database_url;
  bool baseline = true;  // the raw baselines (bench/commands_raw.h) before each mode's cells
  bool sagas = true;     // the server runs the deployment saga (AXION_RUN_SAGAS)
};

Options parse(int argc, char** argv) {
  Options o;
  CLI::App app{"commands_bench: accepted DeployProject commands/s end to end over gRPC"};
  add_seconds(app, o.seconds);
  add_counts(app, "--clients", o.clients, "concurrent calls per cell");
  app.add_option("--projects", o.projects, "projects the calls are spread over")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--channels", o.channels, "client gRPC channels (connections)")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--mode", o.mode, "which logs to run the server on")
      ->check(CLI::IsMember({"embedded", "kafka", "all"}))
      ->capture_default_str();
  add_dir_and_kafka(app, o.dir, o.kafka);
  app.add_option("--client", o.client,
                 "async: a completion-queue thread per channel keeps the calls in flight; "
                 "sync: one thread per call, blocking")
      ->check(CLI::IsMember({"async", "sync"}))
      ->capture_default_str();
  app.add_option("--views", o.views,
                 "the server's view store: rocksdb, or postgres (a fresh schema in "
                 "--database-url / $DATABASE_URL, dropped afterwards)")
      ->check(CLI::IsMember({"rocksdb", "postgres"}))
      ->capture_default_str();
  app.add_option("--database-url", o.database_url, "PostgreSQL for --views postgres");
  app.add_flag("!--no-sagas", o.sagas,
               "the server runs no deployment saga (AXION_RUN_SAGAS=0, as a command-side server "
               "whose sagas run elsewhere): only the commands themselves are measured");
  app.add_flag("!--no-baseline", o.baseline,
               "skip the raw baselines (a bare gRPC server answering at once, or after a raw "
               "RocksDB sync or Kafka transaction)");
  parse_or_exit(app, argc, argv, o.dir, o.kafka, "axion-commands-bench");
  if (o.views == "postgres" && o.database_url.empty()) {
    if (const char* env = std::getenv("DATABASE_URL"); env && *env) o.database_url = env;
    if (o.database_url.empty()) {
      std::cerr << "--views postgres needs --database-url or DATABASE_URL\n";
      std::exit(2);
    }
  }
  return o;
}

struct Row {
  std::string mode;
  int clients = 0;
  std::string baseline;  // for Axion's rows: the raw mode its throughput is compared with
  CellResult result;
  double cpu_us_per_command = 0;     // process CPU (user + system) per accepted command
  std::vector<std::int64_t> lag_ms;  // per-event projection lag during the cell, sorted
};

// One cell: `c` calls kept in flight for --seconds against the server behind `channels`.
// `stats` (empty for the raw baselines) gives the server's projection counters, sampled for the
// projection lag during the cell.
Row measure(const std::string& mode, int c, std::vector<std::unique_ptr<Client>>& channels,
            const std::vector<std::string>& projects, const Options& o,
            const LagSampler::StatsFn& stats) {
  const auto duration = std::chrono::duration<double>(o.seconds);
  const auto cpu_before = process_cpu();
  Row row{mode, c, {}, {}};
  std::optional<LagSampler> lag;
  projections::ProjectionStats views_before;
  if (stats) {
    lag.emplace(stats);
    views_before = stats();
    lag->start();
  }
  if (o.client == "async") {
    row.result = run_async_cell(channels, c, duration, projects);
  } else {
    row.result = run_cell(c, duration, [&](int t, std::uint64_t seq, std::string* error) {
      Client& client = *channels[static_cast<std::size_t>(t) % channels.size()];
      return deploy_once(client, deploy_request(projects, c, t, seq), error);
    });
  }
  std::string views;
  if (stats) {
    row.lag_ms = lag->stop();
    const auto views_after = stats();
    views = ", view lag p99 " + std::to_string(quantile_ms(row.lag_ms, 0.99)) + " ms (" +
            std::to_string(views_after.events_applied - views_before.events_applied) +
            " events in " + std::to_string(views_after.batches - views_before.batches) +
            " view commits)";
  }
  const auto cpu = process_cpu() - cpu_before;
  if (row.result.ops > 0) {
    row.cpu_us_per_command = static_cast<double>(cpu.count()) / static_cast<double>(row.result.ops);
  }
  std::cerr << mode << " clients=" << c << ": " << thousands(row.result.per_second()) << "/s p50 "
            << fmt("%.2f", row.result.p50_ms) << " ms p99 " << fmt("%.2f", row.result.p99_ms)
            << " ms, " << fmt("%.0f", row.cpu_us_per_command) << " us CPU/command" << views
            << ", errors " << row.result.errors << "\n";
  return row;
}

// "<pid>-<unix seconds>": names this run's projects, topics and directories apart from other runs'.
std::string run_id() {
  return std::to_string(getpid()) + "-" +
         std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count());
}

// Rows of `label` that failed before any cell ran.
std::vector<Row> failed_rows(const std::string& label, const Options& o, const std::string& why) {
  std::vector<Row> rows;
  for (int c : o.clients) {
    Row row{label, c, {}, {}};
    row.result.errors = 1;
    row.result.first_error = why;
    rows.push_back(std::move(row));
  }
  return rows;
}

// The cells against a raw baseline server (bench/commands_raw.h): the same client and requests,
// to project ids that need not exist (the raw server reads none).
std::vector<Row> bench_raw(RawKind kind, const std::string& label, const Options& o) {
  const std::string name = "bench-raw-" + std::to_string(static_cast<int>(kind)) + "-" + run_id();
  const std::string path = o.dir + "/" + name;
  fs::create_directories(o.dir);
  auto server = RawCommandServer::start(kind, path, o.kafka, name);
  if (!server.ok()) {
    std::cerr << label << ": " << server.status().to_string() << "\n";
    fs::remove_all(path);
    return failed_rows(label, o, server.status().to_string());
  }
  std::vector<std::string> projects;
  for (int i = 0; i < o.projects; ++i) projects.push_back("prj-raw-" + std::to_string(i));
  auto run = [&]() -> std::vector<Row> {
    auto channels = make_clients((*server)->port(), o.channels);
    // Warm-up: a new Kafka topic's first transaction waits for its metadata and partition
    // leaders (up to a second), which is set-up, not the baseline.
    for (std::uint64_t i = 0; i < 3; ++i) {
      std::string error;
      if (!deploy_once(*channels[0], deploy_request(projects, 1, 0, 1000000 + i), &error))
        return failed_rows(label, o, "warm-up: " + error);
    }
    std::vector<Row> rows;
    for (int c : o.clients) rows.push_back(measure(label, c, channels, projects, o, {}));
    return rows;
  };
  std::vector<Row> rows = run();
  server->reset();
  fs::remove_all(path);
  return rows;
}

// Starts a server for `mode`, sets up the projects and runs one cell per client count.
std::vector<Row> bench_mode(const std::string& mode, const Options& o) {
  std::vector<Row> rows;
  const std::string run = run_id();
  server::ServerConfig config;
  config.data_dir = o.dir + "/" + mode;
  if (mode == "kafka") {
    config.kafka_brokers = o.kafka;
    config.kafka_timeout = std::chrono::milliseconds(15000);
  }
  config.topic_partitions = events::kDefaultPartitions;  // as every server on a shared broker
  config.http_addr = "127.0.0.1:0";
  config.grpc_addr = "127.0.0.1:0";
  config.instance_id = "bench-" + run;
  config.api_tokens = {{"bench", infra::gateway::token_digest(kBenchToken)}};
  config.master_key = "bench=YmVuY2gtbWFzdGVyLWtleS0zMi1ieXRlcy1sb25nISE=";
  config.max_deployments_per_project = 1 << 30;
  config.run_sagas = o.sagas;
  if (o.views == "postgres") {
    config.database_url = o.database_url;
    config.views_schema = "commands_bench_" + std::to_string(getpid()) + "_" + mode;
  }
  fs::remove_all(config.data_dir);
  fs::create_directories(config.data_dir);

  auto fail = [&](const std::string& why) {
    auto failed = failed_rows(mode, o, why);
    rows.insert(rows.end(), failed.begin(), failed.end());
  };
  server::ServerApp app(config);
  if (Status st = app.start(); !st.ok()) {
    std::cerr << mode << ": server did not start: " << st.to_string() << "\n";
    fail("start: " + st.to_string());
    fs::remove_all(config.data_dir);
    return rows;
  }
  std::cerr << mode << ": server on 127.0.0.1:" << app.grpc_port() << ", setting up " << o.projects
            << " projects\n";
  {
    auto clients = make_clients(app.grpc_port(), o.channels);
    auto projects = set_up_projects(*clients[0], o.projects, run);
    if (!projects.ok()) {
      std::cerr << mode << ": setup failed: " << projects.status().to_string() << "\n";
      fail("setup: " + projects.status().to_string());
    } else {
      for (int c : o.clients) {
        rows.push_back(
            measure(mode, c, clients, *projects, o, [&] { return app.projection_stats(); }));
      }
    }
  }
  app.stop();
  fs::remove_all(config.data_dir);
  if (o.views == "postgres") {
    Status dropped = infra::postgres::drop_postgres_schema(o.database_url, config.views_schema);
    if (!dropped.ok())
      std::cerr << "drop " << config.views_schema << ": " << dropped.to_string() << "\n";
  }
  return rows;
}

void print_table(const std::vector<Row>& rows, const Options& o, const std::string& load_start,
                 bool kafka_skipped) {
  std::cout
      << "\nmachine: " << machine_description() << "; " << utc_now() << "; load average "
      << load_start << " at start, " << load_average() << " at end\n"
      << "workload: DeployProject over gRPC (bearer token) to a new environment per call, "
      << o.projects << " projects with a 2-service graph, " << fmt("%g", o.seconds)
      << " s per cell, " << o.channels << " client channels, " << o.client
      << " client, server and clients in one process, " << o.views << " views, "
      << (o.sagas ? "with" : "without") << " the deployment saga\n\n"
      << "| mode | clients | accepted/s | ÷ baseline | p50 ms | p99 ms | p99.9 ms | CPU µs/cmd "
         "| errors | view lag p50 ms | view lag p99 ms | lag samples |\n"
      << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  // The accepted/s of `mode`'s cell with `clients` calls, 0 if there is none.
  auto rate_of = [&](const std::string& mode, int clients) {
    for (const Row& row : rows) {
      if (row.mode == mode && row.clients == clients) return row.result.per_second();
    }
    return 0.0;
  };
  for (const Row& row : rows) {
    const CellResult& r = row.result;
    const double base = row.baseline.empty() ? 0 : rate_of(row.baseline, row.clients);
    std::cout << "| " << row.mode << " | " << row.clients << " | "
              << (r.ops ? thousands(r.per_second()) : "failed") << " | "
              << (base > 0 && r.ops ? fmt("%.2f", r.per_second() / base) : std::string("–"))
              << " | " << fmt("%.2f", r.p50_ms) << " | " << fmt("%.2f", r.p99_ms) << " | "
              << fmt("%.2f", r.p999_ms) << " | " << fmt("%.0f", row.cpu_us_per_command) << " | "
              << r.errors << " | " << quantile_ms(row.lag_ms, 0.5) << " | "
              << quantile_ms(row.lag_ms, 0.99) << " | " << row.lag_ms.size() << " |\n";
  }
  if (o.baseline) {
    std::cout << "\n÷ baseline: accepted/s over the same cell of " << kRawRocks << " (embedded), "
              << kRawKafka << " (kafka) or " << kRawGrpc << " (the raw durable rows). The raw "
              << "rows are a bare callback gRPC server answering at once, or after one synced "
                 "RocksDB write or one committed Kafka transaction for everything queued "
                 "(bench/commands_raw.h); no token check.\n";
  }
  if (kafka_skipped) std::cout << "\nkafka: skipped (set KAFKA_BROKERS or pass --kafka)\n";
  for (const Row& row : rows) {
    if (row.result.errors > 0) {
      std::cout << "\nnote: " << row.mode << " clients=" << row.clients << ": " << row.result.errors
                << " refused/failed calls, first: " << row.result.first_error << "\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const std::string load_start = load_average();
  std::vector<Row> rows;
  bool kafka_skipped = false;
  auto add = [&](std::vector<Row> more, const std::string& baseline) {
    for (Row& row : more) row.baseline = baseline;
    rows.insert(rows.end(), more.begin(), more.end());
  };
  const bool embedded = o.mode == "embedded" || o.mode == "all";
  const bool kafka = (o.mode == "kafka" || o.mode == "all") && !o.kafka.empty();
  if (o.baseline && (embedded || kafka)) add(bench_raw(RawKind::kAnswer, kRawGrpc, o), {});
  if (embedded) {
    if (o.baseline) add(bench_raw(RawKind::kRocksDb, kRawRocks, o), kRawGrpc);
    add(bench_mode("embedded", o), o.baseline ? kRawRocks : "");
  }
  if (kafka) {
    if (o.baseline) add(bench_raw(RawKind::kKafka, kRawKafka, o), kRawGrpc);
    add(bench_mode("kafka", o), o.baseline ? kRawKafka : "");
  } else if (o.mode == "kafka" || o.mode == "all") {
    kafka_skipped = true;
    std::cerr << "kafka: skipped (set KAFKA_BROKERS or pass --kafka)\n";
  }
  std::error_code ec;
  fs::remove(o.dir, ec);  // only if empty: never remove what was there before
  print_table(rows, o, load_start, kafka_skipped);
  bool failed = false;
  for (const Row& row : rows) failed = failed || row.result.ops == 0 || row.result.errors > 0;
  return failed ? 1 : 0;
}
