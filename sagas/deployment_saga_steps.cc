// DEPLOYING (sagas/impl/saga_internal.h): the steps of the plan, each START -> SWITCH_TRAFFIC
// -> STOP; success with its snapshot; and the abort that restores the previous release before a
// failure or cancel is recorded.
#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "sagas/impl/saga_internal.h"

namespace axion::sagas::detail {

std::vector<google::protobuf::Any> service_events(const Ctx& c, const PlannedStep& step) {
  std::vector<google::protobuf::Any> out;
  std::set<std::pair<std::string, std::string>> seen;
  const auto add = [&](const InstanceRef& r, v1::ServiceStatus to, const std::string& detail) {
    if (!seen.insert({r.service, r.server_id}).second ||
        static_cast<int>(out.size()) >= kMaxServiceEvents)
      return;
    v1::ServiceStatusChanged e;
    e.set_deployment_id(c.d.id);
    e.set_project_id(c.project.project_id);
    e.set_service(r.service);
    e.set_server_id(r.server_id);
    e.set_to_status(to);
    e.set_detail(detail);
    out.push_back(any_of(e));
  };
  for (const auto& r : step.start) add(r, v1::SERVICE_STATUS_HEALTHY, "healthy");
  return out;
}

void succeed(Ctx& c, const Plan& plan) {
  v1::DeploymentSnapshotted snap;
  auto& s = *snap.mutable_snapshot();
  s.set_deployment_id(c.d.id);
  s.set_project_id(c.project.project_id);
  s.set_environment(c.d.environment);
  *s.mutable_graph() = *plan.graph;
  *s.mutable_config() = c.d.config;
  for (const auto& [svc, sp] : c.d.placement) (*s.mutable_placement())[svc] = sp;
  *s.mutable_strategy() = c.d.strategy;
  *s.mutable_options() = c.d.options;
  v1::DeploymentSucceeded ok;
  ok.set_deployment_id(c.d.id);
  ok.set_project_id(c.project.project_id);
  ok.set_graph_version(plan.graph->version());
  record(c,
         {any_of(snap), any_of(ok),
          status_change(c, v1::DEPLOYMENT_STATUS_SUCCESS, v1::STATUS_CHANGE_CAUSE_PROGRESS,
                        "every step completed", v1::DEPLOYMENT_STATUS_DEPLOYING)},
         "succeeded");
}

void step_completed(Ctx& c, const Plan& plan, std::size_t k, v1::StepOutcome outcome,
                    const std::string& detail, std::vector<google::protobuf::Any> before) {
  v1::DeploymentStepCompleted e;
  e.set_deployment_id(c.d.id);
  e.set_project_id(c.project.project_id);
  e.set_step_index(static_cast<std::uint32_t>(k));
  e.set_kind(plan.steps[k].kind);
  e.set_weight(outcome == v1::STEP_OUTCOME_SUCCEEDED ? plan.steps[k].weight : 0);
  e.set_outcome(outcome);
  e.set_detail(detail);
  before.push_back(any_of(e));
  record(c, before, "step-" + std::to_string(k) + "-done");
}

std::string failure_text(const v1::DeploymentTaskCompleted& r) {
  std::string text = r.state() + " on server " + r.server_id();
  if (!r.instance_id().empty()) text += " (instance " + r.instance_id() + ")";
  if (!r.detail().empty()) text += ": " + r.detail();
  return text;
}

// "; the agent of srv-2 is OFFLINE" for the servers of unanswered tasks whose agent the
// directory shows offline: why a step waited in vain, when that is the reason.
std::string offline_agents(const Ctx& c, const std::vector<v1::AgentTask>& tasks) {
  if (!c.in.servers || c.d.cluster_id.empty()) return "";
  auto listed = c.in.servers(c.d.cluster_id);
  if (!listed.ok()) return "";
  std::set<std::string> waiting;
  for (const auto& t : tasks)
    if (!c.d.results.contains(t.task().task_id())) waiting.insert(t.server_id());
  std::string out;
  for (const auto& s : listed->second)
    if (waiting.contains(s.server_id) && !s.online)
      out += (out.empty() ? "; the agent of " : ", of ") + s.server_id;
  return out.empty() ? "" : out + " is OFFLINE";
}

void deploy(Ctx& c, const Plan& plan) {
  const std::int64_t now = c.in.now_ms;
  std::size_t k = 0;
  while (k < plan.steps.size() && c.d.steps_completed.contains(static_cast<std::uint32_t>(k))) ++k;
  if (k == plan.steps.size()) return succeed(c, plan);
  const auto key = static_cast<std::uint32_t>(k);
  if (!c.d.steps_started.contains(key)) {
    if (k > 0) {
      const PlannedStep& before = plan.steps[k - 1];
      const std::int64_t done_at = c.d.steps_completed.at(key - 1).second;
      const bool promoted = c.d.promoted_full || c.d.promoted_after.contains(key - 1);
      if (before.needs_promotion && !promoted) {
        if (c.d.paused_after.contains(key - 1)) return;  // held for a person
        v1::DeploymentPaused p;
        p.set_deployment_id(c.d.id);
        p.set_project_id(c.project.project_id);
        p.set_step_index(key - 1);
        p.set_reason("manual promotion: waiting for PromoteDeployment");
        p.set_paused_by("system");
        return record(c, {any_of(p)}, "hold-" + std::to_string(k - 1));
      }
      if (c.d.paused && !promoted) return;  // a person paused it
      if (!promoted && now < done_at + before.wait.count())
        return wake(c, done_at + before.wait.count());
    }
    const PlannedStep& step = plan.steps[k];
    v1::DeploymentStepStarted e;
    e.set_deployment_id(c.d.id);
    e.set_project_id(c.project.project_id);
    e.set_step_index(key);
    e.set_kind(step.kind);
    e.set_weight(step.weight);
    e.set_total_steps(static_cast<std::uint32_t>(plan.steps.size()));
    for (const auto& s : step.services()) e.add_services(s);
    for (const auto& s : step.server_ids()) e.add_server_ids(s);
    return record(c, {any_of(e)}, "step-" + std::to_string(k));
  }
  const std::int64_t deadline = step_deadline(c, plan, k);
  const StepTasks tasks = step_tasks(c, plan, k, deadline);
  const v1::DeploymentTaskCompleted* failed = nullptr;
  const auto fail_step = [&](const v1::DeploymentTaskCompleted& r) {
    v1::ServiceStatusChanged s;
    s.set_deployment_id(c.d.id);
    s.set_project_id(c.project.project_id);
    s.set_server_id(r.server_id());
    s.set_task_id(r.task_id());
    s.set_to_status(v1::SERVICE_STATUS_FAILED);
    s.set_detail(r.detail());
    for (const auto& ref : plan.steps[k].start)
      if (instance_id(c.d.id, ref.service, ref.replica) == r.instance_id())
        s.set_service(ref.service);
    step_completed(c, plan, k, v1::STEP_OUTCOME_FAILED, failure_text(r), {any_of(s)});
  };
  std::vector<v1::AgentTask> all;
  for (const auto* phase : tasks.phases()) all.insert(all.end(), phase->begin(), phase->end());
  if (now >= deadline) {
    return step_completed(c, plan, k, v1::STEP_OUTCOME_FAILED,
                          "deadline: step " + std::to_string(k) + " did not finish within " +
                              std::to_string((deadline - c.d.steps_started.at(key)) / 1000) +
                              " s; still waiting for " + describe_pending(c, all) +
                              offline_agents(c, all));
  }
  wake(c, deadline);
  if (!await(c, tasks.start, &failed)) return;
  if (failed) return fail_step(*failed);
  if (!await(c, tasks.traffic, &failed)) return;
  if (failed) return fail_step(*failed);
  std::string gate;
  if (!gate_passed(c, plan, k, tasks, gate)) return;
  if (!await(c, tasks.stop, &failed)) return;
  // A stop that failed leaves an old instance running but traffic already left it: the step
  // still counts, and the detail says so.
  std::string detail = "completed" + gate;
  if (failed) detail += "; an old instance did not stop: " + failure_text(*failed);
  step_completed(c, plan, k, v1::STEP_OUTCOME_SUCCEEDED, detail, service_events(c, plan.steps[k]));
}

// --- aborting: cancel what runs, restore the previous release, then record the end.

void finish_abort(Ctx& c, const Plan* plan, const std::string& note) {
  std::vector<google::protobuf::Any> events;
  if (!c.d.step_failure.empty()) {
    v1::DeploymentFailed f;
    f.set_deployment_id(c.d.id);
    f.set_project_id(c.project.project_id);
    f.set_reason(c.d.step_failure + note);
    f.set_rollback_requested(c.d.options.auto_rollback());
    f.set_cause(v1::STATUS_CHANGE_CAUSE_DEADLINE);
    for (const auto& [k, done] : c.d.steps_completed) {
      if (done.first != v1::STEP_OUTCOME_FAILED) continue;
      f.set_step_index(k);
      if (plan && k < plan->steps.size()) f.set_step_kind(plan->steps[k].kind);
      if (plan && k < plan->steps.size()) {
        const StepTasks tasks = step_tasks(c, *plan, k, 0);
        if (const auto* over = over_limit(c, *plan, k, tasks)) {  // the error-rate gate
          f.set_server_id(over->server_id());
          f.set_agent_output(over->detail());
          f.set_service(gated_service(tasks, *over));
          f.set_cause(v1::STATUS_CHANGE_CAUSE_HEALTH);
        }
        for (const auto* phase : tasks.phases()) {
          for (const auto& t : *phase) {
            const auto r = c.d.results.find(t.task().task_id());
            // The task that failed the step; tasks the abort itself cancelled are not it.
            if (r == c.d.results.end() || r->second.succeeded() ||
                r->second.state() == "CANCELLED" || !f.server_id().empty())
              continue;
            f.set_server_id(r->second.server_id());
            f.set_agent_output(r->second.output());
            *f.mutable_last_health_samples() = r->second.health_samples();
            if (t.task().spec().has_process()) f.set_service(t.task().spec().process().service());
            const bool unhealthy = !r->second.health_samples().empty() &&
                                   !r->second.health_samples().rbegin()->healthy();
            f.set_cause(unhealthy ? v1::STATUS_CHANGE_CAUSE_HEALTH
                                  : v1::STATUS_CHANGE_CAUSE_AGENT_ERROR);
          }
        }
      }
      break;
    }
    events.push_back(any_of(f));
    events.push_back(
        status_change(c, v1::DEPLOYMENT_STATUS_FAILED, f.cause(), f.reason(), c.d.status));
  } else {
    v1::DeploymentCancelled e;
    e.set_deployment_id(c.d.id);
    e.set_project_id(c.project.project_id);
    const bool superseded = !c.d.superseded_by.empty();
    e.set_cause(superseded ? v1::STATUS_CHANGE_CAUSE_SUPERSEDED : v1::STATUS_CHANGE_CAUSE_USER);
    e.set_reason(
        (superseded ? "superseded by " + c.d.superseded_by
                    : (c.d.cancel_reason.empty() ? std::string("cancelled") : c.d.cancel_reason)) +
        note);
    events.push_back(any_of(e));
    events.push_back(
        status_change(c, v1::DEPLOYMENT_STATUS_CANCELLED, e.cause(), e.reason(), c.d.status));
  }
  record(c, events, "end");
}

// Compose: the previous release's file again where this one was applied, or this project down
// (and the previous one applied again on its own server if its down was sent).
void restore_compose(Ctx& c, const Plan& plan, std::int64_t deadline) {
  const std::string server = compose_server(c.d.placement);
  const std::string before = compose_server(plan.prev.placement);
  std::vector<v1::AgentTask> restore;
  if (plan.prev.deployment && before == server) {
    restore.push_back(compose_task(c, server, plan.prev.graph, "restore-apply", deadline));
  } else {
    restore.push_back(compose_task(c, server, nullptr, "restore-down", deadline));
    if (plan.prev.deployment && !before.empty() &&
        c.d.results.contains(task_id(c.d.id, "down:" + before)))
      restore.push_back(compose_task(c, before, plan.prev.graph, "restore-apply", deadline));
  }
  if (!await(c, restore, nullptr)) return;
  finish_abort(c, &plan, "");
}

void abort(Ctx& c, const Plan* plan) {
  if (!plan || c.d.steps_started.empty()) return finish_abort(c, plan, "");
  const std::int64_t deadline = c.d.abort_started_ms + deadline_ms(c);
  // 1. Cancel the tasks of started steps that have no result yet.
  std::set<std::string> dispatched_stops;
  std::set<std::pair<std::string, std::uint32_t>> started_new;
  bool traffic_touched = false;
  for (const auto& [k, at] : c.d.steps_started) {
    if (k >= plan->steps.size()) continue;
    const StepTasks tasks = step_tasks(c, *plan, k, 0);
    for (const auto* phase : tasks.phases()) {
      for (const auto& t : *phase) {
        if (c.d.results.contains(t.task().task_id())) continue;
        v1::AgentTaskCancel cancel;
        cancel.set_server_id(t.server_id());
        cancel.set_task_id(t.task().task_id());
        cancel.set_reason("deployment " + c.d.id + " is being stopped");
        c.out.cancels.push_back(cancel);
      }
    }
    traffic_touched = traffic_touched || !tasks.traffic.empty();
    for (const auto& r : plan->steps[k].start) started_new.insert({r.service, r.replica});
    // A step's stops were sent only once its starts and switches all succeeded.
    const auto succeeded = [&](const std::vector<v1::AgentTask>& phase) {
      return std::all_of(phase.begin(), phase.end(), [&](const v1::AgentTask& t) {
        const auto r = c.d.results.find(t.task().task_id());
        return r != c.d.results.end() && r->second.succeeded();
      });
    };
    if (plan->prev.deployment && succeeded(tasks.start) && succeeded(tasks.traffic))
      for (const auto& r : plan->steps[k].stop)
        dispatched_stops.insert(instance_id(plan->prev.deployment->id, r.service, r.replica));
  }
  if (c.in.now_ms >= deadline)
    return finish_abort(c, plan, " (restoring the previous release did not finish in time)");
  wake(c, deadline);
  if (plan->compose) return restore_compose(c, *plan, deadline);
  // 2. Start again the old instances this deployment stopped (adopted if still running).
  std::vector<v1::AgentTask> restart, traffic, stop;
  std::vector<Backend> old_backends;
  if (plan->prev.deployment) {
    for (const auto& [svc, sp] : plan->prev.placement) {
      for (int i = 0; i < sp.server_ids_size(); ++i) {
        const InstanceRef ref{svc, static_cast<std::uint32_t>(i), sp.server_ids(i)};
        const Instance inst = old_instance(*plan, ref);
        old_backends.push_back({inst, false});
        if (dispatched_stops.contains(inst.id()))
          restart.push_back(start_task(c, inst, "restore-start", deadline));
      }
    }
  }
  // 3. Traffic back to the old release only; 4. stop every new instance.
  if (traffic_touched) {
    std::set<std::string> services;
    for (const auto& s : plan->graph->services()) services.insert(s.name());
    if (plan->prev.graph)
      for (const auto& s : plan->prev.graph->services()) services.insert(s.name());
    switch_tasks(c, "restore-switch", services, old_backends, -1, plan->proxy_servers, deadline,
                 traffic);
  }
  for (const auto& [svc, sp] : c.d.placement)
    for (int i = 0; i < sp.server_ids_size(); ++i)
      if (started_new.contains({svc, static_cast<std::uint32_t>(i)}))
        stop.push_back(stop_task(
            c, new_instance(c, *plan, {svc, static_cast<std::uint32_t>(i), sp.server_ids(i)}),
            "restore-stop", deadline));
  if (!await(c, restart, nullptr)) return;
  if (!await(c, traffic, nullptr)) return;
  if (!await(c, stop, nullptr)) return;
  finish_abort(c, plan, "");
}

Result<Plan> make_plan(const Ctx& c, const v1::GraphVersion& graph) {
  Plan plan;
  plan.graph = &graph;
  plan.prev = previous_release(c.project, c.d);
  if (runtime_of(c.d.options) == "compose") {
    // One step: the project's compose file applied on its server (compose replaces what
    // changed); the previous release's project is taken down if it ran elsewhere.
    plan.compose = true;
    PlannedStep apply;
    apply.kind = v1::STEP_KIND_COMPOSE_APPLY;
    apply.weight = 100;
    for (const auto& [svc, sp] : c.d.placement)
      for (int i = 0; i < sp.server_ids_size(); ++i)
        apply.start.push_back({svc, static_cast<std::uint32_t>(i), sp.server_ids(i)});
    plan.steps.push_back(std::move(apply));
    return plan;
  }
  auto steps = plan_rollout(graph, c.d.placement, plan.prev.placement, c.d.strategy, c.d.fast);
  if (!steps.ok()) return steps.status();
  plan.steps = std::move(steps).value();
  if (has_published_port(graph) || (plan.prev.graph && has_published_port(*plan.prev.graph))) {
    for (const auto& [svc, sp] : c.d.placement)
      plan.proxy_servers.insert(sp.server_ids().begin(), sp.server_ids().end());
    for (const auto& [svc, sp] : plan.prev.placement)
      plan.proxy_servers.insert(sp.server_ids().begin(), sp.server_ids().end());
  }
  return plan;
}

}  // namespace axion::sagas::detail
