// react() of the deployment saga (contract in sagas/deployment_saga.h).
#include "sagas/deployment_saga.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>

#include "codegen/generate.h"

namespace axion::sagas {

namespace {

namespace v1 = axion::v1;
using google::protobuf::util::TimeUtil;

constexpr std::uint32_t kProxyWeightScale = 200;  // HAProxy weights are 0..256
constexpr int kMaxServiceEvents = 48;              // RecordDeploymentProgress holds 64

struct Ctx {
  const SagaProject& project;
  const SagaDeployment& d;
  const SagaInputs& in;
  SagaOutputs out;
};

google::protobuf::Any any_of(const google::protobuf::Message& m) {
  google::protobuf::Any a;
  a.PackFrom(m);
  return a;
}

void record(Ctx& c, const std::vector<google::protobuf::Any>& events, const std::string& tag) {
  v1::RecordDeploymentProgress r;
  r.set_deployment_id(c.d.id);
  r.set_project_id(c.project.project_id);
  for (const auto& e : events) *r.add_events() = e;
  SagaCommand cmd;
  cmd.idempotency_key = "saga:" + c.d.id + ":" + std::to_string(c.d.events) + ":" + tag;
  cmd.aggregate_id = c.project.project_id;
  cmd.payload.PackFrom(r);
  c.out.commands.push_back(std::move(cmd));
}

google::protobuf::Any status_change(const Ctx& c, v1::DeploymentStatus to,
                                    v1::StatusChangeCause cause, const std::string& detail,
                                    v1::DeploymentStatus from) {
  v1::DeploymentStatusChanged e;
  e.set_deployment_id(c.d.id);
  e.set_project_id(c.project.project_id);
  e.set_from_status(from);
  e.set_to_status(to);
  e.set_cause(cause);
  e.set_detail(detail);
  return any_of(e);
}

void wake(Ctx& c, std::int64_t at) {
  if (!c.out.wake_at_ms || at < *c.out.wake_at_ms) c.out.wake_at_ms = at;
}

std::int64_t deadline_ms(const Ctx& c) {
  const auto& pd = c.d.options.progress_deadline();
  const std::int64_t given = TimeUtil::DurationToMilliseconds(pd);
  return given > 0 ? given : c.in.step_deadline.count();
}

// A failure before any instance moved: recorded at once.
void fail_now(Ctx& c, v1::StatusChangeCause cause, const std::string& reason) {
  v1::DeploymentFailed f;
  f.set_deployment_id(c.d.id);
  f.set_project_id(c.project.project_id);
  f.set_reason(reason);
  f.set_cause(cause);
  f.set_rollback_requested(c.d.options.auto_rollback());
  record(c,
         {any_of(f), status_change(c, v1::DEPLOYMENT_STATUS_FAILED, cause, reason, c.d.status)},
         "failed");
}

// The graph a deployment puts in place: a rollback's comes from its target's snapshot event,
// never from current state; others from the published version.
const v1::GraphVersion* graph_of(const SagaProject& p, const SagaDeployment& d) {
  if (!d.rollback_target.empty()) {
    const auto s = p.snapshots.find(d.rollback_target);
    return s == p.snapshots.end() ? nullptr : &s->second.graph();
  }
  const auto g = p.graphs.find(d.graph_version);
  return g == p.graphs.end() ? nullptr : &g->second;
}

// The release being replaced: its deployment, graph and placement (all null/empty for none).
struct Release {
  const SagaDeployment* deployment = nullptr;
  const v1::GraphVersion* graph = nullptr;
  Placement placement;
};

Release previous_release(const SagaProject& p, const SagaDeployment& d) {
  Release r;
  if (d.previous.empty()) return r;
  const auto s = p.snapshots.find(d.previous);
  const auto dep = p.deployments.find(d.previous);
  if (s == p.snapshots.end() || dep == p.deployments.end()) return r;
  r.deployment = &dep->second;
  r.graph = &s->second.graph();
  r.placement = Placement(s->second.placement().begin(), s->second.placement().end());
  return r;
}

const v1::Service* service_of(const v1::GraphVersion* g, const std::string& name) {
  if (!g) return nullptr;
  for (const auto& s : g->services())
    if (s.name() == name) return &s;
  return nullptr;
}

std::string port_key(const v1::Port& p) {
  return p.name().empty() ? std::to_string(p.container_port()) : p.name();
}

bool has_published_port(const v1::GraphVersion& g) {
  for (const auto& s : g.services())
    for (const auto& p : s.ports())
      if (p.has_host_port()) return true;
  return false;
}

// --- PENDING / BUILDING / PROVISIONING

void build(Ctx& c, const v1::GraphVersion& graph) {
  for (const auto& s : graph.services()) {
    if (s.command().empty() && s.args().empty())
      return fail_now(c, v1::STATUS_CHANGE_CAUSE_BUILD_ERROR,
                      "service '" + s.name() +
                          "' has no command: the process runtime runs a service's command on "
                          "the host (set command, and args if needed)");
  }
  codegen::GenerateOptions options;
  options.compose.project_label = c.project.name;
  options.kubernetes_options.project_name = c.project.name;
  options.kubernetes_options.release = c.d.id;
  options.best_effort_targets = true;  // the process runtime runs neither compose nor manifests
  auto generated = codegen::generate_deployment(graph, options);
  if (!generated.ok())
    return fail_now(c, v1::STATUS_CHANGE_CAUSE_BUILD_ERROR,
                    "generating the configuration failed: " + generated.status().message());
  v1::DeploymentConfigGenerated e;
  e.set_deployment_id(c.d.id);
  e.set_project_id(c.project.project_id);
  *e.mutable_config() = generated->config;
  std::vector<google::protobuf::Any> events;
  std::string note = "generating configuration";
  for (const auto& s : generated->skipped) note += "; not generated: " + s;
  if (c.d.status == v1::DEPLOYMENT_STATUS_PENDING)
    events.push_back(status_change(c, v1::DEPLOYMENT_STATUS_BUILDING,
                                   v1::STATUS_CHANGE_CAUSE_PROGRESS, note,
                                   v1::DEPLOYMENT_STATUS_PENDING));
  events.push_back(any_of(e));
  events.push_back(status_change(c, v1::DEPLOYMENT_STATUS_PROVISIONING,
                                 v1::STATUS_CHANGE_CAUSE_PROGRESS, "choosing servers",
                                 v1::DEPLOYMENT_STATUS_BUILDING));
  record(c, events, "build");
}

void provision(Ctx& c, const v1::GraphVersion& graph) {
  if (!c.in.servers)
    return fail_now(c, v1::STATUS_CHANGE_CAUSE_INTERNAL, "no server directory is configured");
  const std::string& wanted = c.d.options.cluster_id();
  auto listed = c.in.servers(wanted);
  if (!listed.ok())
    return fail_now(c, v1::STATUS_CHANGE_CAUSE_PLACEMENT, listed.status().message());
  const auto& [cluster, servers] = *listed;
  const bool proxies = has_published_port(graph);
  const std::set<std::string> only(c.d.options.server_ids().begin(),
                                   c.d.options.server_ids().end());
  std::vector<ServerSlot> slots;
  std::map<std::string, std::string> hosts;
  std::vector<std::string> skipped;
  for (const auto& s : servers) {
    if (!only.empty() && !only.contains(s.server_id)) continue;
    const auto offers = [&](const char* r) {
      return std::find(s.runtimes.begin(), s.runtimes.end(), r) != s.runtimes.end();
    };
    if (s.online && (!offers("process") || (proxies && !offers("proxy")))) {
      skipped.push_back(s.server_id + " (its agent offers no " +
                        (offers("process") ? "proxy" : "process") + " runtime)");
      continue;
    }
    slots.push_back({s.server_id, s.online, s.cpu_millis, s.memory_mb});
    hosts[s.server_id] = s.host.empty() ? "127.0.0.1" : s.host;
  }
  // A rollback goes back to where its snapshot ran when those servers are still usable.
  Result<Placement> placement = invalid_argument("unplaced");
  if (!c.d.rollback_target.empty()) {
    if (const auto s = c.project.snapshots.find(c.d.rollback_target);
        s != c.project.snapshots.end()) {
      bool usable = true;
      for (const auto& [svc, sp] : s->second.placement())
        for (const auto& id : sp.server_ids())
          usable = usable && std::any_of(slots.begin(), slots.end(), [&](const ServerSlot& x) {
                     return x.server_id == id && x.online;
                   });
      if (usable) placement = Placement(s->second.placement().begin(), s->second.placement().end());
    }
  }
  if (!placement.ok()) placement = place_services(graph, slots);
  if (!placement.ok()) {
    std::string reason = "cluster '" + cluster + "': " + placement.status().message();
    for (const auto& s : skipped) reason += "; skipped " + s;
    return fail_now(c, v1::STATUS_CHANGE_CAUSE_PLACEMENT, reason);
  }
  v1::DeploymentServersAssigned e;
  e.set_deployment_id(c.d.id);
  e.set_project_id(c.project.project_id);
  e.set_cluster_id(cluster);
  std::set<std::string> used;
  for (const auto& [svc, sp] : *placement) {
    (*e.mutable_placement())[svc] = sp;
    used.insert(sp.server_ids().begin(), sp.server_ids().end());
  }
  // The previous release's servers keep proxies too, so hosts are needed for them as well.
  const Release prev = previous_release(c.project, c.d);
  if (prev.deployment)
    for (const auto& [id, host] : prev.deployment->server_hosts) hosts.emplace(id, host);
  for (const auto& [svc, sp] : prev.placement) used.insert(sp.server_ids().begin(), sp.server_ids().end());
  for (const auto& id : used)
    if (hosts.contains(id)) (*e.mutable_server_hosts())[id] = hosts.at(id);
  record(c,
         {any_of(e), status_change(c, v1::DEPLOYMENT_STATUS_DEPLOYING,
                                   v1::STATUS_CHANGE_CAUSE_PROGRESS, "rolling out",
                                   v1::DEPLOYMENT_STATUS_PROVISIONING)},
         "placed");
}

// --- DEPLOYING: tasks

struct Instance {
  const SagaDeployment* release;  // whose instance
  const v1::GraphVersion* graph;
  InstanceRef ref;
  std::string id() const { return instance_id(release->id, ref.service, ref.replica); }
};

v1::AgentTask start_task(const Ctx& c, const Instance& inst, const std::string& what,
                         std::int64_t deadline) {
  const v1::Service* s = service_of(inst.graph, inst.ref.service);
  v1::AgentTask t;
  t.set_server_id(inst.ref.server_id);
  t.set_project_id(c.project.project_id);
  auto& task = *t.mutable_task();
  task.set_task_id(task_id(c.d.id, what + ":" + inst.id()));
  task.set_deployment_id(c.d.id);
  task.set_kind(v1::TASK_KIND_START_SERVICE);
  task.set_attempt(1);
  *task.mutable_deadline() = TimeUtil::MillisecondsToTimestamp(deadline);
  auto& p = *task.mutable_spec()->mutable_process();
  p.set_service(inst.ref.service);
  p.set_instance_id(inst.id());
  if (s) {
    for (const auto& a : s->command()) p.add_argv(a);
    for (const auto& a : s->args()) p.add_argv(a);
    p.mutable_env()->insert(s->env().begin(), s->env().end());
    p.set_workdir(s->working_dir());
    // Instances listen on ports the agent allocates; a published port belongs to the proxies.
    *p.mutable_ports() = s->ports();
    for (auto& port : *p.mutable_ports()) port.clear_host_port();
    if (s->has_health_check()) *p.mutable_health_check() = s->health_check();
    p.set_restart_policy(s->restart_policy());
    p.mutable_labels()->insert(s->labels().begin(), s->labels().end());
  }
  (*p.mutable_labels())["axion.io/deployment"] = inst.release->id;
  return t;
}

v1::AgentTask stop_task(const Ctx& c, const Instance& inst, const std::string& what,
                        std::int64_t deadline) {
  v1::AgentTask t;
  t.set_server_id(inst.ref.server_id);
  t.set_project_id(c.project.project_id);
  auto& task = *t.mutable_task();
  task.set_task_id(task_id(c.d.id, what + ":" + inst.id()));
  task.set_deployment_id(c.d.id);
  task.set_kind(v1::TASK_KIND_STOP_SERVICE);
  task.set_attempt(1);
  *task.mutable_deadline() = TimeUtil::MillisecondsToTimestamp(deadline);
  auto& p = *task.mutable_spec()->mutable_process();
  p.set_service(inst.ref.service);
  p.set_instance_id(inst.id());
  return t;
}

// Where an instance listens: the latest successful start of it in any deployment's results.
const v1::DeploymentTaskCompleted* started(const SagaProject& p, const std::string& instance) {
  const v1::DeploymentTaskCompleted* best = nullptr;
  std::int64_t best_at = -1;
  for (const auto& [id, d] : p.deployments) {
    for (const auto& [tid, r] : d.results) {
      if (r.instance_id() != instance || !r.started_instance() || !r.succeeded()) continue;
      if (d.last_event_ms > best_at) {
        best = &r;
        best_at = d.last_event_ms;
      }
    }
  }
  return best;
}

struct Backend {
  Instance inst;
  bool is_new = false;
};

// SWITCH_TRAFFIC on every proxy server for every published port of the services, with the
// given backends: the new ones share `weight`% of the traffic, the old ones the rest.
// `weight` < 0 weighs every backend alike.
void switch_tasks(const Ctx& c, const std::string& what, const std::set<std::string>& services,
                  const std::vector<Backend>& backends, int weight,
                  const std::set<std::string>& proxy_servers, std::int64_t deadline,
                  std::vector<v1::AgentTask>& out) {
  std::size_t n_new = 0, n_old = 0;
  for (const auto& b : backends) (b.is_new ? n_new : n_old)++;
  for (const auto& name : services) {
    const v1::Service* s = nullptr;
    for (const auto& b : backends)
      if (b.inst.ref.service == name) s = service_of(b.inst.graph, name);
    if (!s) s = service_of(graph_of(c.project, c.d), name);
    if (!s) continue;
    for (const auto& port : s->ports()) {
      if (!port.has_host_port()) continue;
      std::size_t sn = 0, so = 0;
      for (const auto& b : backends)
        if (b.inst.ref.service == name) (b.is_new ? sn : so)++;
      for (const auto& server : proxy_servers) {
        v1::AgentTask t;
        t.set_server_id(server);
        t.set_project_id(c.project.project_id);
        auto& task = *t.mutable_task();
        task.set_task_id(task_id(c.d.id, what + ":" + server + ":" + name + ":" + port_key(port)));
        task.set_deployment_id(c.d.id);
        task.set_kind(v1::TASK_KIND_SWITCH_TRAFFIC);
        task.set_attempt(1);
        *task.mutable_deadline() = TimeUtil::MillisecondsToTimestamp(deadline);
        auto& proxy = *task.mutable_spec()->mutable_proxy();
        proxy.set_service(name);
        proxy.set_listen_port(port.host_port());
        proxy.set_protocol(port.protocol());
        for (const auto& b : backends) {
          if (b.inst.ref.service != name) continue;
          const auto* where = started(c.project, b.inst.id());
          if (!where) continue;
          const auto p = where->ports().find(port_key(port));
          if (p == where->ports().end()) continue;
          const auto hosts = b.inst.release->server_hosts;
          const auto h = hosts.find(b.inst.ref.server_id);
          const std::string host = h == hosts.end() ? "127.0.0.1" : h->second;
          // weight < 0: every live backend alike (rolling batches, restores).
          if (weight < 0) {
            auto& be = *proxy.add_backends();
            be.set_instance_id(b.inst.id());
            be.set_address(host + ":" + std::to_string(p->second));
            be.set_weight(kProxyWeightScale / 2);
            continue;
          }
          const std::uint32_t share = static_cast<std::uint32_t>(b.is_new ? weight : 100 - weight);
          const std::size_t count = b.is_new ? (sn ? sn : 1) : (so ? so : 1);
          std::uint32_t w = static_cast<std::uint32_t>(share * kProxyWeightScale / 100 / count);
          if (share > 0 && w == 0) w = 1;
          if ((b.is_new ? so : sn) == 0 && share == 0) w = kProxyWeightScale / (count ? count : 1);
          auto& be = *proxy.add_backends();
          be.set_instance_id(b.inst.id());
          be.set_address(host + ":" + std::to_string(p->second));
          be.set_weight(std::max<std::uint32_t>(w, share > 0 ? 1 : 0));
        }
        out.push_back(std::move(t));
      }
    }
  }
  (void)n_new;
  (void)n_old;
}

// Pending tasks: those without a result. Adds them to the outputs; true when all are done.
// `failed` gets the first failed result.
bool await(Ctx& c, const std::vector<v1::AgentTask>& tasks,
           const v1::DeploymentTaskCompleted** failed) {
  bool done = true;
  for (const auto& t : tasks) {
    const auto r = c.d.results.find(t.task().task_id());
    if (r == c.d.results.end()) {
      c.out.tasks.push_back(t);
      done = false;
    } else if (!r->second.succeeded() && failed && !*failed) {
      *failed = &r->second;
    }
  }
  return done;
}

struct Plan {
  const v1::GraphVersion* graph = nullptr;
  Release prev;
  std::vector<PlannedStep> steps;
  std::set<std::string> proxy_servers;
};

Instance new_instance(const Ctx& c, const Plan& plan, const InstanceRef& ref) {
  return {&c.d, plan.graph, ref};
}
Instance old_instance(const Plan& plan, const InstanceRef& ref) {
  return {plan.prev.deployment, plan.prev.graph, ref};
}

// Backends after step k: new instances started in steps <= k, old ones not stopped in steps
// <= k (a step's stops leave traffic in that step's switch).
std::vector<Backend> backends_after(const Ctx& c, const Plan& plan, std::size_t k) {
  std::vector<Backend> out;
  std::set<std::pair<std::string, std::uint32_t>> stopped;
  for (std::size_t i = 0; i <= k && i < plan.steps.size(); ++i) {
    for (const auto& r : plan.steps[i].start) out.push_back({new_instance(c, plan, r), true});
    for (const auto& r : plan.steps[i].stop) stopped.insert({r.service, r.replica});
  }
  if (plan.prev.deployment) {
    for (const auto& [svc, sp] : plan.prev.placement)
      for (int i = 0; i < sp.server_ids_size(); ++i)
        if (!stopped.contains({svc, static_cast<std::uint32_t>(i)}))
          out.push_back({old_instance(plan, {svc, static_cast<std::uint32_t>(i), sp.server_ids(i)}),
                         false});
  }
  return out;
}

std::string describe_pending(const Ctx& c, const std::vector<v1::AgentTask>& tasks) {
  std::string out;
  int n = 0;
  for (const auto& t : tasks) {
    if (c.d.results.contains(t.task().task_id())) continue;
    if (n++ < 5)
      out += (out.empty() ? "" : ", ") + v1::TaskKind_Name(t.task().kind()).substr(10) + " on " +
             t.server_id();
  }
  if (n > 5) out += " and " + std::to_string(n - 5) + " more";
  return out;
}

// The tasks of step k, by phase.
struct StepTasks {
  std::vector<v1::AgentTask> start, traffic, stop;
};

StepTasks step_tasks(const Ctx& c, const Plan& plan, std::size_t k, std::int64_t deadline) {
  StepTasks t;
  const PlannedStep& step = plan.steps[k];
  const std::string n = std::to_string(k);
  for (const auto& r : step.start)
    t.start.push_back(start_task(c, new_instance(c, plan, r), "start", deadline));
  std::set<std::string> services;
  for (const auto& r : step.start) services.insert(r.service);
  for (const auto& r : step.stop) services.insert(r.service);
  const bool shares = step.kind == v1::STEP_KIND_CANARY_WEIGHT ||
                      step.kind == v1::STEP_KIND_BLUE_GREEN_STAGE ||
                      step.kind == v1::STEP_KIND_TRAFFIC_SWITCH;
  switch_tasks(c, "switch:" + n, services, backends_after(c, plan, k),
               shares ? static_cast<int>(step.weight) : -1, plan.proxy_servers, deadline,
               t.traffic);
  for (const auto& r : step.stop)
    t.stop.push_back(stop_task(c, old_instance(plan, r), "stop", deadline));
  return t;
}

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
                    const std::string& detail, std::vector<google::protobuf::Any> before = {}) {
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
      if (!promoted && now < done_at + before.wait.count()) return wake(c, done_at + before.wait.count());
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
  const std::int64_t deadline = c.d.steps_started.at(key) + deadline_ms(c);
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
      if (instance_id(c.d.id, ref.service, ref.replica) == r.instance_id()) s.set_service(ref.service);
    step_completed(c, plan, k, v1::STEP_OUTCOME_FAILED, failure_text(r), {any_of(s)});
  };
  std::vector<v1::AgentTask> all = tasks.start;
  all.insert(all.end(), tasks.traffic.begin(), tasks.traffic.end());
  all.insert(all.end(), tasks.stop.begin(), tasks.stop.end());
  if (now >= deadline) {
    return step_completed(c, plan, k, v1::STEP_OUTCOME_FAILED,
                          "deadline: step " + std::to_string(k) + " did not finish within " +
                              std::to_string(deadline_ms(c) / 1000) + " s; still waiting for " +
                              describe_pending(c, all));
  }
  wake(c, deadline);
  if (!await(c, tasks.start, &failed)) return;
  if (failed) return fail_step(*failed);
  if (!await(c, tasks.traffic, &failed)) return;
  if (failed) return fail_step(*failed);
  if (!await(c, tasks.stop, &failed)) return;
  // A stop that failed leaves an old instance running but traffic already left it: the step
  // still counts, and the detail says so.
  std::string detail = "completed";
  if (failed) detail = "completed; an old instance did not stop: " + failure_text(*failed);
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
        for (const auto* phase : {&tasks.start, &tasks.traffic, &tasks.stop}) {
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
    events.push_back(status_change(c, v1::DEPLOYMENT_STATUS_FAILED, f.cause(), f.reason(),
                                   c.d.status));
  } else {
    v1::DeploymentCancelled e;
    e.set_deployment_id(c.d.id);
    e.set_project_id(c.project.project_id);
    const bool superseded = !c.d.superseded_by.empty();
    e.set_cause(superseded ? v1::STATUS_CHANGE_CAUSE_SUPERSEDED : v1::STATUS_CHANGE_CAUSE_USER);
    e.set_reason((superseded ? "superseded by " + c.d.superseded_by
                             : (c.d.cancel_reason.empty() ? std::string("cancelled")
                                                          : c.d.cancel_reason)) +
                 note);
    events.push_back(any_of(e));
    events.push_back(status_change(c, v1::DEPLOYMENT_STATUS_CANCELLED, e.cause(), e.reason(),
                                   c.d.status));
  }
  record(c, events, "end");
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
    for (const auto* phase : {&tasks.start, &tasks.traffic, &tasks.stop}) {
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
        stop.push_back(stop_task(c, new_instance(c, *plan, {svc, static_cast<std::uint32_t>(i),
                                                           sp.server_ids(i)}),
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
  auto steps = plan_rollout(graph, c.d.placement, plan.prev.placement, c.d.strategy);
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

}  // namespace

SagaOutputs react(const SagaProject& project, const std::string& id, const SagaInputs& in) {
  const auto it = project.deployments.find(id);
  if (it == project.deployments.end() || it->second.id.empty()) return {};
  Ctx c{project, it->second, in, {}};
  const SagaDeployment& d = c.d;
  if (d.terminal()) {
    // auto_rollback: one RollbackDeployment per failed deployment (the key makes it once).
    if (d.status == v1::DEPLOYMENT_STATUS_FAILED && d.rollback_requested) {
      bool started = false;
      for (const auto& [rid, of] : project.rollback_of) started = started || of == d.id;
      if (!started) {
        v1::RollbackDeployment r;
        r.set_deployment_id(d.id);
        r.set_reason("automatic rollback after deployment " + d.id + " failed");
        SagaCommand cmd;
        cmd.idempotency_key = "auto-rollback:" + d.id;
        cmd.aggregate_id = project.project_id;
        cmd.payload.PackFrom(r);
        c.out.commands.push_back(std::move(cmd));
      }
    }
    return std::move(c.out);
  }
  const v1::GraphVersion* graph = graph_of(project, d);
  if (!graph) {
    if (d.aborting()) finish_abort(c, nullptr, "");
    else
      fail_now(c, v1::STATUS_CHANGE_CAUSE_INTERNAL,
               d.rollback_target.empty()
                   ? "graph version " + std::to_string(d.graph_version) + " is not in the log"
                   : "the snapshot of " + d.rollback_target + " is not in the log");
    return std::move(c.out);
  }
  if (d.aborting()) {
    if (d.status != v1::DEPLOYMENT_STATUS_DEPLOYING || !d.placed) {
      finish_abort(c, nullptr, "");
    } else if (auto plan = make_plan(c, *graph); plan.ok()) {
      abort(c, &*plan);
    } else {
      finish_abort(c, nullptr, "");
    }
    return std::move(c.out);
  }
  switch (d.status) {
    case v1::DEPLOYMENT_STATUS_PENDING:
      // Wait for an older deployment of the environment that is still stopping.
      for (const auto& [oid, other] : project.deployments) {
        if (oid != d.id && !other.id.empty() && other.environment == d.environment &&
            !other.terminal() && other.requested_at_ms <= d.requested_at_ms &&
            !other.superseded_by.empty())
          return std::move(c.out);
      }
      build(c, *graph);
      break;
    case v1::DEPLOYMENT_STATUS_BUILDING:
      build(c, *graph);
      break;
    case v1::DEPLOYMENT_STATUS_PROVISIONING:
      provision(c, *graph);
      break;
    case v1::DEPLOYMENT_STATUS_DEPLOYING: {
      auto plan = make_plan(c, *graph);
      if (!plan.ok()) {
        fail_now(c, v1::STATUS_CHANGE_CAUSE_INTERNAL, "planning the rollout failed: " +
                                                          plan.status().message());
        break;
      }
      deploy(c, *plan);
      break;
    }
    default:
      break;
  }
  return std::move(c.out);
}

}  // namespace axion::sagas
