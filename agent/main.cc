// axion-agent: wires its configuration, logging, host sampler, runtimes and connection
// together, then runs until SIGTERM/SIGINT (clean shutdown: the stream is closed, exit 0).
// --daemonize / --stop run it under a supervisor (supervisor.h). Exit code 2: bad configuration.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "agent/compose_runtime.h"
#include "agent/config.h"
#include "agent/connection.h"
#include "agent/edge_proxy.h"
#include "agent/host_metrics.h"
#include "agent/process_runtime.h"
#include "agent/runtime.h"
#include "agent/supervisor.h"
#include "agent/task_journal.h"
#include "infra/log/logging.h"

int main(int argc, char** argv) {
  auto log_config = axion::infra::log::log_config_from_env();
  if (!log_config.ok()) {
    std::fprintf(stderr, "axion-agent: %s\n", log_config.status().message().c_str());
    return 2;
  }
  (void)axion::infra::log::configure_logging(*log_config);
  std::string help;
  auto config = axion::agent::agent_config(argc, argv, &help);
  if (!config.ok()) {
    if (config.status().code() == axion::StatusCode::kCancelled) {
      std::fputs(help.c_str(), stdout);
      return 0;
    }
    spdlog::critical("bad configuration: {}", config.status().message());
    return 2;
  }
  if (config->stop) {
    auto stopped = axion::agent::stop_supervisor(config->pid_file, config->stop_timeout);
    if (!stopped.ok()) {
      spdlog::critical("--stop: {}", stopped.status().message());
      return 1;
    }
    std::printf("axion-agent: %s\n", stopped->c_str());
    return 0;
  }
  std::error_code ec;
  std::filesystem::create_directories(config->state_dir, ec);
  if (ec || chmod(config->state_dir.c_str(), 0700) != 0) {
    spdlog::critical("cannot use the state directory {} (--state-dir / AXION_AGENT_STATE_DIR)",
                     config->state_dir);
    return 2;
  }
  if (config->daemonize) {
    // Returns in the caller and the supervisor (exit) and in each agent child (run on).
    auto outcome = axion::agent::daemonize(*config);
    if (!outcome.ok()) {
      spdlog::critical("--daemonize: {}", outcome.status().message());
      return outcome.status().code() == axion::StatusCode::kInvalidArgument ? 2 : 1;
    }
    if (!outcome->run_agent) return outcome->exit_code;
  }

  // A health probe or a service's socket closed under us must not kill the agent.
  signal(SIGPIPE, SIG_IGN);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);  // threads started below inherit the mask

  axion::agent::HostSampler sampler(config->state_dir);
  axion::agent::TaskJournal journal((std::filesystem::path(config->state_dir) / "tasks").string());
  if (auto opened = journal.open(); !opened.ok()) {
    spdlog::critical("{}", opened.message());
    return 2;
  }
  axion::agent::Runtimes runtimes;
  axion::agent::ProcessRuntimeOptions process_options;
  process_options.stop_timeout = config->stop_timeout;
  process_options.port_range_first = config->port_first;
  process_options.port_range_last = config->port_last;
  runtimes.add(std::make_unique<axion::agent::ProcessRuntime>(config->state_dir, process_options));
  axion::agent::ComposeRuntimeOptions compose_options;
  compose_options.state_dir = config->state_dir;
  auto compose = std::make_unique<axion::agent::ComposeRuntime>(compose_options);
  if (!compose->available()) {
    spdlog::info("the compose runtime is off: {}", compose->unavailable_reason());
  }
  runtimes.add(std::move(compose));
  auto proxy = std::make_unique<axion::agent::EdgeProxyRuntime>(
      axion::agent::EdgeProxyOptions{config->state_dir, config->proxy_address, ""});
  if (!proxy->available()) spdlog::info("the proxy runtime is off: no haproxy binary runs here");
  runtimes.add(std::move(proxy));
  axion::agent::AgentConnection connection(*config, sampler, runtimes, journal);
  std::thread waiter([&] {
    int received = 0;
    sigwait(&signals, &received);
    spdlog::info("received signal {}: stopping", received);
    connection.stop();
  });
  spdlog::info("axion-agent {} starting for server {} (axion-server at {})",
               axion::agent::kAgentVersion, config->server_id, config->server_addr);
  const axion::Status result = connection.run();
  runtimes.clear();
  if (!result.ok()) {
    spdlog::critical("axion-agent stops: {}", result.message());
    pthread_kill(waiter.native_handle(), SIGTERM);
    waiter.join();
    return 1;
  }
  waiter.join();
  spdlog::info("axion-agent stopped");
  return 0;
}
