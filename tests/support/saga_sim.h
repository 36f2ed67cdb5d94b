// SagaSim: the deployment saga driven end to end without a log or a network — for the saga's
// unit tests and bench/saga. Commands (the user's and the saga's) are decided by the real
// Project aggregate; accepted events get envelopes and are folded into both the aggregate's
// state and the saga's; agent tasks are answered by simulated agents (instantly, or failing or
// silent as a test asks). Idempotency keys are honoured as the command processor does (the
// first result is kept and nothing is appended again), and every task the agents ran is
// counted, so tests can check that nothing ran twice.
#pragma once

#include <google/protobuf/util/time_util.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "axion/v1/agent.pb.h"
#include "axion/v1/deployment.pb.h"
#include "commands/decision.h"
#include "commands/project_aggregate.h"
#include "sagas/deployment_saga.h"

namespace axion::testing {

class SagaSim {
 public:
  enum class Agent { kSucceed, kFail, kSilent };

  std::string project_id;
  std::int64_t now_ms = 1'700'000'000'000;
  std::vector<sagas::ServerInfo> servers;
  // How the simulated agents answer a task (default: succeed).
  std::function<Agent(const axion::v1::AgentTask&)> agent = [](const axion::v1::AgentTask&) {
    return Agent::kSucceed;
  };

  // The error rate (0..1) the simulated proxies report for a REPORT_TRAFFIC task (of 200
  // requests).
  std::function<double(const axion::v1::AgentTask&)> error_rate = [](const axion::v1::AgentTask&) {
    return 0.0;
  };

  commands::ProjectState aggregate;
  sagas::SagaProject saga;
  std::vector<axion::v1::EventEnvelope> log;           // the project's stream
  std::map<std::string, axion::v1::AgentTask> queued;  // every task queued, by id
  std::vector<std::string> queue_order;                // ids in first-queued order
  std::map<std::string, int> runs;                     // task id -> times an agent ran it
  std::set<std::string> cancelled;                     // task ids cancelled
  std::map<std::string, Status> refusals;              // idempotency key -> refusal
  std::size_t transitions = 0;        // saga commands accepted (its decisions and task results)
  std::vector<std::string> problems;  // what the simulation found wrong (tests expect none)

  explicit SagaSim(int server_count = 2, std::string project = "prj-sim")
      : project_id(std::move(project)) {
    for (int i = 1; i <= server_count; ++i) {
      sagas::ServerInfo s;
      s.server_id = "srv-" + std::to_string(i);
      s.host = "10.0.0." + std::to_string(i);
      s.online = true;
      s.runtimes = {"process", "proxy"};
      s.cpu_millis = 8000;
      s.memory_mb = 16384;
      servers.push_back(s);
    }
    axion::v1::RegisterProject r;
    r.set_project_id(project_id);
    r.set_name("sim");
    if (Status s = command(r, "alice"); !s.ok()) problems.push_back(s.message());
  }

  // Decides a command against the aggregate and appends its events. Keys work as in the
  // command processor: a known key answers the first result and appends nothing.
  Status command(const google::protobuf::Message& payload, const std::string& actor,
                 const std::string& key = "", std::map<std::string, std::string>* ids = nullptr) {
    if (!key.empty()) {
      if (const auto it = refusals.find(key); it != refusals.end()) return it->second;
      if (accepted_keys_.contains(key)) return ok_status();
    }
    google::protobuf::Any any;
    any.PackFrom(payload);
    commands::CommandContext ctx;
    ctx.command_id = "cmd-" + std::to_string(++commands_);
    ctx.actor = actor;
    ctx.now_ms = now_ms;
    auto decision = commands::decide_project_command(aggregate, any, ctx);
    if (!decision.ok()) {
      if (!key.empty()) refusals[key] = decision.status();
      return decision.status();
    }
    if (!key.empty()) accepted_keys_.insert(key);
    for (const auto& e : decision->events) append(e, actor);
    if (ids) *ids = decision->ids;
    return ok_status();
  }

  Status publish(const axion::v1::GraphVersion& graph) {
    // (the message says why a refused graph was refused)
    axion::v1::PublishGraph p;
    p.set_project_id(project_id);
    *p.mutable_services() = graph.services();
    *p.mutable_edges() = graph.edges();
    return command(p, "alice");
  }

