// agents_bench's child processes, /proc readings and set-up RPCs (see agents_setup.h).
#include "bench/agents_setup.h"

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "axion/v1/infrastructure.grpc.pb.h"

extern char** environ;

namespace axion::bench {

ChildProcess::ChildProcess(const std::string& bin, const std::vector<std::string>& args,
                           const std::vector<std::string>& env, const std::string& log_path) {
  std::vector<std::string> argv_s{bin};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_s = env;
  std::vector<char*> envp;
  for (auto& kv : env_s) envp.push_back(kv.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  if (posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&actions);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

bool ChildProcess::running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }

std::int64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

std::chrono::microseconds process_cpu(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
  const auto close = all.rfind(')');
  if (close == std::string::npos) return {};
  std::istringstream rest(all.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) stime = std::stoll(field);
  }
  const long ticks = sysconf(_SC_CLK_TCK);
  return std::chrono::microseconds((utime + stime) * 1000000LL / ticks);
}

std::int64_t agents_connected_gauge(int http_port) {
  httplib::Client http("127.0.0.1", http_port);
  http.set_read_timeout(30);
  auto res = http.Get("/metrics");
  if (!res || res->status != 200) return -1;
  const std::string name = "\naxion_agents_connected ";
  const auto at = res->body.find(name);
  if (at == std::string::npos) return -1;
  return std::stoll(res->body.substr(at + name.size()));
}

bool wait_ready(int http_port, std::chrono::seconds timeout) {
  httplib::Client http("127.0.0.1", http_port);
  const auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    auto res = http.Get("/readyz");
    if (res && res->status == 200) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

bool wait_connectable(const std::string& address, std::chrono::seconds timeout) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  return channel->WaitForConnected(std::chrono::system_clock::now() + timeout);
}

namespace {

// One call with the API token, an idempotency key, a 60 s deadline and up to 30 tries, 200 ms
// apart, while the server says the failure is transient (busy, or a record not visible yet).
grpc::Status call_with_retries(const std::string& api_token, const std::string& key,
                               const std::function<grpc::Status(grpc::ClientContext*)>& rpc,
                               std::atomic<std::uint64_t>& rpcs) {
  grpc::Status s;
  for (int attempt = 0; attempt < 30; ++attempt) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + api_token);
    ctx.AddMetadata("idempotency-key", key);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    s = rpc(&ctx);
    rpcs.fetch_add(1, std::memory_order_relaxed);
    const auto code = s.error_code();
    if (code != grpc::StatusCode::UNAVAILABLE && code != grpc::StatusCode::NOT_FOUND &&
        code != grpc::StatusCode::DEADLINE_EXCEEDED && code != grpc::StatusCode::ABORTED) {
      return s;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return s;
}

}  // namespace

SetupResult set_up_agents(const SetupOptions& o) {
  const auto start = SteadyClock::now();
  SetupResult r;
  std::atomic<std::uint64_t> rpcs{0}, failures{0};
  std::mutex mu;
  std::vector<std::unique_ptr<v1::InfrastructureService::Stub>> stubs;
  for (int c = 0; c < 8; ++c) {
    grpc::ChannelArguments args;
    args.SetInt("axion.bench.setup_channel", c);
    stubs.push_back(v1::InfrastructureService::NewStub(
        grpc::CreateCustomChannel(o.address, grpc::InsecureChannelCredentials(), args)));
  }
  auto fail = [&](const std::string& what, const grpc::Status& s) {
    failures.fetch_add(1);
    std::lock_guard lock(mu);
    if (r.first_error.empty()) r.first_error = what + ": " + s.error_message();
  };
  // Runs job(i) for i in [0, n) from o.threads threads.
  auto parallel = [&](int n,
                      const std::function<void(int, v1::InfrastructureService::Stub&)>& job) {
    std::atomic<int> next{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < o.threads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = next.fetch_add(1); i < n; i = next.fetch_add(1))
          job(i, *stubs[t % stubs.size()]);
      });
    }
    for (auto& th : threads) th.join();
  };

  r.clusters = (o.agents + o.servers_per_cluster - 1) / o.servers_per_cluster;
  std::vector<std::string> clusters(static_cast<std::size_t>(r.clusters));
  parallel(r.clusters, [&](int i, auto& stub) {
    v1::CreateClusterRequest req;
    req.set_name("bench-" + std::to_string(i));
    v1::CreateClusterResponse resp;
    const auto s = call_with_retries(
        o.api_token, "bench-cluster-" + std::to_string(i),
        [&](auto* c) { return stub.CreateCluster(c, req, &resp); }, rpcs);
    if (s.ok())
      clusters[static_cast<std::size_t>(i)] = resp.cluster_id();
    else
      fail("CreateCluster", s);
  });

  std::vector<AgentIdentity> agents(static_cast<std::size_t>(o.agents));
  std::atomic<int> done{0};
  std::thread progress([&] {
    while (done.load() < o.agents) {
      std::this_thread::sleep_for(std::chrono::seconds(1));
      const double secs = std::chrono::duration<double>(SteadyClock::now() - start).count();
      if (static_cast<int>(secs) % 15 == 0) {
        std::fprintf(stderr, "set-up: %d/%d agents after %.0f s\n", done.load(), o.agents, secs);
      }
    }
  });
  parallel(o.agents, [&](int i, auto& stub) {
    const std::string& cluster = clusters[static_cast<std::size_t>(i / o.servers_per_cluster)];
    if (cluster.empty()) return done.fetch_add(1), void();
    v1::CreateServerRequest req;
    req.set_cluster_id(cluster);
    req.set_name("agent-" + std::to_string(i));
    req.set_host("10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) +
                 "." + std::to_string(i & 255));
    req.set_ssh_user("deploy");
    v1::CreateServerResponse made;
    auto s = call_with_retries(
        o.api_token, "bench-server-" + std::to_string(i),
        [&](auto* c) { return stub.CreateServer(c, req, &made); }, rpcs);
    if (!s.ok()) return fail("CreateServer", s), done.fetch_add(1), void();
    v1::CreateAgentRegistrationTokenRequest treq;
    treq.set_cluster_id(cluster);
    treq.set_server_id(made.server_id());
    v1::CreateAgentRegistrationTokenResponse minted;
    s = call_with_retries(
        o.api_token, "bench-token-" + std::to_string(i),
        [&](auto* c) { return stub.CreateAgentRegistrationToken(c, treq, &minted); }, rpcs);
    if (!s.ok()) return fail("CreateAgentRegistrationToken", s), done.fetch_add(1), void();
    agents[static_cast<std::size_t>(i)] = {made.server_id(), cluster, minted.token()};
    done.fetch_add(1);
  });
  progress.join();
  for (auto& a : agents) {
    if (!a.token.empty()) r.agents.push_back(std::move(a));
  }
  r.rpcs = rpcs.load();
  r.failures = failures.load();
  r.seconds = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return r;
}

}  // namespace axion::bench
