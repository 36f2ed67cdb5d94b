// axion-example-shop: the example project's programs, one binary in three roles. web, api and
// worker are HTTP services; web calls api and api calls worker (--upstream), so GET / on web
// answers "web v1 -> api v1 -> worker v1" — what each layer runs, visible from the outside.
// GET /healthz answers 200 while the process serves. It listens on $PORT (the agent's process
// runtime sets it) unless --port is given; SIGTERM stops it cleanly.
#include <httplib.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>

namespace {

struct Options {
  std::string role;
  std::string version = "v1";
  std::string upstream;  // http://host:port of the next layer, or empty
  int port = -1;
};

bool parse(int argc, char** argv, Options& o) {
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string_view flag = argv[i];
    const char* value = argv[i + 1];
    if (flag == "--role") {
      o.role = value;
    } else if (flag == "--version") {
      o.version = value;
    } else if (flag == "--upstream") {
      o.upstream = value;
    } else if (flag == "--port") {
      o.port = std::atoi(value);
    } else {
      return false;
    }
  }
  if (argc % 2 == 0 || o.role.empty()) return false;
  if (o.port < 0) {
    const char* env = std::getenv("PORT");
    o.port = env ? std::atoi(env) : 0;
  }
  return o.port > 0 && o.port < 65536;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, o)) {
    std::fprintf(stderr,
                 "usage: axion-example-shop --role NAME [--version V] [--upstream "
                 "http://host:port] [--port N | $PORT]\n");
    return 2;
  }
  httplib::Server server;
  server.Get("/", [&](const httplib::Request&, httplib::Response& res) {
    std::string body = o.role + " " + o.version;
    if (!o.upstream.empty()) {
      httplib::Client next(o.upstream);
      next.set_connection_timeout(2);
      next.set_read_timeout(5);
      auto answer = next.Get("/");
      if (!answer || answer->status != 200) {
        res.status = 502;
        res.set_content(body + " -> " + o.upstream + " did not answer\n", "text/plain");
        return;
      }
      std::string rest = answer->body;
      while (!rest.empty() && rest.back() == '\n') rest.pop_back();
      body += " -> " + rest;
    }
    res.set_content(body + "\n", "text/plain");
  });
  server.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("ok\n", "text/plain");
  });
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::thread stopper([&] {
    int received = 0;
    sigwait(&signals, &received);
    server.stop();
  });
  if (!server.bind_to_port("0.0.0.0", o.port)) {
    std::fprintf(stderr, "axion-example-shop: cannot listen on port %d\n", o.port);
    pthread_kill(stopper.native_handle(), SIGTERM);
    stopper.join();
    return 1;
  }
  std::printf("%s %s listening on %d\n", o.role.c_str(), o.version.c_str(), o.port);
  std::fflush(stdout);
  server.listen_after_bind();
  stopper.join();
  return 0;
}
