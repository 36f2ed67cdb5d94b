// commands_bench: accepted DeployProject commands/s and per-call latency through the whole
// control plane — a ServerApp in-process (log, command processor, command bus, gRPC gateway) on
// an ephemeral port, called over real gRPC with a bearer token from C concurrent client threads.
//   embedded: a fresh data directory under --dir (default a new temp dir), removed afterwards;
//   kafka:    when KAFKA_BROKERS is set or --kafka host:port is given; a fresh instance id, but
//             Axion's topics are shared with whatever else used that broker.
// Setup: P projects, each registered and with one published graph (2 services). Each client
// thread then deploys its projects round-robin, each request to a new environment
// ("c<C>-e<thread>-<n>"), so every command is accepted (one active deployment per environment).
// Clients: with --client async (the default) each channel has one completion-queue thread that
// keeps its share of the C calls in flight (C outstanding calls, as C blocking threads would, at
// a fraction of the client's CPU); --client sync runs C threads making blocking calls.
// Besides throughput and latency it reports the process's CPU time per accepted command (user +
// system, server and clients together): unlike throughput, that barely moves with other load on
// the machine, so it is the figure to compare changes by on a shared machine.
// Prints a markdown table for docs/BENCHMARKS.md, with the machine and the date.
//
//   commands_bench [--seconds 5] [--clients 1,16,64] [--projects 64] [--channels 4]
//                  [--mode embedded|kafka|all] [--dir DIR] [--kafka host:port]
//                  [--client async|sync]
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>
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
#include "bench/projection_lag.h"
#include "events/topics.h"
#include "infra/postgres/migrations.h"
#include "server/server_app.h"

namespace {

using namespace axion;
using namespace axion::bench;
namespace fs = std::filesystem;
namespace v1 = axion::v1;

constexpr const char* kToken = "bench-token-0123456789abcdef";

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
  CellResult result;
  double cpu_us_per_command = 0;  // process CPU (user + system) per accepted command
  std::vector<std::int64_t> lag_ms;  // per-event projection lag during the cell, sorted
};

// User + system CPU time of the whole process so far.
std::chrono::microseconds process_cpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return std::chrono::seconds(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         std::chrono::microseconds(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

void authorize(grpc::ClientContext& ctx) {
  ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

std::string describe(const grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

// One client: its own channel (a distinct channel arg keeps gRPC from sharing the connection).
struct Client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ProjectService::Stub> projects;
  std::unique_ptr<v1::DeploymentService::Stub> deployments;

  Client(int port, int index) {
    grpc::ChannelArguments args;
    args.SetInt("axion.bench.channel", index);
    channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                        grpc::InsecureChannelCredentials(), args);
    projects = v1::ProjectService::NewStub(channel);
    deployments = v1::DeploymentService::NewStub(channel);
  }
};

// The DeployProject request of call `seq` of client `t` among `clients`: the projects round-robin,
// each call to a new environment, so every command is accepted.
v1::DeployProjectRequest deploy_request(const std::vector<std::string>& projects, int clients,
                                        int t, std::uint64_t seq) {
  const auto n = static_cast<std::size_t>(t) + seq * static_cast<std::size_t>(clients);
  v1::DeployProjectRequest req;
  req.set_project_id(projects[n % projects.size()]);
  req.set_environment("c" + std::to_string(clients) + "-e" + std::to_string(t) + "-" +
                      std::to_string(seq));
  return req;
}

// `clients` calls kept in flight for `duration` with the async API: client t uses channel
// t % channels, and each channel has one thread that reaps completions from its completion queue
// and starts that client's next call. Latency is per call, from its start to its completion.
CellResult run_async_cell(std::vector<std::unique_ptr<Client>>& channels, int clients,
                          std::chrono::duration<double> duration,
                          const std::vector<std::string>& projects) {
  struct Slot {
    int t = 0;
    std::uint64_t seq = 0;
    std::unique_ptr<grpc::ClientContext> ctx;
    v1::DeployProjectResponse resp;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::DeployProjectResponse>> rpc;
    Clock::time_point started;
  };
  struct PerThread {
    std::vector<std::int64_t> lat_ns;
    std::uint64_t errors = 0;
    std::string first_error;
    Clock::time_point end;
  };
  const std::size_t n_threads = std::min(channels.size(), static_cast<std::size_t>(clients));
  std::vector<Slot> slots(static_cast<std::size_t>(clients));
  std::vector<PerThread> per(n_threads);
  std::vector<grpc::CompletionQueue> queues(n_threads);
  std::atomic<bool> go{false};
  Clock::time_point start{}, deadline{};
  auto start_call = [&](Slot& slot, grpc::CompletionQueue& cq) {
    Client& client = *channels[static_cast<std::size_t>(slot.t) % channels.size()];
    slot.ctx = std::make_unique<grpc::ClientContext>();
    authorize(*slot.ctx);
    slot.started = Clock::now();
    slot.rpc = client.deployments->AsyncDeployProject(
        slot.ctx.get(), deploy_request(projects, clients, slot.t, slot.seq++), &cq);
    slot.rpc->Finish(&slot.resp, &slot.status, &slot);
  };
  std::vector<std::thread> threads;
  for (std::size_t q = 0; q < n_threads; ++q) {
    threads.emplace_back([&, q] {
      PerThread& me = per[q];
      me.lat_ns.reserve(1 << 16);
      go.wait(false);
      std::size_t in_flight = 0;
      for (std::size_t i = q; i < slots.size(); i += n_threads) {
        slots[i].t = static_cast<int>(i);
        start_call(slots[i], queues[q]);
        ++in_flight;
      }
      void* tag = nullptr;
      bool ok = false;
      while (in_flight > 0 && queues[q].Next(&tag, &ok)) {
        Slot& slot = *static_cast<Slot*>(tag);
        const Clock::time_point now = Clock::now();
        if (ok && slot.status.ok()) {
          me.lat_ns.push_back(
              std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.started).count());
        } else if (me.errors++ == 0) {
          me.first_error = ok ? describe(slot.status) : "the completion queue failed the call";
        }
        if (now < deadline && me.errors < 100) {
          start_call(slot, queues[q]);
        } else {
          --in_flight;
        }
      }
      me.end = Clock::now();
    });
  }
  start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(duration);
  go.store(true);
  go.notify_all();
  for (auto& th : threads) th.join();
  for (auto& cq : queues) {
    cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
    }
  }

  CellResult r;
  std::vector<std::int64_t> all;
  Clock::time_point last_end = start;
  for (auto& p : per) {
    r.ops += p.lat_ns.size();
    r.errors += p.errors;
    if (r.first_error.empty()) r.first_error = p.first_error;
    all.insert(all.end(), p.lat_ns.begin(), p.lat_ns.end());
    last_end = std::max(last_end, p.end);
  }
  r.seconds = std::chrono::duration<double>(last_end - start).count();
  std::sort(all.begin(), all.end());
  r.p50_ms = percentile_ms(all, 0.50);
  r.p99_ms = percentile_ms(all, 0.99);
  r.p999_ms = percentile_ms(all, 0.999);
  r.max_ms = all.empty() ? 0 : static_cast<double>(all.back()) / 1e6;
  return r;
}

