// axion-test-service: a small real HTTP service that the agent tests deploy (process runtime,
// edge proxy). GET / answers "<version> <instance>\n"; GET /healthz answers 200 once it is
// healthy (after --healthy-after-ms) and 503 before, or always with --unhealthy. With
// --error-percent N, N of every 100 GET / answer 500 (a release that is up but broken). It listens on
// --port, else $PORT, else a free port, and prints "listening on <port>" when it accepts. SIGTERM
// stops it cleanly (exit 0) unless --ignore-sigterm, which makes the runtime's SIGKILL fallback
// observable.
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

namespace {

struct Options {
  int port = -1;
  std::string version = "v1";
  long healthy_after_ms = 0;
  bool unhealthy = false;
  bool ignore_sigterm = false;
  long error_percent = 0;
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    const auto value = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    if (a == "--port") {
      const char* v = value();
      if (!v) return false;
      o.port = std::atoi(v);
    } else if (a == "--version") {
      const char* v = value();
      if (!v) return false;
      o.version = v;
    } else if (a == "--healthy-after-ms") {
      const char* v = value();
      if (!v) return false;
      o.healthy_after_ms = std::atol(v);
    } else if (a == "--error-percent") {
      const char* v = value();
      if (!v) return false;
      o.error_percent = std::atol(v);
    } else if (a == "--unhealthy") {
      o.unhealthy = true;
    } else if (a == "--ignore-sigterm") {
      o.ignore_sigterm = true;
    } else {
      return false;
    }
  }
  if (o.port < 0) {
    const char* env = std::getenv("PORT");
    o.port = env ? std::atoi(env) : 0;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: axion-test-service [--port N] [--version V] [--healthy-after-ms N] "
                 "[--unhealthy] [--ignore-sigterm] [--error-percent N]\n");
    return 2;
  }
  const char* instance_env = std::getenv("AXION_INSTANCE_ID");
  const std::string instance = instance_env ? instance_env : "";
  const auto started = std::chrono::steady_clock::now();
  std::atomic<long> requests{0};

  httplib::Server server;
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    const long n = requests++;
    if (n % 100 < o.error_percent) {
      res.status = 500;
      res.set_content(o.version + " " + instance + " failed\n", "text/plain");
      return;
    }
    res.set_content(o.version + " " + instance + "\n", "text/plain");
  });
  server.Get("/healthz", [&](const httplib::Request&, httplib::Response& res) {
    const auto up = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    const bool healthy = !o.unhealthy && up >= o.healthy_after_ms;
    res.status = healthy ? 200 : 503;
    res.set_content(healthy ? "ok\n" : "not healthy\n", "text/plain");
  });
  server.Get("/requests", [&](const httplib::Request&, httplib::Response& res) {
    res.set_content(std::to_string(requests.load()) + "\n", "text/plain");
  });

  // Signals are taken by a thread (sigwait), not a handler: stopping the server is not
  // async-signal-safe.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  if (o.ignore_sigterm) {
    signal(SIGTERM, SIG_IGN);
  } else {
    sigaddset(&signals, SIGTERM);
  }
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread([&server, signals] {
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
  }).detach();

  int port = o.port;
  if (port == 0) {
    port = server.bind_to_any_port("127.0.0.1");
  } else if (!server.bind_to_port("127.0.0.1", port)) {
    port = -1;
  }
  if (port < 0) {
    std::fprintf(stderr, "axion-test-service: cannot listen on 127.0.0.1:%d\n", o.port);
    return 1;
  }
  std::printf("axion-test-service %s listening on %d\n", o.version.c_str(), port);
  std::fflush(stdout);
  server.listen_after_bind();
  std::printf("axion-test-service %s stopped after %ld requests\n", o.version.c_str(),
              requests.load());
  return 0;
}
