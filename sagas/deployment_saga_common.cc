// The deployment saga's shared helpers (sagas/impl/saga_internal.h).
#include <google/protobuf/util/time_util.h>

#include "sagas/impl/saga_internal.h"

namespace axion::sagas::detail {

using google::protobuf::util::TimeUtil;

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
  record(c, {any_of(f), status_change(c, v1::DEPLOYMENT_STATUS_FAILED, cause, reason, c.d.status)},
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

Release previous_release(const SagaProject& p, const SagaDeployment& d) {
  Release r;
  if (d.previous.empty()) return r;
  const auto s = p.snapshots.find(d.previous);
  const auto dep = p.deployments.find(d.previous);
  if (s == p.snapshots.end() || dep == p.deployments.end()) return r;
  r.deployment = &dep->second;
  r.graph = &s->second.graph();
  r.placement = Placement(s->second.placement().begin(), s->second.placement().end());
  r.runtime = runtime_of(s->second.options());
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

std::string runtime_of(const v1::DeployOptions& options) {
  return options.runtime().empty() ? "process" : options.runtime();
}

std::string compose_project(const SagaProject& p, const std::string& environment) {
  // Both are DNS labels (validated at RegisterProject and DeployProject); cut to one label.
  std::string name = (p.name.empty() ? p.project_id : p.name).substr(0, 40) + "-" + environment;
  name = name.substr(0, 63);
  while (!name.empty() && name.back() == '-') name.pop_back();
  return name;
}

}  // namespace axion::sagas::detail