// P projects, each registered with one published 2-service graph; their ids.
Result<std::vector<std::string>> set_up_projects(Client& client, int count, const std::string& run) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    v1::RegisterProjectResponse reg;
    {
      grpc::ClientContext ctx;
      authorize(ctx);
      v1::RegisterProjectRequest req;
      req.set_name("bench-" + run + "-" + std::to_string(i));
      auto s = client.projects->RegisterProject(&ctx, req, &reg);
      if (!s.ok()) return unavailable("RegisterProject: " + describe(s));
    }
    grpc::ClientContext ctx;
    authorize(ctx);
    v1::PublishGraphRequest req;
    req.set_project_id(reg.project_id());
    for (const char* name : {"web", "api"}) {
      auto* svc = req.add_services();
      svc->set_name(name);
      svc->set_image(std::string("bench/") + name + ":1");
    }
    v1::PublishGraphResponse pub;
    auto s = client.projects->PublishGraph(&ctx, req, &pub);
    if (!s.ok()) return unavailable("PublishGraph: " + describe(s));
    ids.push_back(reg.project_id());
  }
  return ids;
}

// Starts a server for `mode`, sets up the projects and runs one cell per client count.
std::vector<Row> bench_mode(const std::string& mode, const Options& o) {
  std::vector<Row> rows;
  const std::string run = std::to_string(getpid()) + "-" +
                          std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count());
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
  config.api_tokens = {{"bench", infra::gateway::token_digest(kToken)}};
  config.master_key = "bench=YmVuY2gtbWFzdGVyLWtleS0zMi1ieXRlcy1sb25nISE=";
  config.max_deployments_per_project = 1 << 30;
  if (o.views == "postgres") {
    config.database_url = o.database_url;
    config.views_schema = "commands_bench_" + std::to_string(getpid()) + "_" + mode;
  }
  fs::remove_all(config.data_dir);
  fs::create_directories(config.data_dir);

  auto fail = [&](const std::string& why) {
    for (int c : o.clients) {
      Row row{mode, c, {}};
      row.result.errors = 1;
      row.result.first_error = why;
      rows.push_back(std::move(row));
    }
  };
  server::ServerApp app(config);
  if (Status st = app.start(); !st.ok()) {
    std::cerr << mode << ": server did not start: " << st.to_string() << "\n";
    fail("start: " + st.to_string());
    fs::remove_all(config.data_dir);
    return rows;
  }
  std::cerr << mode << ": server on 127.0.0.1:" << app.grpc_port() << ", setting up "
            << o.projects << " projects\n";
  {
    std::vector<std::unique_ptr<Client>> clients;
    for (int i = 0; i < o.channels; ++i) clients.push_back(std::make_unique<Client>(app.grpc_port(), i));
    auto projects = set_up_projects(*clients[0], o.projects, run);
    if (!projects.ok()) {
      std::cerr << mode << ": setup failed: " << projects.status().to_string() << "\n";
      fail("setup: " + projects.status().to_string());
    } else {
      for (int c : o.clients) {
        const auto duration = std::chrono::duration<double>(o.seconds);
        const auto cpu_before = process_cpu();
        Row row{mode, c, {}};
        LagSampler lag([&] { return app.projection_stats(); });
        const auto views_before = app.projection_stats();
        lag.start();
        if (o.client == "async") {
          row.result = run_async_cell(clients, c, duration, *projects);
        } else {
          row.result = run_cell(c, duration, [&](int t, std::uint64_t seq, std::string* error) {
            Client& client = *clients[static_cast<std::size_t>(t) % clients.size()];
            grpc::ClientContext ctx;
            authorize(ctx);
            v1::DeployProjectResponse resp;
            auto s = client.deployments->DeployProject(&ctx, deploy_request(*projects, c, t, seq),
                                                       &resp);
            if (s.ok()) return true;
            *error = describe(s);
            return false;
          });
        }
        row.lag_ms = lag.stop();
        const auto views_after = app.projection_stats();
        const auto view_commits = views_after.batches - views_before.batches;
        const auto view_events = views_after.events_applied - views_before.events_applied;
        const auto cpu = process_cpu() - cpu_before;
        if (row.result.ops > 0) {
          row.cpu_us_per_command =
              static_cast<double>(cpu.count()) / static_cast<double>(row.result.ops);
        }
        std::cerr << mode << " clients=" << c << ": " << thousands(row.result.per_second())
                  << "/s p50 " << fmt("%.2f", row.result.p50_ms) << " ms p99 "
                  << fmt("%.2f", row.result.p99_ms) << " ms, "
                  << fmt("%.0f", row.cpu_us_per_command) << " us CPU/command, view lag p99 "
                  << quantile_ms(row.lag_ms, 0.99) << " ms (" << view_events << " events in "
                  << view_commits << " view commits), errors " << row.result.errors << "\n";
        rows.push_back(std::move(row));
      }
    }
  }
  app.stop();
  fs::remove_all(config.data_dir);
  if (o.views == "postgres") {
    Status dropped = infra::postgres::drop_postgres_schema(o.database_url, config.views_schema);
    if (!dropped.ok()) std::cerr << "drop " << config.views_schema << ": " << dropped.to_string() << "\n";
  }
  return rows;
}

