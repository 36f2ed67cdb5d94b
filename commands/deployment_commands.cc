// The Project aggregate's deployment commands: DeployProject, CancelDeployment,
// RollbackDeployment, PromoteDeployment, PauseDeployment (contracts in project_aggregate.h).
// Order of checks in each: the project exists, the arguments are well formed (INVALID_ARGUMENT),
// what they name exists (NOT_FOUND), and only then the state allows it (FAILED_PRECONDITION).
#include <string>

#include "commands/field_checks.h"
#include "commands/project_aggregate.h"
#include "commands/project_internal.h"

namespace axion::commands {

namespace {

using detail::pack;
namespace v1 = axion::v1;

Status check_id(const std::string& field, const std::string& id, const std::string& what) {
  if (auto p = id_problem(id); !p.empty())
    return invalid_field(field, what + " id " + quote(id) + " is invalid: " + p);
  return ok_status();
}

Status check_reason(const std::string& reason) {
  if (auto p = text_problem(reason, 1024); !p.empty())
    return invalid_field("reason", "reason is invalid: " + p);
  return ok_status();
}

Result<const DeploymentInfo*> find_deployment(const ProjectState& state, const std::string& id,
                                              const std::string& what = "deployment") {
  const auto it = state.deployments.find(id);
  // An entry without an ordinal is only a RollbackRequested stub; it was never requested.
  if (it == state.deployments.end() || it->second.ordinal == 0)
    return not_found(what + " " + quote(id) + " does not exist in project " +
                     quote(state.project_id));
  return &it->second;
}

Status refuse_if_terminal(const DeploymentInfo& d, const std::string& verb) {
  if (!d.terminal) return ok_status();
  return failed_precondition("deployment " + quote(d.deployment_id) + " already ended with " +
                             status_name(d.status) + "; there is nothing to " + verb);
}

std::string new_deployment_id(const std::string& given, const CommandContext& ctx) {
  return given.empty() ? derive_id("dep", ctx.command_id) : given;
}

v1::DeploymentRequested requested(const ProjectState& state, const std::string& id,
                                  const std::string& env, std::uint64_t graph_version,
                                  const v1::Strategy& strategy, const v1::DeployOptions& options,
                                  const CommandContext& ctx) {
  v1::DeploymentRequested e;
  e.set_deployment_id(id);
  e.set_project_id(state.project_id);
  e.set_environment(env);
  e.set_graph_version(graph_version);
  *e.mutable_strategy() = strategy;
  *e.mutable_options() = options;
  e.set_requested_by(ctx.actor);
  return e;
}

v1::DeploymentSuperseded superseded(const ProjectState& state, const std::string& old_id,
                                    const std::string& new_id) {
  v1::DeploymentSuperseded e;
  e.set_deployment_id(old_id);
  e.set_project_id(state.project_id);
  e.set_superseded_by(new_id);
  return e;
}

// The graph version a DeployProject names: commit, number, or the latest.
Result<std::uint64_t> resolve_graph_version(const ProjectState& state,
                                            const v1::DeployProject& c) {
  const std::uint64_t asked = c.graph_version();
  if (!c.commit_hash().empty()) {
    if (auto p = commit_hash_problem(c.commit_hash()); !p.empty())
      return invalid_field("commit_hash", "commit hash " + quote(c.commit_hash()) +
                                              " is invalid: " + p);
    std::uint64_t newest = 0;
    for (const auto& [number, info] : state.graphs) {
      if (info.commit_hash == c.commit_hash()) newest = number;
    }
    if (asked != 0) {
      const auto it = state.graphs.find(asked);
      if (it != state.graphs.end() && it->second.commit_hash == c.commit_hash()) return asked;
      return invalid_field("graph_version", "graph version " + std::to_string(asked) +
                                                " was not published from commit " +
                                                c.commit_hash() + "; set only one of them");
    }
    if (newest == 0)
      return not_found("no graph version of project " + quote(state.project_id) +
                       " was published from commit " + c.commit_hash());
    return newest;
  }
  if (asked == 0) {
    if (state.latest_graph_version == 0)
      return failed_precondition("project " + quote(state.project_id) +
                                 " has no graph yet: publish one with PublishGraph first");
    return state.latest_graph_version;
  }
  if (!state.graphs.contains(asked))
    return not_found("graph version " + std::to_string(asked) + " of project " +
                     quote(state.project_id) + " does not exist; the latest is " +
                     std::to_string(state.latest_graph_version));
  return asked;
}

}  // namespace

Result<Decision> decide(const ProjectState& state, const v1::DeployProject& c,
                        const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(detail::require_project(state, c.project_id()));
  AXION_RETURN_IF_ERROR(detail::check_project_id(state, c.project_id()));
  if (auto p = dns_label_problem(c.environment()); !p.empty())
    return invalid_field("environment", "environment " + quote(c.environment()) +
                                            " is not a DNS label (" + p + "): " +
                                            std::string(kDnsLabelRule));
  if (!c.deployment_id().empty())
    AXION_RETURN_IF_ERROR(check_id("deployment_id", c.deployment_id(), "deployment"));
  AXION_RETURN_IF_ERROR(detail::validate_strategy(c.strategy()));
  AXION_RETURN_IF_ERROR(detail::validate_options(c.options()));
  auto version = resolve_graph_version(state, c);
  if (!version.ok()) return version.status();
  const std::string id = new_deployment_id(c.deployment_id(), ctx);
  if (state.deployments.contains(id))
    return already_exists("deployment " + quote(id) + " already exists");

  Decision d;
  if (const auto active = state.active_by_environment.find(c.environment());
      active != state.active_by_environment.end()) {
    const DeploymentInfo& running = state.deployments.at(active->second);
    if (!c.options().supersede())
      return failed_precondition(
          "deployment " + quote(running.deployment_id) + " is still active in environment '" +
          c.environment() + "' (" + status_name(running.status) +
          "): wait for it, cancel it, or set options.supersede to replace it");
    d.events.push_back(pack(superseded(state, running.deployment_id, id)));
    d.ids["superseded_deployment_id"] = running.deployment_id;
  }
  d.events.push_back(
      pack(requested(state, id, c.environment(), *version, c.strategy(), c.options(), ctx)));
  d.ids["deployment_id"] = id;
  return d;
}

Result<Decision> decide(const ProjectState& state, const v1::CancelDeployment& c,
                        const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(detail::require_project(state));
  AXION_RETURN_IF_ERROR(check_id("deployment_id", c.deployment_id(), "deployment"));
  AXION_RETURN_IF_ERROR(check_reason(c.reason()));
  auto found = find_deployment(state, c.deployment_id());
  if (!found.ok()) return found.status();
  const DeploymentInfo& dep = **found;
  AXION_RETURN_IF_ERROR(refuse_if_terminal(dep, "cancel"));
  Decision d;
  d.ids["deployment_id"] = dep.deployment_id;
  if (dep.cancel_requested || !dep.superseded_by.empty()) return d;  // already stopping
  v1::DeploymentCancelRequested e;
  e.set_deployment_id(dep.deployment_id);
  e.set_project_id(state.project_id);
  e.set_reason(c.reason());
  e.set_requested_by(ctx.actor);
  d.events.push_back(pack(e));
  return d;
}

Result<Decision> decide(const ProjectState& state, const v1::RollbackDeployment& c,
                        const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(detail::require_project(state));
  AXION_RETURN_IF_ERROR(check_id("deployment_id", c.deployment_id(), "deployment"));
  if (!c.target_deployment_id().empty())
    AXION_RETURN_IF_ERROR(check_id("target_deployment_id", c.target_deployment_id(), "target"));
  if (!c.rollback_deployment_id().empty())
    AXION_RETURN_IF_ERROR(
        check_id("rollback_deployment_id", c.rollback_deployment_id(), "rollback deployment"));
  AXION_RETURN_IF_ERROR(check_reason(c.reason()));
  auto found = find_deployment(state, c.deployment_id());
  if (!found.ok()) return found.status();
  const DeploymentInfo& from = **found;

  const DeploymentInfo* target = nullptr;
  if (!c.target_deployment_id().empty()) {
    if (c.target_deployment_id() == from.deployment_id)
      return invalid_field("target_deployment_id",
                           "a deployment cannot be rolled back to itself; name an earlier one");
    auto t = find_deployment(state, c.target_deployment_id(), "target deployment");
    if (!t.ok()) return t.status();
    target = *t;
    if (target->environment != from.environment)
      return invalid_field("target_deployment_id",
                           "target " + quote(target->deployment_id) + " ran in environment '" +
                               target->environment + "', not '" + from.environment +
                               "'; a rollback stays in one environment");
    if (target->status != v1::DEPLOYMENT_STATUS_SUCCESS)
      return failed_precondition("target " + quote(target->deployment_id) + " is " +
                                 status_name(target->status) +
                                 "; only a successful deployment can be restored");
  } else {
    // The latest success in the environment that was requested before the rolled-back one.
    if (const auto s = state.successes_by_environment.find(from.environment);
        s != state.successes_by_environment.end()) {
      for (auto it = s->second.rbegin(); it != s->second.rend() && !target; ++it) {
        const DeploymentInfo& cand = state.deployments.at(*it);
        if (cand.ordinal < from.ordinal) target = &cand;
      }
    }
    if (!target)
      return failed_precondition(
          "no deployment succeeded in environment '" + from.environment + "' before " +
          quote(from.deployment_id) + ": there is nothing to roll back to");
  }

  const std::string id = new_deployment_id(c.rollback_deployment_id(), ctx);
  if (state.deployments.contains(id))
    return already_exists("deployment " + quote(id) + " already exists");
  Decision d;
  if (const auto active = state.active_by_environment.find(from.environment);
      active != state.active_by_environment.end()) {
    if (active->second != from.deployment_id) {
      const DeploymentInfo& running = state.deployments.at(active->second);
      return failed_precondition("deployment " + quote(running.deployment_id) +
                                 " is active in environment '" + from.environment + "' (" +
                                 status_name(running.status) +
                                 "): cancel it or wait for it before rolling back");
    }
    d.events.push_back(pack(superseded(state, from.deployment_id, id)));
    d.ids["superseded_deployment_id"] = from.deployment_id;
  }
  v1::RollbackRequested r;
  r.set_deployment_id(id);
  r.set_project_id(state.project_id);
  r.set_rollback_of(from.deployment_id);
  r.set_target_deployment_id(target->deployment_id);
  r.set_reason(c.reason());
  r.set_automatic(ctx.actor == "system");
  r.set_requested_by(ctx.actor);
  r.set_fast(c.fast());
  d.events.push_back(pack(r));
  v1::DeployOptions options = target->options;
  options.set_supersede(false);
  options.set_auto_rollback(false);
  d.events.push_back(pack(requested(state, id, from.environment, target->graph_version,
                                    target->strategy, options, ctx)));
  d.ids["deployment_id"] = id;
  d.ids["rollback_deployment_id"] = id;
  d.ids["target_deployment_id"] = target->deployment_id;
  return d;
}

namespace {

// Promote and pause steer strategy steps: canary/blue-green, DEPLOYING, not being stopped.
Result<const DeploymentInfo*> steerable(const ProjectState& state, const std::string& id,
                                        const std::string& verb) {
  AXION_RETURN_IF_ERROR(detail::require_project(state));
  AXION_RETURN_IF_ERROR(check_id("deployment_id", id, "deployment"));
  auto found = find_deployment(state, id);
  if (!found.ok()) return found.status();
  const DeploymentInfo& d = **found;
  AXION_RETURN_IF_ERROR(refuse_if_terminal(d, verb));
  if (d.strategy_kind == StrategyKind::kRolling)
    return failed_precondition("deployment " + quote(id) +
                               " uses the rolling strategy, which has no traffic steps to " +
                               verb + "; only canary and blue-green deployments can");
  if (d.cancel_requested || !d.superseded_by.empty())
    return failed_precondition("deployment " + quote(id) + " is being cancelled");
  if (d.status != v1::DEPLOYMENT_STATUS_DEPLOYING)
    return failed_precondition("deployment " + quote(id) + " is " + status_name(d.status) +
                               "; it can be " + verb + "d once it is DEPLOYING");
  return &d;
}

}  // namespace

Result<Decision> decide(const ProjectState& state, const v1::PromoteDeployment& c,
                        const CommandContext& ctx) {
  auto found = steerable(state, c.deployment_id(), "promote");
  if (!found.ok()) return found.status();
  const DeploymentInfo& dep = **found;
  if (!dep.paused && !c.full())
    return failed_precondition("deployment " + quote(dep.deployment_id) +
                               " is not paused, so there is nothing to promote; set full to "
                               "skip its remaining steps");
  v1::DeploymentPromoted e;
  e.set_deployment_id(dep.deployment_id);
  e.set_project_id(state.project_id);
  e.set_step_index(dep.current_step);
  e.set_full(c.full());
  e.set_promoted_by(ctx.actor);
  Decision d;
  d.events.push_back(pack(e));
  d.ids["deployment_id"] = dep.deployment_id;
  return d;
}

Result<Decision> decide(const ProjectState& state, const v1::PauseDeployment& c,
                        const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(detail::require_project(state));
  AXION_RETURN_IF_ERROR(check_reason(c.reason()));
  auto found = steerable(state, c.deployment_id(), "pause");
  if (!found.ok()) return found.status();
  const DeploymentInfo& dep = **found;
  Decision d;
  d.ids["deployment_id"] = dep.deployment_id;
  if (dep.paused) return d;  // already where the caller wants it
  v1::DeploymentPaused e;
  e.set_deployment_id(dep.deployment_id);
  e.set_project_id(state.project_id);
  e.set_step_index(dep.current_step);
  e.set_reason(c.reason());
  e.set_paused_by(ctx.actor);
  d.events.push_back(pack(e));
  return d;
}

}  // namespace axion::commands

