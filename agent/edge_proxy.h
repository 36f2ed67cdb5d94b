// The "proxy" runtime: the agent's edge proxy. SWITCH_TRAFFIC tasks set, per service, the port a
// real HAProxy listens on and the backends it balances over with their weights, so that a
// version switch (100/0 -> 50/50 -> 0/100) fails no request. Weights and addresses change
// through HAProxy's runtime API (no reload); added or removed services and servers rewrite
// haproxy.cfg and reload HAProxy seamlessly (master-worker, listeners handed over). The desired
// table survives agent restarts (<state dir>/proxy/table.json), and so does HAProxy: a new agent
// process adopts the running one instead of starting a second.
//
// REPORT_TRAFFIC tasks answer the requests some instances of a service were sent and how many
// failed (agent/edge_proxy_stats.h): the error rate a canary or blue-green gate checks.
//
// Tasks run one at a time on the runtime's own thread, in arrival order; each is validated
// completely before anything is written, so a bad spec fails with nothing changed.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "agent/edge_proxy_config.h"
#include "agent/edge_proxy_control.h"
#include "agent/edge_proxy_stats.h"
#include "agent/edge_proxy_store.h"
#include "agent/runtime.h"

namespace axion::agent {

struct EdgeProxyOptions {
  std::string state_dir;                   // the agent's; the proxy uses <state_dir>/proxy/
  std::string bind_address = "127.0.0.1";  // IPv4 literal the services' frontends listen on
  std::string haproxy_binary;              // empty: proxy::find_haproxy_binary()
};

class EdgeProxyRuntime final : public Runtime {
 public:
  explicit EdgeProxyRuntime(EdgeProxyOptions options);
  // Finishes the running task and drops queued ones (the control plane redelivers them);
  // leaves HAProxy running so traffic flows while the agent restarts.
  ~EdgeProxyRuntime() override;
  EdgeProxyRuntime(const EdgeProxyRuntime&) = delete;
  EdgeProxyRuntime& operator=(const EdgeProxyRuntime&) = delete;

  std::string_view name() const override { return "proxy"; }
  // Whether `haproxy -v` ran (checked once, at construction).
  bool available() const override { return available_; }
  // Queues a SWITCH_TRAFFIC or REPORT_TRAFFIC task and reports ACCEPTED. A task id seen before is not run again:
  // a queued or running one is ignored, a finished one has its terminal update sent again.
  // `sink` must outlive the task.
  void start(const axion::v1::Task& task, TaskSink& sink) override;
  // A queued task is dropped and reported CANCELLED; a running one is quick and finishes.
  void cancel(const std::string& task_id) override;

  // Stops HAProxy and waits for it (tests, uninstalling the agent).
  void shutdown();
  // The master pid of the HAProxy this runtime drives, if one runs.
  std::optional<pid_t> haproxy_pid() const;

 private:
  struct Queued {
    axion::v1::Task task;
    TaskSink* sink;
  };
  void run();
  axion::v1::TaskUpdate execute(const axion::v1::Task& task);
  // REPORT_TRAFFIC: the counts of the named instances from HAProxy's `show stat`.
  axion::v1::TaskUpdate report(const axion::v1::Task& task);
  // Makes HAProxy run `desired`; what changed, for the task's detail.
  Result<std::string> apply(proxy::ProxyState state, const proxy::ProxyTable& desired);
  Status wait_until_serving(const proxy::ProxyTable& desired, int old_worker_pid);
  Status converge_runtime(const proxy::ProxyTable& desired);
  void remember(const std::string& task_id, const axion::v1::TaskUpdate& update);

  const EdgeProxyOptions options_;
  const proxy::ProxyPaths paths_;
  const std::string binary_;
  const bool available_;
  proxy::HaproxyProcess haproxy_;

  std::mutex apply_mu_;  // held while a task changes HAProxy, and by shutdown()
  std::mutex mu_;        // the queue and the results
  std::condition_variable wake_;
  bool stopping_ = false;
  std::deque<Queued> queue_;
  std::string running_task_;
  std::map<std::string, axion::v1::TaskUpdate> finished_;  // terminal updates, bounded
  std::deque<std::string> finished_order_;
  std::thread worker_;
};

}  // namespace axion::agent
