#include "agent/edge_proxy.h"

#include <spdlog/spdlog.h>

#include <chrono>

namespace axion::agent {

namespace {

constexpr std::size_t kRememberedResults = 1024;

std::string resolve_binary(const EdgeProxyOptions& options) {
  return options.haproxy_binary.empty() ? proxy::find_haproxy_binary() : options.haproxy_binary;
}

bool haproxy_runs(const std::string& binary) {
  if (binary.empty()) return false;
  auto version = proxy::run_command({binary, "-v"}, std::chrono::seconds(10));
  const bool ok = version.ok() && version->exit_code == 0 &&
                  version->output.find("HAProxy version") != std::string::npos;
  if (ok) {
    spdlog::info("edge proxy: {}", version->output.substr(0, version->output.find('\n')));
  } else {
    spdlog::warn("edge proxy: '{} -v' did not run: the proxy runtime is not available", binary);
  }
  return ok;
}

axion::v1::TaskUpdate update_of(const axion::v1::Task& task, axion::v1::TaskState state,
                                std::string detail) {
  axion::v1::TaskUpdate u;
  u.set_task_id(task.task_id());
  u.set_state(state);
  u.set_detail(std::move(detail));
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const auto nanos = std::chrono::duration_cast<std::chrono::nanoseconds>(now).count();
  u.mutable_at()->set_seconds(nanos / 1000000000);
  u.mutable_at()->set_nanos(static_cast<int>(nanos % 1000000000));
  return u;
}

bool deadline_passed(const axion::v1::Task& task) {
  if (!task.has_deadline()) return false;
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
  return task.deadline().seconds() < now ||
         (task.deadline().seconds() == now && task.deadline().nanos() == 0);
}

}  // namespace

EdgeProxyRuntime::EdgeProxyRuntime(EdgeProxyOptions options)
    : options_(std::move(options)),
      paths_(proxy::ProxyPaths::under(options_.state_dir)),
      binary_(resolve_binary(options_)),
      available_(haproxy_runs(binary_)),
      haproxy_(binary_, paths_),
      worker_([this] { run(); }) {}

EdgeProxyRuntime::~EdgeProxyRuntime() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void EdgeProxyRuntime::start(const axion::v1::Task& task, TaskSink& sink) {
  std::unique_lock lock(mu_);
  if (const auto done = finished_.find(task.task_id()); done != finished_.end()) {
    const axion::v1::TaskUpdate again = done->second;
    lock.unlock();
    sink.update(again);
    return;
  }
  if (running_task_ == task.task_id()) return;
  for (const Queued& q : queue_) {
    if (q.task.task_id() == task.task_id()) return;
  }
  queue_.push_back({task, &sink});
  lock.unlock();
  sink.update(update_of(task, axion::v1::TASK_STATE_ACCEPTED, "queued for the edge proxy"));
  wake_.notify_all();
}

void EdgeProxyRuntime::cancel(const std::string& task_id) {
  std::unique_lock lock(mu_);
  for (auto it = queue_.begin(); it != queue_.end(); ++it) {
    if (it->task.task_id() != task_id) continue;
    const Queued dropped = *it;
    queue_.erase(it);
    const auto update =
        update_of(dropped.task, axion::v1::TASK_STATE_CANCELLED, "cancelled before it ran");
    remember(task_id, update);
    lock.unlock();
    dropped.sink->update(update);
    return;
  }
}

void EdgeProxyRuntime::shutdown() {
  // Waits for a running task: it must not start HAProxy again behind our back.
  std::lock_guard lock(apply_mu_);
  const Status stopped = haproxy_.stop(std::chrono::seconds(10));
  if (!stopped.ok()) spdlog::error("edge proxy: {}", stopped.message());
}

std::optional<pid_t> EdgeProxyRuntime::haproxy_pid() const { return haproxy_.running_master(); }

void EdgeProxyRuntime::remember(const std::string& task_id, const axion::v1::TaskUpdate& update) {
  if (finished_.emplace(task_id, update).second) finished_order_.push_back(task_id);
  while (finished_order_.size() > kRememberedResults) {
    finished_.erase(finished_order_.front());
    finished_order_.pop_front();
  }
}

void EdgeProxyRuntime::run() {
  std::unique_lock lock(mu_);
  while (true) {
    wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    const Queued next = queue_.front();
    queue_.pop_front();
    running_task_ = next.task.task_id();
    lock.unlock();
    next.sink->update(update_of(next.task, axion::v1::TASK_STATE_RUNNING, "applying"));
    axion::v1::TaskUpdate result;
    {
      // Not under mu_: start() and cancel() stay quick while a reload takes seconds.
      std::lock_guard applying(apply_mu_);
      result = execute(next.task);
    }
    lock.lock();
    remember(running_task_, result);
    running_task_.clear();
    lock.unlock();
    next.sink->update(result);
    lock.lock();
  }
}

axion::v1::TaskUpdate EdgeProxyRuntime::execute(const axion::v1::Task& task) {
  using axion::v1::TASK_STATE_FAILED;
  if (task.kind() != axion::v1::TASK_KIND_SWITCH_TRAFFIC &&
      task.kind() != axion::v1::TASK_KIND_REPORT_TRAFFIC) {
    return update_of(task, TASK_STATE_FAILED,
                     "the proxy runtime runs SWITCH_TRAFFIC and REPORT_TRAFFIC tasks only, not " +
                         axion::v1::TaskKind_Name(task.kind()));
  }
  if (deadline_passed(task)) {
    return update_of(task, axion::v1::TASK_STATE_CANCELLED, "deadline passed");
  }
  if (!available_) {
    return update_of(task, TASK_STATE_FAILED,
                     "HAProxy is not available on this agent: install it (Debian: apt-get "
                     "install haproxy) or set AXION_AGENT_HAPROXY to its path");
  }
  if (task.kind() == axion::v1::TASK_KIND_REPORT_TRAFFIC) return report(task);
  auto route = proxy::validate_proxy_spec(task.spec().proxy());
  if (!route.ok()) {
    return update_of(task, TASK_STATE_FAILED, "invalid proxy spec: " + route.status().message());
  }
  auto state = proxy::load_state(paths_.state);
  if (!state.ok()) return update_of(task, TASK_STATE_FAILED, state.status().message());
  if (const Status fits = proxy::check_fits(state->desired, *route); !fits.ok()) {
    return update_of(task, TASK_STATE_FAILED, fits.message());
  }
  proxy::ProxyTable desired = state->desired;
  desired[route->service] = *route;
  auto detail = apply(std::move(*state), desired);
  if (!detail.ok()) {
    spdlog::error("edge proxy: task {}: {}", task.task_id(), detail.status().message());
    auto failed = update_of(task, TASK_STATE_FAILED, detail.status().message());
    return failed;
  }
  spdlog::info("edge proxy: task {}: {}", task.task_id(), *detail);
  return update_of(task, axion::v1::TASK_STATE_SUCCEEDED, *detail);
}

axion::v1::TaskUpdate EdgeProxyRuntime::report(const axion::v1::Task& task) {
  using axion::v1::TASK_STATE_FAILED;
  const auto& spec = task.spec().proxy();
  if (!is_dns_label(spec.service())) {
    return update_of(task, TASK_STATE_FAILED,
                     "invalid proxy spec: the service name must be a DNS label");
  }
  std::vector<std::string> instances;
  for (const auto& b : spec.backends()) {
    if (!is_dns_label(b.instance_id())) {
      return update_of(task, TASK_STATE_FAILED,
                       "invalid proxy spec: instance ids must be DNS labels");
    }
    instances.push_back(b.instance_id());
  }
  if (!haproxy_.running_master()) {
    return update_of(
        task, TASK_STATE_FAILED,
        "the edge proxy is not running: no traffic of '" + spec.service() + "' to report");
  }
  auto stat = haproxy_.admin("show stat");
  if (!stat.ok()) return update_of(task, TASK_STATE_FAILED, stat.status().message());
  auto report = proxy::report_traffic(proxy::parse_stat_csv(*stat), spec.service(), instances);
  if (!report.ok()) return update_of(task, TASK_STATE_FAILED, report.status().message());
  auto u = update_of(task, axion::v1::TASK_STATE_SUCCEEDED, report->detail);
  u.set_requests(report->requests);
  u.set_failed_requests(report->failed);
  u.set_error_rate(report->error_rate);
  spdlog::info("edge proxy: task {}: {}", task.task_id(), report->detail);
  return u;
}

}  // namespace axion::agent
