// react() of the deployment saga (contract in sagas/deployment_saga.h), and the phases before
// DEPLOYING: codegen (BUILDING), then placement and infrastructure prep (PROVISIONING).
#include "sagas/deployment_saga.h"

#include <algorithm>

#include "codegen/generate.h"
#include "sagas/impl/saga_internal.h"

namespace axion::sagas {

namespace {

namespace v1 = axion::v1;
using namespace detail;

// --- PENDING / BUILDING / PROVISIONING

void build(Ctx& c, const v1::GraphVersion& graph) {
  const std::string runtime = runtime_of(c.d.options);
  const Release prev = previous_release(c.project, c.d);
  if (prev.deployment && prev.runtime != runtime)
    return fail_now(c, v1::STATUS_CHANGE_CAUSE_BUILD_ERROR,
                    "environment '" + c.d.environment + "' runs release " + prev.deployment->id +
                        " with the " + prev.runtime + " runtime; deploying with the " + runtime +
                        " runtime there would leave both holding its ports — use another "
                        "environment, or deploy with the " +
                        prev.runtime + " runtime");
  for (const auto& s : graph.services()) {
    if (runtime == "process" && s.command().empty() && s.args().empty())
      return fail_now(c, v1::STATUS_CHANGE_CAUSE_BUILD_ERROR,
                      "service '" + s.name() +
                          "' has no command: the process runtime runs a service's command on "
                          "the host (set command, and args if needed)");
    if (runtime == "compose" && s.has_build())
      return fail_now(c, v1::STATUS_CHANGE_CAUSE_BUILD_ERROR,
                      "service '" + s.name() +
                          "' is built from source: the compose runtime deploys images only so "
                          "far (build it and publish the image)");
  }
  codegen::GenerateOptions options;
  options.compose.project_label = c.project.name;
  options.kubernetes_options.project_name = c.project.name;
  options.kubernetes_options.release = c.d.id;
  options.best_effort_targets = true;  // what this deployment does not run may be left out
  auto generated = codegen::generate_deployment(graph, options);
  if (!generated.ok())
    return fail_now(c, v1::STATUS_CHANGE_CAUSE_BUILD_ERROR,
                    "generating the configuration failed: " + generated.status().message());
  if (runtime == "compose" && generated->config.compose_hash().empty())
    return fail_now(c, v1::STATUS_CHANGE_CAUSE_BUILD_ERROR,
                    "the compose runtime needs a compose file, which this graph cannot have: " +
                        (generated->skipped.empty() ? std::string("?") : generated->skipped[0]));
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
  const bool compose = runtime_of(c.d.options) == "compose";
  const bool proxies = !compose && has_published_port(graph);
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
    if (compose && s.online && !offers("compose")) {
      skipped.push_back(s.server_id + " (its agent offers no compose runtime: no Docker engine)");
      continue;
    }
    if (!compose && s.online && (!offers("process") || (proxies && !offers("proxy")))) {
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
  if (!placement.ok() && compose) {
    // The whole project on one server: the previous release's when usable, else the one with
    // the most free memory.
    const Release prev = previous_release(c.project, c.d);
    std::string chosen;
    for (const auto& [svc, sp] : prev.placement)
      for (const auto& id : sp.server_ids())
        for (const auto& slot : slots)
          if (slot.server_id == id && slot.online) chosen = id;
    for (const auto& slot : slots) {
      if (!chosen.empty() || !slot.online) continue;
      const ServerSlot* best = nullptr;
      for (const auto& other : slots)
        if (other.online && (!best || other.memory_mb_free > best->memory_mb_free)) best = &other;
      chosen = best ? best->server_id : "";
    }
    if (!chosen.empty()) {
      Placement all;
      for (const auto& svc : graph.services())
        for (std::uint32_t r = 0; r < std::max<std::uint32_t>(1, svc.replicas()); ++r)
          all[svc.name()].add_server_ids(chosen);
      placement = all;
    } else {
      placement = failed_precondition(
          "no server has an ONLINE agent that offers the compose "
          "runtime");
    }
  }
  if (!placement.ok() && !compose) placement = place_services(graph, slots);
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
  for (const auto& [svc, sp] : prev.placement)
    used.insert(sp.server_ids().begin(), sp.server_ids().end());
  for (const auto& id : used)
    if (hosts.contains(id)) (*e.mutable_server_hosts())[id] = hosts.at(id);
  record(c, {any_of(e)}, "placed");
}

// Infrastructure prep (seed 004's delegation): one PREPARE_INFRA per server of the placement,
// its id derived from the deployment and the server (the request id the result comes back
// under); DEPLOYING once every server is ready, FAILED with the server's reasons otherwise —
// before any instance moved.
void prepare(Ctx& c, const v1::GraphVersion& graph) {
  const std::int64_t deadline = c.d.placed_at_ms + deadline_ms(c);
  std::vector<v1::AgentTask> tasks;
  if (runtime_of(c.d.options) != "compose") tasks = prepare_tasks(c, graph, deadline);
  if (c.in.now_ms >= deadline)
    return fail_now(c, v1::STATUS_CHANGE_CAUSE_DEADLINE,
                    "deadline: preparing the servers did not finish within " +
                        std::to_string(deadline_ms(c) / 1000) + " s; still waiting for " +
                        describe_pending(c, tasks) + offline_agents(c, tasks));
  wake(c, deadline);
  const v1::DeploymentTaskCompleted* failed = nullptr;
  if (!await(c, tasks, &failed)) return;
  if (failed) {
    v1::DeploymentFailed f;
    f.set_deployment_id(c.d.id);
    f.set_project_id(c.project.project_id);
    f.set_step_kind(v1::STEP_KIND_PROVISION);
    f.set_server_id(failed->server_id());
    f.set_reason("preparing server " + failed->server_id() + " failed: " + failed->detail());
    f.set_agent_output(failed->output());
    f.set_cause(v1::STATUS_CHANGE_CAUSE_AGENT_ERROR);
    f.set_rollback_requested(c.d.options.auto_rollback());
    return record(c,
                  {any_of(f), status_change(c, v1::DEPLOYMENT_STATUS_FAILED, f.cause(),
                                            f.reason(), v1::DEPLOYMENT_STATUS_PROVISIONING)},
                  "failed");
  }
  record(c,
         {status_change(c, v1::DEPLOYMENT_STATUS_DEPLOYING, v1::STATUS_CHANGE_CAUSE_PROGRESS,
                        tasks.empty() ? "rolling out"
                                      : "servers prepared (" + std::to_string(tasks.size()) +
                                            "); rolling out",
                        v1::DEPLOYMENT_STATUS_PROVISIONING)},
         "prepared");
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
      if (!d.rollback_started) {
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
    if (d.aborting())
      finish_abort(c, nullptr, "");
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
      // Wait for an older deployment of the environment that is still stopping (an unended
      // one is live).
      for (const auto& oid : project.live) {
        const SagaDeployment& other = project.deployments.at(oid);
        if (oid != d.id && other.environment == d.environment && !other.terminal() &&
            other.requested_at_ms <= d.requested_at_ms && !other.superseded_by.empty())
          return std::move(c.out);
      }
      build(c, *graph);
      break;
    case v1::DEPLOYMENT_STATUS_BUILDING:
      build(c, *graph);
      break;
    case v1::DEPLOYMENT_STATUS_PROVISIONING:
      if (d.placed)
        prepare(c, *graph);
      else
        provision(c, *graph);
      break;
    case v1::DEPLOYMENT_STATUS_DEPLOYING: {
      auto plan = make_plan(c, *graph);
      if (!plan.ok()) {
        fail_now(c, v1::STATUS_CHANGE_CAUSE_INTERNAL,
                 "planning the rollout failed: " + plan.status().message());
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
