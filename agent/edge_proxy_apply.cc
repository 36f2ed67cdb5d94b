// EdgeProxyRuntime::apply: how a desired table reaches the running HAProxy — start it, reload it
// (the set of services or servers changed), or set weights and addresses through the runtime
// API — and the check that the result is in effect before a task succeeds.
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <thread>

#include "agent/edge_proxy.h"
#include "agent/edge_proxy_store.h"
#include "agent/state_store.h"

namespace axion::agent {

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kApplyTimeout = std::chrono::seconds(30);

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

}  // namespace

Result<std::string> EdgeProxyRuntime::apply(proxy::ProxyState state,
                                            const proxy::ProxyTable& desired) {
  const proxy::RenderOptions render{paths_.admin_socket, options_.bind_address};
  AXION_RETURN_IF_ERROR(proxy::check_render_options(render));
  std::error_code ec;
  std::filesystem::create_directories(paths_.dir, ec);
  if (ec) return unavailable("cannot create " + paths_.dir + ": " + ec.message());
  chmod(paths_.dir.c_str(), 0700);

  // The candidate is checked by HAProxy before it replaces the configuration a reload reads.
  const std::string candidate = paths_.config + ".next";
  AXION_RETURN_IF_ERROR(
      write_file_atomically(candidate, proxy::render_haproxy_config(desired, render)));
  if (const Status checked = haproxy_.check_config(candidate); !checked.ok()) {
    return failed_precondition(checked.message());
  }
  const std::string change = proxy::describe_change(state.desired, desired);
  state.desired = desired;
  AXION_RETURN_IF_ERROR(proxy::save_state(paths_.state, state));
  if (std::rename(candidate.c_str(), paths_.config.c_str()) != 0) {
    return unavailable("cannot replace " + paths_.config + ": " + std::strerror(errno));
  }

  const auto master = haproxy_.running_master();
  if (!master) {
    auto started = haproxy_.start();
    if (!started.ok()) return started.status();
    AXION_RETURN_IF_ERROR(wait_until_serving(desired, 0));
    state.loaded = desired;
    AXION_RETURN_IF_ERROR(proxy::save_state(paths_.state, state));
    return "started HAProxy (master pid " + std::to_string(*started) +
           "): " + proxy::describe_change({}, desired);
  }

  // What runs decides, not what the last task asked for: a task that failed half-way (or an
  // operator's `set server`) is repaired here.
  auto answer = haproxy_.admin("show servers state");
  const auto running =
      answer.ok() ? proxy::parse_servers_state(*answer) : std::vector<proxy::ServerState>{};
  // "not configured" / "configured but not desired": the running server set differs.
  const bool same_servers =
      answer.ok() && proxy::mismatch(desired, running).find("configured") == std::string::npos;
  if (state.loaded.empty() || proxy::needs_reload(state.loaded, desired) || !same_servers) {
    auto info = haproxy_.admin("show info");
    const int old_worker = info.ok() ? proxy::parse_info_pid(*info) : 0;
    AXION_RETURN_IF_ERROR(haproxy_.reload(*master));
    AXION_RETURN_IF_ERROR(wait_until_serving(desired, old_worker));
    state.loaded = desired;
    AXION_RETURN_IF_ERROR(proxy::save_state(paths_.state, state));
    return "reloaded HAProxy (master pid " + std::to_string(*master) + "): " + change;
  }
  AXION_RETURN_IF_ERROR(converge_runtime(desired));
  AXION_RETURN_IF_ERROR(wait_until_serving(desired, 0));
  return change + " (through the runtime API, no reload)";
}

Status EdgeProxyRuntime::converge_runtime(const proxy::ProxyTable& desired) {
  auto answer = haproxy_.admin("show servers state");
  if (!answer.ok()) return answer.status();
  const auto running = proxy::parse_servers_state(*answer);
  for (const auto& [service, route] : desired) {
    for (const proxy::Backend& b : route.backends) {
      const std::string server = proxy::backend_name(service) + "/" + b.instance_id;
      for (const proxy::ServerState& s : running) {
        if (s.backend != proxy::backend_name(service) || s.server != b.instance_id) continue;
        if (s.host != b.host || s.port != b.port) {
          auto set = haproxy_.admin("set server " + server + " addr " + b.host + " port " +
                                    std::to_string(b.port));
          if (!set.ok()) return set.status();
          if (set->find("changed") == std::string::npos &&
              set->find("no need to change") == std::string::npos) {
            return internal_error("HAProxy refused the new address of " + server + ": " +
                                  trimmed(*set));
          }
        }
        if (s.weight != b.weight) {
          auto set = haproxy_.admin("set server " + server + " weight " + std::to_string(b.weight));
          if (!set.ok()) return set.status();
          if (!trimmed(*set).empty()) {
            return internal_error("HAProxy refused the new weight of " + server + ": " +
                                  trimmed(*set));
          }
        }
      }
    }
  }
  return ok_status();
}

Status EdgeProxyRuntime::wait_until_serving(const proxy::ProxyTable& desired, int old_worker_pid) {
  const auto deadline = Clock::now() + kApplyTimeout;
  std::string last = "no answer yet";
  while (Clock::now() < deadline) {
    // One connection for both: during a reload the old worker may still answer some.
    auto answer = haproxy_.admin("show info;show servers state");
    if (!answer.ok()) {
      last = answer.status().message();
    } else if (const int pid = proxy::parse_info_pid(*answer); pid == 0) {
      last = "the admin socket's answer had no Pid";
    } else if (old_worker_pid != 0 && pid == old_worker_pid) {
      last = "the old worker (pid " + std::to_string(pid) + ") still answers";
    } else if (auto problem = proxy::mismatch(desired, proxy::parse_servers_state(*answer));
               !problem.empty()) {
      last = problem;
    } else {
      bool accepting = true;
      for (const auto& [service, route] : desired) {
        if (!proxy::tcp_accepts(options_.bind_address, route.listen_port)) {
          accepting = false;
          last = "the frontend of '" + service + "' does not accept on " + options_.bind_address +
                 ":" + std::to_string(route.listen_port);
        }
      }
      if (accepting) return ok_status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return deadline_exceeded("HAProxy did not serve the new table within 30 s (" + last + "); see " +
                           paths_.log_file + " and HAProxy's master CLI " + paths_.master_socket);
}

}  // namespace axion::agent
