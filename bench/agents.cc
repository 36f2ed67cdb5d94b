// agents_bench: how many agent streams one axion-server holds, and at what memory and CPU.
//
// Runs a real axion-server process (embedded log), creates a server record and a registration
// token per simulated agent, then opens one AgentService.Connect stream per agent from this
// process (callback client API, --channels connections) with a heartbeat every --heartbeat-ms.
// Measured on the server process: RSS after set-up and after the streams are held (delta /
// streams = memory per stream), CPU over a --steady-seconds window (cores, and microseconds per
// heartbeat), and streams held by its axion_agents_connected gauge. The raw baseline, in the same
// run: this binary re-run as a bare callback-API AgentService (--serve-bare), holding the same
// number of streams — what gRPC itself costs per stream.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "bench/agents_setup.h"
#include "bench/bench_cli.h"
#include "bench/bench_util.h"

extern char** environ;

namespace axion::bench {
namespace {

constexpr const char* kApiToken = "bench-token-0123456789";

struct Options {
  int agents = 50000;
  int heartbeat_ms = 5000;
  double steady_seconds = 30;
  int channels = 128;
  int connect_rate = 2000;
  int servers_per_cluster = 200;
  int setup_threads = 32;
  bool baseline = true;
  std::string server_bin = AXION_SERVER_BIN;
  std::string dir;
};

struct Phase {
  std::string name;
  std::size_t streams = 0;  // streams asked for
  std::uint64_t welcomed = 0, refused = 0, dropped = 0;
  std::int64_t gauge = -1;  // axion_agents_connected at the end (-1: none)
  std::int64_t rss_before_kib = 0, rss_after_kib = 0;
  double connect_seconds = 0, window_seconds = 0, cpu_seconds = 0;
  std::uint64_t beats = 0, skipped = 0;
  std::string load_before, load_after, first_error;

  double kib_per_stream() const {
    return welcomed
               ? static_cast<double>(rss_after_kib - rss_before_kib) / static_cast<double>(welcomed)
               : 0;
  }
  double cores() const { return window_seconds > 0 ? cpu_seconds / window_seconds : 0; }
  double us_per_beat() const { return beats ? cpu_seconds * 1e6 / static_cast<double>(beats) : 0; }
};

// Opens the streams to `address` (served by `pid`), waits for them to be admitted and for two
// heartbeat rounds, then measures over the steady window.
Phase run_phase(const std::string& name, pid_t pid, const std::string& address,
                std::vector<AgentIdentity> agents, int http_port, const Options& o) {
  Phase p;
  p.name = name;
  p.streams = agents.size();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // let set-up garbage settle
  p.rss_before_kib = rss_kib(pid);
  p.load_before = load_average();
  const auto hb = std::chrono::milliseconds(o.heartbeat_ms);
  AgentFleet fleet(address, o.channels, hb, o.connect_rate);
  const auto start = SteadyClock::now();
  fleet.connect(std::move(agents));
  const auto limit =
      start + std::chrono::seconds(120 + p.streams / static_cast<std::size_t>(o.connect_rate));
  for (auto last = start;
       fleet.welcomed() + fleet.refused() < p.streams && SteadyClock::now() < limit;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (SteadyClock::now() - last > std::chrono::seconds(10)) {
      last = SteadyClock::now();
      std::fprintf(stderr, "%s: %llu/%zu streams welcomed\n", name.c_str(),
                   static_cast<unsigned long long>(fleet.welcomed()), p.streams);
    }
  }
  p.connect_seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::fprintf(stderr,
               "%s: %llu streams welcomed in %.1f s; two heartbeat rounds, then %.0f s steady\n",
               name.c_str(), static_cast<unsigned long long>(fleet.welcomed()), p.connect_seconds,
               o.steady_seconds);
  std::this_thread::sleep_for(2 * hb);
  const auto cpu0 = process_cpu(pid);
  const auto beats0 = fleet.beats();
  const auto skipped0 = fleet.skipped_beats();
  const auto t0 = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(o.steady_seconds));
  p.cpu_seconds = std::chrono::duration<double>(process_cpu(pid) - cpu0).count();
  p.window_seconds = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  p.beats = fleet.beats() - beats0;
  p.skipped = fleet.skipped_beats() - skipped0;
  p.rss_after_kib = rss_kib(pid);
  p.load_after = load_average();
  if (http_port > 0) p.gauge = agents_connected_gauge(http_port);
  p.welcomed = fleet.welcomed();
  p.refused = fleet.refused();
  p.dropped = fleet.dropped();
  p.first_error = fleet.first_error();
  fleet.stop();
  return p;
}

std::vector<std::string> server_env(const std::string& data_dir, int http_port, int grpc_port,
                                    int heartbeat_ms) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e;
    // The embedded log and views: the bench measures the agent streams, not Kafka or Postgres.
    if (kv.rfind("KAFKA_BROKERS=", 0) == 0 || kv.rfind("DATABASE_URL=", 0) == 0) continue;
    env.push_back(kv);
  }
  env.push_back("AXION_DATA_DIR=" + data_dir);
  env.push_back("AXION_HTTP_ADDR=127.0.0.1:" + std::to_string(http_port));
  env.push_back("AXION_GRPC_ADDR=127.0.0.1:" + std::to_string(grpc_port));
  env.push_back(std::string("AXION_API_TOKENS=bench=") + kApiToken);
  env.push_back("AXION_MASTER_KEY=bench=YmVuY2gtbWFzdGVyLWtleS0zMi1ieXRlcy1sb25nISE=");
  env.push_back("AXION_AGENT_HEARTBEAT_MS=" + std::to_string(heartbeat_ms));
  env.push_back("AXION_AGENT_OFFLINE_AFTER_MS=" + std::to_string(3 * heartbeat_ms));
  // The per-user server quota (per cluster) is a product limit, not what this bench measures.
  env.push_back("MAX_SERVERS_PER_USER=1000000");
  env.push_back("LOG_FORMAT=text");
  return env;
}