  // DeployProject of the latest graph; returns the deployment id ("" on refusal, in `status`).
  std::string deploy(const axion::v1::Strategy& strategy = {},
                     const axion::v1::DeployOptions& options = {}, Status* status = nullptr,
                     const std::string& env = "production") {
    axion::v1::DeployProject d;
    d.set_project_id(project_id);
    d.set_environment(env);
    *d.mutable_strategy() = strategy;
    *d.mutable_options() = options;
    std::map<std::string, std::string> ids;
    Status s = command(d, "alice", "", &ids);
    if (status) *status = s;
    return s.ok() ? ids["deployment_id"] : "";
  }

  // One round: every live deployment reacts, then the agents answer what is queued. True if
  // anything happened.
  bool round() {
    next_wake_.reset();
    bool moved = false;
    std::vector<std::string> live;
    for (const auto& [id, d] : saga.deployments)
      if (!d.id.empty()) live.push_back(id);
    for (const auto& id : live) moved = react(id) || moved;
    moved = run_agents() || moved;
    return moved;
  }

  // Rounds until `id` is terminal (and, for a failure with auto_rollback, its rollback too),
  // advancing the clock to the saga's next wake-up whenever nothing else moves. False if it
  // does not end within `max_rounds`.
  bool settle(const std::string& id, int max_rounds = 500) {
    for (int i = 0; i < max_rounds; ++i) {
      if (round()) continue;
      if (done(id)) return true;
      if (!next_wake_ || *next_wake_ <= now_ms) return false;  // stuck
      now_ms = *next_wake_;
    }
    return done(id);
  }

  const sagas::SagaDeployment& deployment(const std::string& id) const {
    return saga.deployments.at(id);
  }
  axion::v1::DeploymentStatus status(const std::string& id) const {
    return saga.deployments.at(id).status;
  }

  // The events of one type about the project, in log order.
  template <typename Event>
  std::vector<Event> events() const {
    std::vector<Event> out;
    for (const auto& e : log) {
      Event m;
      if (e.payload().Is<Event>() && e.payload().UnpackTo(&m)) out.push_back(m);
    }
    return out;
  }

  // Tasks of a deployment of one kind, in the order they were first queued.
  std::vector<axion::v1::AgentTask> tasks(const std::string& deployment,
                                          axion::v1::TaskKind kind) const {
    std::vector<axion::v1::AgentTask> out;
    for (const auto& id : queue_order) {
      const auto& t = queued.at(id);
      if (t.task().deployment_id() == deployment && t.task().kind() == kind) out.push_back(t);
    }
    return out;
  }

  // Restarts the saga: a fresh fold of the whole log (what a restarted processor does).
  void restart_saga() {
    saga = {};
    for (const auto& e : log) sagas::fold(saga, e);
    check_live();
  }

 private:
  bool done(const std::string& id) const {
    const auto& d = saga.deployments.at(id);
    if (!d.terminal()) return false;
    if (d.status == axion::v1::DEPLOYMENT_STATUS_FAILED && d.rollback_requested) {
      for (const auto& r : events<axion::v1::RollbackRequested>())
        if (r.rollback_of() == id) return saga.deployments.at(r.deployment_id()).terminal();
      return refusals.contains("auto-rollback:" + id);
    }
    return true;
  }

  void append(const google::protobuf::Any& payload, const std::string& actor) {
    axion::v1::EventEnvelope e;
    e.set_event_id("evt-" + std::to_string(log.size() + 1));
    const std::string& url = payload.type_url();
    e.set_type(url.substr(url.rfind('/') + 1));
    e.set_aggregate_id(project_id);
    e.set_sequence(log.size() + 1);
    *e.mutable_occurred_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(now_ms);
    e.set_actor(actor);
    *e.mutable_payload() = payload;
    commands::apply_event(aggregate, payload, now_ms);
    sagas::fold(saga, e);
    log.push_back(std::move(e));
    check_live();
  }

  // The fold keeps SagaProject::live; a scan of every deployment must agree after each event.
  void check_live() {
    std::set<std::string> rolled_back;
    for (const auto& r : events<axion::v1::RollbackRequested>()) rolled_back.insert(r.rollback_of());
    std::set<std::string> want;
    for (const auto& [id, d] : saga.deployments) {
      if (!d.id.empty() && (!d.terminal() || (d.rollback_requested && !rolled_back.contains(id))))
        want.insert(id);
    }
    if (want != saga.live) {
      problems.push_back("the saga's live set (" + std::to_string(saga.live.size()) +
                         " deployments) differs from a scan of its deployments (" +
                         std::to_string(want.size()) + ") after event " +
                         std::to_string(log.size()));
    }
  }