namespace axion::commands {

namespace {

namespace v1 = axion::v1;

// Forward moves of the lifecycle; FAILED and CANCELLED are reachable from every live status.
bool allowed_transition(v1::DeploymentStatus from, v1::DeploymentStatus to) {
  if (is_terminal(from)) return false;
  if (to == v1::DEPLOYMENT_STATUS_FAILED || to == v1::DEPLOYMENT_STATUS_CANCELLED) return true;
  switch (from) {
    case v1::DEPLOYMENT_STATUS_PENDING: return to == v1::DEPLOYMENT_STATUS_BUILDING;
    case v1::DEPLOYMENT_STATUS_BUILDING: return to == v1::DEPLOYMENT_STATUS_PROVISIONING;
    case v1::DEPLOYMENT_STATUS_PROVISIONING: return to == v1::DEPLOYMENT_STATUS_DEPLOYING;
    case v1::DEPLOYMENT_STATUS_DEPLOYING: return to == v1::DEPLOYMENT_STATUS_SUCCESS;
    default: return false;
  }
}

// The deployment and project an event of the saga names; false for a type the saga may not
// record.
bool saga_event_names(const google::protobuf::Any& any, std::string& deployment,
                      std::string& project) {
  const auto take = [&](auto message) {
    if (!any.UnpackTo(&message)) return false;
    deployment = message.deployment_id();
    project = message.project_id();
    return true;
  };
  if (any.Is<v1::DeploymentStatusChanged>()) return take(v1::DeploymentStatusChanged{});
  if (any.Is<v1::DeploymentConfigGenerated>()) return take(v1::DeploymentConfigGenerated{});
  if (any.Is<v1::DeploymentServersAssigned>()) return take(v1::DeploymentServersAssigned{});
  if (any.Is<v1::DeploymentStepStarted>()) return take(v1::DeploymentStepStarted{});
  if (any.Is<v1::DeploymentStepCompleted>()) return take(v1::DeploymentStepCompleted{});
  if (any.Is<v1::ServiceStatusChanged>()) return take(v1::ServiceStatusChanged{});
  if (any.Is<v1::DeploymentTaskCompleted>()) return take(v1::DeploymentTaskCompleted{});
  if (any.Is<v1::DeploymentPaused>()) return take(v1::DeploymentPaused{});
  if (any.Is<v1::DeploymentSucceeded>()) return take(v1::DeploymentSucceeded{});
  if (any.Is<v1::DeploymentFailed>()) return take(v1::DeploymentFailed{});
  if (any.Is<v1::DeploymentCancelled>()) return take(v1::DeploymentCancelled{});
  if (any.Is<v1::DeploymentSnapshotted>()) {
    v1::DeploymentSnapshotted e;
    if (!any.UnpackTo(&e)) return false;
    deployment = e.snapshot().deployment_id();
    project = e.snapshot().project_id();
    return true;
  }
  return false;
}

constexpr int kMaxProgressEvents = 64;

}  // namespace

Result<Decision> decide(const ProjectState& state, const v1::RecordDeploymentProgress& c,
                        const CommandContext& ctx) {
  if (ctx.actor != "system")
    return Status(StatusCode::kPermissionDenied,
                  "only the deployment saga records deployment progress");
  AXION_RETURN_IF_ERROR(detail::require_project(state, c.project_id()));
  AXION_RETURN_IF_ERROR(detail::check_project_id(state, c.project_id()));
  AXION_RETURN_IF_ERROR(check_id("deployment_id", c.deployment_id(), "deployment"));
  if (c.events().empty()) return invalid_field("events", "no events to record");
  if (c.events_size() > kMaxProgressEvents)
    return invalid_field("events", "at most " + std::to_string(kMaxProgressEvents) +
                                       " events per record, got " +
                                       std::to_string(c.events_size()));
  auto found = find_deployment(state, c.deployment_id());
  if (!found.ok()) return found.status();
  const DeploymentInfo& dep = **found;
  AXION_RETURN_IF_ERROR(refuse_if_terminal(dep, "record"));

  // `live` is the status the events so far leave the deployment in before any end; `end` the
  // terminal status one of them reached. The saga reports an end twice (DeploymentSucceeded and
  // DeploymentStatusChanged to SUCCESS); after an end only its twin may follow.
  v1::DeploymentStatus live = dep.status;
  v1::DeploymentStatus end = v1::DEPLOYMENT_STATUS_UNSPECIFIED;
  Decision d;
  for (int i = 0; i < c.events_size(); ++i) {
    const auto& any = c.events(i);
    const std::string field = "events[" + std::to_string(i) + "]";
    std::string deployment, project;
    if (!saga_event_names(any, deployment, project))
      return invalid_field(field, "event type " + quote(any.type_url(), 128) +
                                      " is not a deployment progress event");
    if (deployment != dep.deployment_id || project != state.project_id)
      return invalid_field(field, "the event names deployment " + quote(deployment) +
                                      " of project " + quote(project) + ", not this one");
    v1::DeploymentStatus to = v1::DEPLOYMENT_STATUS_UNSPECIFIED;
    if (any.Is<v1::DeploymentStatusChanged>()) {
      v1::DeploymentStatusChanged e;
      any.UnpackTo(&e);
      if (e.from_status() != live)
        return failed_precondition("deployment " + quote(dep.deployment_id) + " is " +
                                   status_name(live) + ", not " +
                                   status_name(e.from_status()) + " as the saga assumed");
      if (!allowed_transition(live, e.to_status()))
        return invalid_field(field, "a deployment cannot move from " + status_name(live) +
                                        " to " + status_name(e.to_status()));
      to = e.to_status();
    } else if (any.Is<v1::DeploymentSucceeded>()) {
      to = v1::DEPLOYMENT_STATUS_SUCCESS;
    } else if (any.Is<v1::DeploymentFailed>()) {
      to = v1::DEPLOYMENT_STATUS_FAILED;
    } else if (any.Is<v1::DeploymentCancelled>()) {
      to = v1::DEPLOYMENT_STATUS_CANCELLED;
    }
    if (end != v1::DEPLOYMENT_STATUS_UNSPECIFIED && to != end)
      return invalid_field(field, "only the twin of the deployment's end " + status_name(end) +
                                      " may follow it");
    if (to == v1::DEPLOYMENT_STATUS_SUCCESS && live != v1::DEPLOYMENT_STATUS_DEPLOYING)
      return failed_precondition("deployment " + quote(dep.deployment_id) + " is " +
                                 status_name(live) + "; only a DEPLOYING one can succeed");
    if (is_terminal(to)) end = to;
    else if (to != v1::DEPLOYMENT_STATUS_UNSPECIFIED) live = to;
    d.events.push_back(any);
  }
  d.ids["deployment_id"] = dep.deployment_id;
  return d;
}

}  // namespace axion::commands