void print_phase(const Phase& p) {
  std::printf("| %s | %s | %s | %s | %.1f | %.1f | %s | %.2f | %.0f | %s/%s |\n", p.name.c_str(),
              thousands(static_cast<double>(p.welcomed)).c_str(),
              p.gauge >= 0 ? thousands(static_cast<double>(p.gauge)).c_str() : "-",
              thousands(static_cast<double>(p.rss_after_kib) / 1024).c_str(),
              static_cast<double>(p.rss_after_kib - p.rss_before_kib) / 1024, p.kib_per_stream(),
              thousands(static_cast<double>(p.beats) / p.window_seconds).c_str(), p.cores(),
              p.us_per_beat(), p.load_before.c_str(), p.load_after.c_str());
  if (p.refused || p.dropped || p.skipped || p.welcomed < p.streams) {
    std::printf(
        "  %s: %zu asked, %llu refused after 5 tries, %llu dropped after Welcome, %llu "
        "beats skipped (write in flight); first error: %s\n",
        p.name.c_str(), p.streams, static_cast<unsigned long long>(p.refused),
        static_cast<unsigned long long>(p.dropped), static_cast<unsigned long long>(p.skipped),
        p.first_error.empty() ? "-" : p.first_error.c_str());
  }
}

int run(const Options& o) {
  // Each channel is one socket here and one in the child; leave room for gRPC's own descriptors.
  rlimit nofile{};
  getrlimit(RLIMIT_NOFILE, &nofile);
  nofile.rlim_cur = nofile.rlim_max;
  setrlimit(RLIMIT_NOFILE, &nofile);
  std::filesystem::create_directories(o.dir);
  std::printf("# agents_bench — %s agents, heartbeat %d ms, %d channels, %.0f s steady window\n",
              thousands(o.agents).c_str(), o.heartbeat_ms, o.channels, o.steady_seconds);
  std::printf("machine: %s; %s\n\n", machine_description().c_str(), utc_now().c_str());

  std::vector<Phase> phases;
  if (o.baseline) {
    char self[4096] = {};
    const auto n = readlink("/proc/self/exe", self, sizeof self - 1);
    const int port = free_port();
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    ChildProcess bare(std::string(self, n > 0 ? static_cast<std::size_t>(n) : 0),
                      {"--serve-bare", std::to_string(port)}, env, o.dir + "/bare.log");
    const std::string address = "127.0.0.1:" + std::to_string(port);
    if (bare.pid() <= 0 || !wait_connectable(address, std::chrono::seconds(30))) {
      std::fprintf(stderr,
                   "agents_bench: the bare baseline server did not start; see %s/bare.log\n",
                   o.dir.c_str());
      return 1;
    }
    std::vector<AgentIdentity> fake;
    for (int i = 0; i < o.agents; ++i) fake.push_back({"srv-" + std::to_string(i), "c", "t"});
    phases.push_back(run_phase("bare gRPC", bare.pid(), address, std::move(fake), 0, o));
  }

  const int http_port = free_port(), grpc_port = free_port();
  ChildProcess server(o.server_bin, {},
                      server_env(o.dir + "/data", http_port, grpc_port, o.heartbeat_ms),
                      o.dir + "/axion-server.log");
  if (server.pid() <= 0 || !wait_ready(http_port, std::chrono::seconds(60))) {
    std::fprintf(stderr, "agents_bench: %s did not become ready; see %s/axion-server.log\n",
                 o.server_bin.c_str(), o.dir.c_str());
    return 1;
  }
  const std::string address = "127.0.0.1:" + std::to_string(grpc_port);
  SetupOptions so{address, kApiToken, o.agents, o.servers_per_cluster, o.setup_threads};
  const auto setup = set_up_agents(so);
  std::fprintf(stderr, "set-up: %zu agents ready in %.1f s\n", setup.agents.size(), setup.seconds);
  const auto rss_after_setup = rss_kib(server.pid());
  phases.push_back(run_phase("axion-server", server.pid(), address, setup.agents, http_port, o));
  const auto rss_at_end = rss_kib(server.pid());
  const bool alive = server.running();

  std::printf(
      "Set-up: %d clusters, %zu servers with tokens, %llu RPCs (%llu failed) in %.1f s "
      "(%s RPCs/s); server RSS after set-up %s MiB%s%s\n\n",
      setup.clusters, setup.agents.size(), static_cast<unsigned long long>(setup.rpcs),
      static_cast<unsigned long long>(setup.failures), setup.seconds,
      thousands(static_cast<double>(setup.rpcs) / setup.seconds).c_str(),
      thousands(static_cast<double>(rss_after_setup) / 1024).c_str(),
      setup.first_error.empty() ? "" : "; first error: ", setup.first_error.c_str());
  std::printf(
      "| server | streams welcomed | gauge | RSS MiB | RSS delta MiB | KiB/stream | "
      "heartbeats/s | CPU cores | CPU µs/heartbeat | load before/after |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  for (const auto& p : phases) print_phase(p);
  if (phases.size() == 2 && phases[0].kib_per_stream() > 0) {
    std::printf(
        "\nmemory per stream: axion-server %.1f KiB = %.1fx the bare gRPC server's %.1f KiB\n",
        phases[1].kib_per_stream(), phases[1].kib_per_stream() / phases[0].kib_per_stream(),
        phases[0].kib_per_stream());
  }
  std::printf("axion-server %s at the end (RSS %s MiB after the streams closed)\n",
              alive ? "still running" : "EXITED",
              thousands(static_cast<double>(rss_at_end) / 1024).c_str());
  std::error_code ec;
  std::filesystem::remove_all(o.dir, ec);
  return alive ? 0 : 1;
}

}  // namespace
}  // namespace axion::bench

int main(int argc, char** argv) {
  using namespace axion::bench;
  if (argc == 3 && std::strcmp(argv[1], "--serve-bare") == 0) return serve_bare(std::atoi(argv[2]));
  Options o;
  CLI::App app{"agents_bench: agent streams held by one axion-server, memory and CPU per stream"};
  app.add_option("--agents", o.agents, "simulated agents (one stream each)")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--heartbeat-ms", o.heartbeat_ms, "heartbeat interval")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--steady-seconds", o.steady_seconds, "CPU measurement window")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--channels", o.channels, "client connections the streams spread over")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--connect-rate", o.connect_rate, "streams opened per second")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--servers-per-cluster", o.servers_per_cluster, "server records per cluster")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--setup-threads", o.setup_threads, "concurrent set-up RPCs")
      ->check(positive())
      ->capture_default_str();
  app.add_option("--server-bin", o.server_bin, "axion-server binary")->capture_default_str();
  app.add_flag("!--no-baseline", o.baseline, "skip the bare gRPC baseline");
  std::string unused_kafka;
  app.add_option("--dir", o.dir, "scratch directory (default: a fresh temp directory)");
  parse_or_exit(app, argc, argv, o.dir, unused_kafka, "agents-bench");
  return run(o);
}