  bool react(const std::string& id) {
    sagas::SagaInputs in;
    in.now_ms = now_ms;
    in.step_deadline = std::chrono::minutes(10);
    in.servers = [this](const std::string& cluster)
        -> Result<std::pair<std::string, std::vector<sagas::ServerInfo>>> {
      return std::make_pair(cluster.empty() ? std::string("cls-sim") : cluster, servers);
    };
    const sagas::SagaOutputs out = sagas::react(saga, id, in);
    if (out.wake_at_ms && (!next_wake_ || *out.wake_at_ms < *next_wake_))
      next_wake_ = out.wake_at_ms;
    bool moved = false;
    for (const auto& c : out.commands) {
      const std::size_t before = log.size();
      const bool known =
          refusals.contains(c.idempotency_key) || accepted_keys_.contains(c.idempotency_key);
      Status s = command_any(c.payload, "system", c.idempotency_key);
      if (!known && s.ok()) ++transitions;
      moved = moved || log.size() != before;
    }
    for (const auto& t : out.tasks) {
      if (queued.emplace(t.task().task_id(), t).second) {
        queue_order.push_back(t.task().task_id());
        moved = true;
      } else if (queued.at(t.task().task_id()).SerializeAsString() != t.SerializeAsString()) {
        problems.push_back("task " + t.task().task_id() + " was queued again with other content");
      }
    }
    for (const auto& c : out.cancels) moved = cancelled.insert(c.task_id()).second || moved;
    return moved;
  }

  Status command_any(const google::protobuf::Any& any, const std::string& actor,
                     const std::string& key) {
    if (any.Is<axion::v1::RecordDeploymentProgress>()) {
      axion::v1::RecordDeploymentProgress m;
      any.UnpackTo(&m);
      return command(m, actor, key);
    }
    axion::v1::RollbackDeployment m;
    any.UnpackTo(&m);
    return command(m, actor, key);
  }

  bool run_agents() {
    bool moved = false;
    for (const auto& id : queue_order) {
      if (answered_.contains(id)) continue;
      const auto& t = queued.at(id);
      axion::v1::AgentTaskResult r;
      r.set_server_id(t.server_id());
      r.set_agent_id("agt-" + t.server_id());
      r.set_deployment_id(t.task().deployment_id());
      r.set_project_id(t.project_id());
      r.set_kind(t.task().kind());
      r.set_instance_id(t.task().spec().process().instance_id());
      auto& u = *r.mutable_update();
      u.set_task_id(id);
      if (cancelled.contains(id)) {
        u.set_state(axion::v1::TASK_STATE_CANCELLED);
        u.set_detail("cancelled");
      } else {
        const Agent how = agent(t);
        if (how == Agent::kSilent) continue;
        ++runs[id];
        if (how == Agent::kFail) {
          u.set_state(axion::v1::TASK_STATE_FAILED);
          u.set_detail("health check failed 3 times");
          u.set_output("listening\nerror: database unreachable\n");
          auto* sample = u.add_health_samples();
          sample->set_healthy(false);
          sample->set_code(503);
        } else {
          u.set_state(axion::v1::TASK_STATE_SUCCEEDED);
          if (t.task().kind() == axion::v1::TASK_KIND_REPORT_TRAFFIC) {
            const auto failed = static_cast<std::uint64_t>(error_rate(t) * 200 + 0.5);
            u.set_requests(200);
            u.set_failed_requests(failed);
            u.set_error_rate(static_cast<double>(failed) / 200);
          }
          if (t.task().kind() == axion::v1::TASK_KIND_START_SERVICE)
            for (const auto& p : t.task().spec().process().ports())
              (*u.mutable_ports())[p.name().empty() ? std::to_string(p.container_port())
                                                    : p.name()] = 30000 + (next_port_++ % 20000);
        }
      }
      answered_.insert(id);
      if (auto c = sagas::record_task_result(r)) {
        const std::size_t before = log.size();
        if (command_any(c->payload, "system", c->idempotency_key).ok() && log.size() != before)
          ++transitions;
        moved = moved || log.size() != before;
      }
    }
    return moved;
  }

  std::set<std::string> accepted_keys_;
  std::set<std::string> answered_;
  std::optional<std::int64_t> next_wake_;
  std::uint64_t commands_ = 0;
  std::uint32_t next_port_ = 0;
};

}  // namespace axion::testing