void print_table(const std::vector<Row>& rows, const Options& o, const std::string& load_start,
                 bool kafka_skipped) {
  std::cout << "\nmachine: " << machine_description() << "; " << utc_now() << "; load average "
            << load_start << " at start, " << load_average() << " at end\n"
            << "workload: DeployProject over gRPC (bearer token) to a new environment per call, "
            << o.projects << " projects with a 2-service graph, " << fmt("%g", o.seconds)
            << " s per cell, " << o.channels << " client channels, " << o.client
            << " client, server and clients in one process, " << o.views << " views\n\n"
            << "| mode | clients | accepted/s | p50 ms | p99 ms | p99.9 ms | CPU µs/cmd | errors "
               "| view lag p50 ms | view lag p99 ms | lag samples |\n"
            << "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (const Row& row : rows) {
    const CellResult& r = row.result;
    std::cout << "| " << row.mode << " | " << row.clients << " | "
              << (r.ops ? thousands(r.per_second()) : "failed") << " | "
              << fmt("%.2f", r.p50_ms) << " | " << fmt("%.2f", r.p99_ms) << " | "
              << fmt("%.2f", r.p999_ms) << " | " << fmt("%.0f", row.cpu_us_per_command) << " | "
              << r.errors << " | " << quantile_ms(row.lag_ms, 0.5) << " | "
              << quantile_ms(row.lag_ms, 0.99) << " | " << row.lag_ms.size() << " |\n";
  }
  if (kafka_skipped) std::cout << "\nkafka: skipped (set KAFKA_BROKERS or pass --kafka)\n";
  for (const Row& row : rows) {
    if (row.result.errors > 0) {
      std::cout << "\nnote: " << row.mode << " clients=" << row.clients << ": "
                << row.result.errors << " refused/failed calls, first: " << row.result.first_error
                << "\n";
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const std::string load_start = load_average();
  std::vector<Row> rows;
  bool kafka_skipped = false;
  if (o.mode == "embedded" || o.mode == "all") {
    auto r = bench_mode("embedded", o);
    rows.insert(rows.end(), r.begin(), r.end());
  }
  if (o.mode == "kafka" || o.mode == "all") {
    if (o.kafka.empty()) {
      kafka_skipped = true;
      std::cerr << "kafka: skipped (set KAFKA_BROKERS or pass --kafka)\n";
    } else {
      auto r = bench_mode("kafka", o);
      rows.insert(rows.end(), r.begin(), r.end());
    }
  }
  std::error_code ec;
  fs::remove(o.dir, ec);  // only if empty: never remove what was there before
  print_table(rows, o, load_start, kafka_skipped);
  bool failed = false;
  for (const Row& row : rows) failed = failed || row.result.ops == 0 || row.result.errors > 0;
  return failed ? 1 : 0;
}
