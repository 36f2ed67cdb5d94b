// axion-server: wires the configuration, logging and ServerApp together, then waits for
// SIGINT/SIGTERM and shuts down gracefully.
#include <signal.h>
#include <spdlog/spdlog.h>

#include <cstdio>

#include "infra/log/logging.h"
#include "server/config.h"
#include "server/server_app.h"

int main() {
  auto log_config = axion::infra::log::log_config_from_env();
  if (!log_config.ok()) {
    std::fprintf(stderr, "axion-server: %s\n", log_config.status().message().c_str());
    return 2;
  }
  (void)axion::infra::log::configure_logging(*log_config);
  auto config = axion::server::server_config_from_env();
  if (!config.ok()) {
    spdlog::critical("bad configuration: {}", config.status().message());
    return 2;
  }

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // threads started below inherit the mask

  axion::server::ServerApp app(*config);
  if (auto s = app.start(); !s.ok()) {
    spdlog::critical("axion-server cannot start: {}", s.to_string());
    return 1;
  }
  int received = 0;
  sigwait(&signals, &received);
  spdlog::info("received signal {}", received);
  app.stop();
  return 0;
}
