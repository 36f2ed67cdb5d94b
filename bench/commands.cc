// commands_bench: accepted DeployProject commands/s and per-call latency through the whole
// control plane — a ServerApp in-process (log, command processor, command bus, gRPC gateway) on
// an ephemeral port, called over real gRPC with a bearer token from C concurrent client threads.
//   embedded: a fresh data directory under --dir (default a new temp dir), removed afterwards;
//   kafka:    when KAFKA_BROKERS is set or --kafka host:port is given; a fresh instance id, but
//             Axion's topics are shared with whatever else used that broker.
// Setup: P projects, each registered and with one published graph (2 services). Each client
// thread then deploys its projects round-robin, each request to a new environment
// ("c<C>-e<thread>-<n>"), so every command is accepted (one active deployment per environment).
// Prints a markdown table for docs/BENCHMARKS.md, with the machine and the date.
//
//   commands_bench [--seconds 5] [--clients 1,16,64] [--projects 64] [--channels 4]
//                  [--mode embedded|kafka|all] [--dir DIR] [--kafka host:port]
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "axion/v1/deployment.grpc.pb.h"
#include "axion/v1/project.grpc.pb.h"
#include "bench/bench_util.h"
#include "events/topics.h"
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
};

[[noreturn]] void usage(const std::string& why) {
  if (!why.empty()) std::cerr << "commands_bench: " << why << "\n";
  std::cerr << "usage: commands_bench [--seconds N] [--clients 1,16,64] [--projects 64] "
               "[--channels 4] [--mode embedded|kafka|all] [--dir DIR] [--kafka host:port]\n";
  std::exit(why.empty() ? 0 : 2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    if (auto eq = a.find('='); eq != std::string::npos) {
      v = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (a == "--help" || a == "-h") {
      usage("");
    } else if (i + 1 < argc) {
      v = argv[++i];
    } else {
      usage(a + " needs a value");
    }
    try {
      if (a == "--seconds") {
        o.seconds = std::stod(v);
      } else if (a == "--clients") {
        o.clients.clear();
        std::stringstream ss(v);
        for (std::string n; std::getline(ss, n, ',');) o.clients.push_back(std::stoi(n));
      } else if (a == "--projects") {
        o.projects = std::stoi(v);
      } else if (a == "--channels") {
        o.channels = std::stoi(v);
      } else if (a == "--mode") {
        o.mode = v;
      } else if (a == "--dir") {
        o.dir = v;
      } else if (a == "--kafka") {
        o.kafka = v;
      } else {
        usage("unknown flag " + a);
      }
    } catch (const std::exception&) {
      usage("bad value '" + v + "' for " + a);
    }
  }
  if (o.mode != "embedded" && o.mode != "kafka" && o.mode != "all") usage("bad --mode");
  if (o.seconds <= 0 || o.clients.empty() || o.projects <= 0 || o.channels <= 0) {
    usage("--seconds, --clients, --projects and --channels must be positive");
  }
  for (int c : o.clients) {
    if (c <= 0) usage("--clients must be positive");
  }
  if (o.kafka.empty()) {
    if (const char* env = std::getenv("KAFKA_BROKERS"); env && *env) o.kafka = env;
  }
  if (o.dir.empty()) {
    o.dir = (fs::temp_directory_path() / ("axion-commands-bench-" + std::to_string(getpid()))).string();
  }
  return o;
}

struct Row {
  std::string mode;
  int clients = 0;
  CellResult result;
};

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
  config.max_deployments_per_project = 1 << 30;
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
        const std::string cell = "c" + std::to_string(c);
        auto op = [&](int t, std::uint64_t seq, std::string* error) {
          Client& client = *clients[static_cast<std::size_t>(t) % clients.size()];
          const auto n = static_cast<std::size_t>(t) + seq * static_cast<std::size_t>(c);
          v1::DeployProjectRequest req;
          req.set_project_id((*projects)[n % projects->size()]);
          req.set_environment(cell + "-e" + std::to_string(t) + "-" + std::to_string(seq));
          grpc::ClientContext ctx;
          authorize(ctx);
          v1::DeployProjectResponse resp;
          auto s = client.deployments->DeployProject(&ctx, req, &resp);
          if (s.ok()) return true;
          *error = describe(s);
          return false;
        };
        Row row{mode, c, run_cell(c, std::chrono::duration<double>(o.seconds), op)};
        std::cerr << mode << " clients=" << c << ": " << thousands(row.result.per_second())
                  << "/s p50 " << fmt("%.2f", row.result.p50_ms) << " ms p99 "
                  << fmt("%.2f", row.result.p99_ms) << " ms errors " << row.result.errors << "\n";
        rows.push_back(std::move(row));
      }
    }
  }
  app.stop();
  fs::remove_all(config.data_dir);
  return rows;
}

void print_table(const std::vector<Row>& rows, const Options& o, const std::string& load_start,
                 bool kafka_skipped) {
  std::cout << "\nmachine: " << machine_description() << "; " << utc_now() << "; load average "
            << load_start << " at start, " << load_average() << " at end\n"
            << "workload: DeployProject over gRPC (bearer token) to a new environment per call, "
            << o.projects << " projects with a 2-service graph, " << fmt("%g", o.seconds)
            << " s per cell, " << o.channels
            << " client channels, server and clients in one process\n\n"
            << "| mode | clients | accepted/s | p50 ms | p99 ms | p99.9 ms | errors |\n"
            << "|---|---:|---:|---:|---:|---:|---:|\n";
  for (const Row& row : rows) {
    const CellResult& r = row.result;
    std::cout << "| " << row.mode << " | " << row.clients << " | "
              << (r.ops ? thousands(r.per_second()) : "failed") << " | "
              << fmt("%.2f", r.p50_ms) << " | " << fmt("%.2f", r.p99_ms) << " | "
              << fmt("%.2f", r.p999_ms) << " | " << r.errors << " |\n";
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
