// The agent tasks of a deployment step (sagas/impl/saga_internal.h): START and STOP of
// instances, SWITCH_TRAFFIC and REPORT_TRAFFIC on the proxies, APPLY_COMPOSE / down of a compose
// project. Every
// task id is derived from the deployment and what the task is for, so queuing it again is
// harmless.
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <map>

#include "codegen/compose.h"
#include "sagas/impl/saga_internal.h"

namespace axion::sagas::detail {

using google::protobuf::util::TimeUtil;

namespace {

// A task of this deployment for `server`, its id derived from `what`.
v1::AgentTask base_task(const Ctx& c, const std::string& server, const std::string& what,
                        v1::TaskKind kind, std::int64_t deadline) {
  v1::AgentTask t;
  t.set_server_id(server);
  t.set_project_id(c.project.project_id);
  auto& task = *t.mutable_task();
  task.set_task_id(task_id(c.d.id, what));
  task.set_deployment_id(c.d.id);
  task.set_kind(kind);
  task.set_attempt(1);
  *task.mutable_deadline() = TimeUtil::MillisecondsToTimestamp(deadline);
  return t;
}

// A task about one instance (its process spec names the service and the instance).
v1::AgentTask instance_task(const Ctx& c, const Instance& inst, const std::string& what,
                            v1::TaskKind kind, std::int64_t deadline) {
  v1::AgentTask t = base_task(c, inst.ref.server_id, what + ":" + inst.id(), kind, deadline);
  auto& p = *t.mutable_task()->mutable_spec()->mutable_process();
  p.set_service(inst.ref.service);
  p.set_instance_id(inst.id());
  return t;
}

}  // namespace

namespace {

// The command, environment and working directory of a service, as its instances run it.
void set_command(v1::ProcessSpec& p, const v1::Service& s) {
  for (const auto& a : s.command()) p.add_argv(a);
  for (const auto& a : s.args()) p.add_argv(a);
  p.mutable_env()->insert(s.env().begin(), s.env().end());
  p.set_workdir(s.working_dir());
}

// Disk the agent's state directory should have free per instance: its rotated logs.
constexpr std::uint64_t kDiskPerInstanceMb = 50;

}  // namespace

v1::AgentTask start_task(const Ctx& c, const Instance& inst, const std::string& what,
                         std::int64_t deadline) {
  v1::AgentTask t = instance_task(c, inst, what, v1::TASK_KIND_START_SERVICE, deadline);
  auto& p = *t.mutable_task()->mutable_spec()->mutable_process();
  if (const v1::Service* s = service_of(inst.graph, inst.ref.service)) {
    set_command(p, *s);
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

std::vector<v1::AgentTask> prepare_tasks(const Ctx& c, const v1::GraphVersion& graph,
                                         std::int64_t deadline) {
  std::map<std::string, std::set<std::string>> services;  // server -> services placed there
  std::map<std::string, std::uint64_t> instances;
  for (const auto& [svc, sp] : c.d.placement)
    for (const auto& server : sp.server_ids()) {
      services[server].insert(svc);
      ++instances[server];
    }
  std::vector<v1::AgentTask> out;
  for (const auto& [server, names] : services) {
    v1::AgentTask t =
        base_task(c, server, "prepare:" + server, v1::TASK_KIND_PREPARE_INFRA, deadline);
    auto& prepare = *t.mutable_task()->mutable_spec()->mutable_prepare();
    for (const auto& name : names) {
      auto& p = *prepare.add_services();
      p.set_service(name);
      if (const v1::Service* s = service_of(&graph, name)) set_command(p, *s);
    }
    prepare.set_min_free_disk_mb(instances[server] * kDiskPerInstanceMb);
    out.push_back(std::move(t));
  }
  return out;
}

v1::AgentTask stop_task(const Ctx& c, const Instance& inst, const std::string& what,
                        std::int64_t deadline) {
  return instance_task(c, inst, what, v1::TASK_KIND_STOP_SERVICE, deadline);
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

namespace {

// The proxy weight of one backend: all alike when weight < 0 or one side stands alone, else the
// new ones share weight% and the old ones the rest, each side split evenly.
std::uint32_t backend_weight(int weight, bool is_new, std::size_t n_new, std::size_t n_old) {
  const std::size_t mine = is_new ? n_new : n_old;
  const std::size_t other = is_new ? n_old : n_new;
  if (weight < 0 || other == 0 || mine == 0) return kProxyWeightScale / 2;
  const auto share = static_cast<std::uint32_t>(is_new ? weight : 100 - weight);
  if (share == 0) return 0;
  return std::max<std::uint32_t>(
      1, static_cast<std::uint32_t>(share * kProxyWeightScale / 100 / mine));
}

}  // namespace

// SWITCH_TRAFFIC on every proxy server for every published port of the services, with the
// given backends: the new ones share `weight`% of the traffic, the old ones the rest.
// `weight` < 0 weighs every backend alike.
void switch_tasks(const Ctx& c, const std::string& what, const std::set<std::string>& services,
                  const std::vector<Backend>& backends, int weight,
                  const std::set<std::string>& proxy_servers, std::int64_t deadline,
                  std::vector<v1::AgentTask>& out) {
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
        v1::AgentTask t =
            base_task(c, server, what + ":" + server + ":" + name + ":" + port_key(port),
                      v1::TASK_KIND_SWITCH_TRAFFIC, deadline);
        auto& proxy = *t.mutable_task()->mutable_spec()->mutable_proxy();
        proxy.set_service(name);
        proxy.set_listen_port(port.host_port());
        proxy.set_protocol(port.protocol());
        for (const auto& b : backends) {
          if (b.inst.ref.service != name) continue;
          const auto* where = started(c.project, b.inst.id());
          if (!where) continue;
          const auto p = where->ports().find(port_key(port));
          if (p == where->ports().end()) continue;
          const auto& hosts = b.inst.release->server_hosts;
          const auto h = hosts.find(b.inst.ref.server_id);
          const std::string host = h == hosts.end() ? "127.0.0.1" : h->second;
          auto& be = *proxy.add_backends();
          be.set_instance_id(b.inst.id());
          be.set_address(host + ":" + std::to_string(p->second));
          be.set_weight(backend_weight(weight, b.is_new, sn, so));
        }
        out.push_back(std::move(t));
      }
    }
  }
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
          out.push_back(
              {old_instance(plan, {svc, static_cast<std::uint32_t>(i), sp.server_ids(i)}), false});
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

std::string compose_server(const Placement& placement) {
  for (const auto& [svc, sp] : placement)
    if (sp.server_ids_size() > 0) return sp.server_ids(0);
  return "";
}

v1::AgentTask compose_task(const Ctx& c, const std::string& server, const v1::GraphVersion* graph,
                           const std::string& what, std::int64_t deadline) {
  v1::AgentTask t =
      base_task(c, server, what + ":" + server,
                graph ? v1::TASK_KIND_APPLY_COMPOSE : v1::TASK_KIND_REMOVE_SERVICE, deadline);
  auto& task = *t.mutable_task();
  auto& spec = *task.mutable_spec();
  spec.set_compose_project(compose_project(c.project, c.d.environment));
  if (!graph) return t;
  codegen::ComposeOptions options;
  options.project_label = c.project.name;  // as BUILDING generated it (the recorded hash)
  auto file = codegen::generate_compose(*graph, options);
  // BUILDING refused a graph compose cannot express; an empty file fails the task's check.
  if (file.ok()) spec.set_compose_yaml(file->content);
  return t;
}

StepTasks step_tasks(const Ctx& c, const Plan& plan, std::size_t k, std::int64_t deadline) {
  StepTasks t;
  if (plan.compose) {
    const std::string server = compose_server(c.d.placement);
    t.start.push_back(compose_task(c, server, plan.graph, "apply", deadline));
    const std::string before = compose_server(plan.prev.placement);
    if (plan.prev.deployment && !before.empty() && before != server)
      t.stop.push_back(compose_task(c, before, nullptr, "down", deadline));
    return t;
  }
  const PlannedStep& step = plan.steps[k];
  const std::string n = std::to_string(k);
  for (const auto& r : step.start)
    t.start.push_back(start_task(c, new_instance(c, plan, r), "start", deadline));
  const bool shares = step.kind == v1::STEP_KIND_CANARY_WEIGHT ||
                      step.kind == v1::STEP_KIND_BLUE_GREEN_STAGE ||
                      step.kind == v1::STEP_KIND_TRAFFIC_SWITCH;
  const std::vector<Backend> backends = backends_after(c, plan, k);
  // A step routes the services whose instances it starts or stops; a step that shifts weight
  // (a canary step after the first, the blue-green switch) starts and stops nothing but moves
  // the traffic of every service.
  std::set<std::string> services;
  for (const auto& r : step.start) services.insert(r.service);
  for (const auto& r : step.stop) services.insert(r.service);
  if (shares)
    for (const auto& b : backends) services.insert(b.inst.ref.service);
  switch_tasks(c, "switch:" + n, services, backends, shares ? static_cast<int>(step.weight) : -1,
               plan.proxy_servers, deadline, t.traffic);
  for (const auto& r : step.stop)
    t.stop.push_back(stop_task(c, old_instance(plan, r), "stop", deadline));
  if (step.max_error_rate > 0) {
    // One report per proxy server and routed service, on the new instances' backends.
    std::map<std::string, std::vector<std::string>> fresh;
    for (const auto& b : backends)
      if (b.is_new) fresh[b.inst.ref.service].push_back(b.inst.id());
    for (const auto& [service, ids] : fresh) {
      const v1::Service* s = service_of(plan.graph, service);
      if (!s || std::none_of(s->ports().begin(), s->ports().end(),
                             [](const v1::Port& p) { return p.has_host_port(); }))
        continue;
      for (const auto& server : plan.proxy_servers) {
        v1::AgentTask r = base_task(c, server, "report:" + n + ":" + server + ":" + service,
                                    v1::TASK_KIND_REPORT_TRAFFIC, deadline);
        auto& proxy = *r.mutable_task()->mutable_spec()->mutable_proxy();
        proxy.set_service(service);
        for (const auto& id : ids) proxy.add_backends()->set_instance_id(id);
        t.report.push_back(std::move(r));
      }
    }
  }
  return t;
}

std::int64_t step_deadline(const Ctx& c, const Plan& plan, std::size_t k) {
  const auto started = c.d.steps_started.find(static_cast<std::uint32_t>(k));
  const std::int64_t from = started == c.d.steps_started.end() ? c.in.now_ms : started->second;
  return from + deadline_ms(c) + plan.steps[k].observe.count();
}

}  // namespace axion::sagas::detail
