// The Project aggregate's fold (evolve/apply_event in project_aggregate.h): how each event of a
// project's stream changes ProjectState. Events are facts: the fold never refuses one; an event
// about a deployment it does not know, or a status change after a terminal status, is ignored.
#include <google/protobuf/util/time_util.h>

#include <utility>

#include "commands/project_aggregate.h"
#include "commands/project_internal.h"

namespace axion::commands {

namespace {

namespace v1 = axion::v1;

DeploymentInfo* deployment(ProjectState& state, const std::string& id) {
  const auto it = state.deployments.find(id);
  return it == state.deployments.end() || it->second.ordinal == 0 ? nullptr : &it->second;
}

// Terminal is final: SUCCESS, FAILED and CANCELLED release the environment's active slot, and a
// success becomes a rollback target. Idempotent, since the saga may report the end both as a
// DeploymentStatusChanged and as DeploymentSucceeded/Failed/Cancelled.
void finish(ProjectState& state, DeploymentInfo& d, v1::DeploymentStatus status) {
  if (d.terminal) return;
  d.status = status;
  d.terminal = true;
  d.paused = false;
  if (const auto it = state.active_by_environment.find(d.environment);
      it != state.active_by_environment.end() && it->second == d.deployment_id) {
    state.active_by_environment.erase(it);
  }
  if (status == v1::DEPLOYMENT_STATUS_SUCCESS)
    state.successes_by_environment[d.environment].push_back(d.deployment_id);
}

void on(ProjectState& state, const v1::ProjectRegistered& e, std::int64_t) {
  state.exists = true;
  state.project_id = e.project_id();
  state.name = e.name();
  state.owner = e.owner();
}

void on(ProjectState& state, const v1::GraphPublished& e, std::int64_t) {
  const auto& g = e.graph();
  state.graphs[g.version()] = GraphInfo{g.content_hash(), g.commit_hash()};
  if (g.version() > state.latest_graph_version) state.latest_graph_version = g.version();
}

void on(ProjectState& state, const v1::RollbackRequested& e, std::int64_t) {
  // Precedes the rollback's DeploymentRequested (same decision); records what it restores.
  DeploymentInfo& d = state.deployments[e.deployment_id()];
  d.deployment_id = e.deployment_id();
  d.rollback_of = e.rollback_of();
  d.rollback_target = e.target_deployment_id();
}

void on(ProjectState& state, const v1::DeploymentRequested& e, std::int64_t at_ms) {
  DeploymentInfo& d = state.deployments[e.deployment_id()];
  if (d.ordinal != 0) return;  // requested once; a duplicate fact changes nothing
  d.deployment_id = e.deployment_id();
  d.environment = e.environment();
  d.status = v1::DEPLOYMENT_STATUS_PENDING;
  d.graph_version = e.graph_version();
  d.strategy = e.strategy();
  d.options = e.options();
  d.strategy_kind = detail::strategy_kind(e.strategy());
  d.requested_by = e.requested_by();
  d.created_at_ms = at_ms;
  d.ordinal = ++state.deployments_requested;
  state.active_by_environment[e.environment()] = e.deployment_id();
}

void on(ProjectState& state, const v1::DeploymentSuperseded& e, std::int64_t) {
  DeploymentInfo* d = deployment(state, e.deployment_id());
  if (!d) return;
  d->superseded_by = e.superseded_by();
  // It keeps running until the saga reports it cancelled, but no longer holds the slot: the
  // DeploymentRequested of its successor follows in the same decision.
  if (const auto it = state.active_by_environment.find(d->environment);
      it != state.active_by_environment.end() && it->second == d->deployment_id) {
    state.active_by_environment.erase(it);
  }
}

void on(ProjectState& state, const v1::DeploymentStatusChanged& e, std::int64_t) {
  DeploymentInfo* d = deployment(state, e.deployment_id());
  if (!d || d->terminal) return;
  if (is_terminal(e.to_status())) finish(state, *d, e.to_status());
  else d->status = e.to_status();
}

void on(ProjectState& state, const v1::DeploymentSucceeded& e, std::int64_t) {
  if (DeploymentInfo* d = deployment(state, e.deployment_id()))
    finish(state, *d, v1::DEPLOYMENT_STATUS_SUCCESS);
}

void on(ProjectState& state, const v1::DeploymentFailed& e, std::int64_t) {
  if (DeploymentInfo* d = deployment(state, e.deployment_id()))
    finish(state, *d, v1::DEPLOYMENT_STATUS_FAILED);
}

void on(ProjectState& state, const v1::DeploymentCancelled& e, std::int64_t) {
  if (DeploymentInfo* d = deployment(state, e.deployment_id()))
    finish(state, *d, v1::DEPLOYMENT_STATUS_CANCELLED);
}

void on(ProjectState& state, const v1::DeploymentCancelRequested& e, std::int64_t) {
  if (DeploymentInfo* d = deployment(state, e.deployment_id())) d->cancel_requested = true;
}

void on(ProjectState& state, const v1::DeploymentSnapshotted& e, std::int64_t) {
  if (DeploymentInfo* d = deployment(state, e.snapshot().deployment_id())) d->has_snapshot = true;
}

void on(ProjectState& state, const v1::DeploymentPaused& e, std::int64_t) {
  if (DeploymentInfo* d = deployment(state, e.deployment_id()); d && !d->terminal) {
    d->paused = true;
    d->current_step = e.step_index();
  }
}

void on(ProjectState& state, const v1::DeploymentPromoted& e, std::int64_t) {
  if (DeploymentInfo* d = deployment(state, e.deployment_id())) d->paused = false;
}

void on(ProjectState& state, const v1::DeploymentStepStarted& e, std::int64_t) {
  if (DeploymentInfo* d = deployment(state, e.deployment_id())) d->current_step = e.step_index();
}

void on(ProjectState& state, const v1::DeploymentStepCompleted& e, std::int64_t) {
  if (DeploymentInfo* d = deployment(state, e.deployment_id())) d->current_step = e.step_index();
}

template <typename Event>
bool try_apply(ProjectState& state, const google::protobuf::Any& any, std::int64_t at_ms) {
  if (!any.Is<Event>()) return false;
  Event event;
  // A payload that does not parse was already refused as DATA_LOSS when its envelope was read
  // (events::parse_envelope); here it can only be skipped.
  if (any.UnpackTo(&event)) on(state, event, at_ms);
  return true;
}

}  // namespace

void apply_event(ProjectState& state, const google::protobuf::Any& event, std::int64_t at_ms) {
  ++state.version;  // every event of the stream counts, also those ignored below
  // DeploymentConfigGenerated, DeploymentServersAssigned and ServiceStatusChanged carry nothing
  // a decision needs; they and event types newer than this code fall through (ignored).
  (void)(try_apply<v1::ProjectRegistered>(state, event, at_ms) ||
         try_apply<v1::GraphPublished>(state, event, at_ms) ||
         try_apply<v1::DeploymentRequested>(state, event, at_ms) ||
         try_apply<v1::DeploymentStatusChanged>(state, event, at_ms) ||
         try_apply<v1::DeploymentStepStarted>(state, event, at_ms) ||
         try_apply<v1::DeploymentStepCompleted>(state, event, at_ms) ||
         try_apply<v1::DeploymentSucceeded>(state, event, at_ms) ||
         try_apply<v1::DeploymentFailed>(state, event, at_ms) ||
         try_apply<v1::DeploymentCancelled>(state, event, at_ms) ||
         try_apply<v1::DeploymentCancelRequested>(state, event, at_ms) ||
         try_apply<v1::DeploymentSuperseded>(state, event, at_ms) ||
         try_apply<v1::RollbackRequested>(state, event, at_ms) ||
         try_apply<v1::DeploymentSnapshotted>(state, event, at_ms) ||
         try_apply<v1::DeploymentPaused>(state, event, at_ms) ||
         try_apply<v1::DeploymentPromoted>(state, event, at_ms));
}

ProjectState evolve(ProjectState state, const google::protobuf::Any& event, std::int64_t at_ms) {
  apply_event(state, event, at_ms);
  return state;
}

ProjectState evolve(ProjectState state, const axion::v1::EventEnvelope& envelope) {
  const std::int64_t at_ms =
      envelope.has_occurred_at()
          ? google::protobuf::util::TimeUtil::TimestampToMilliseconds(envelope.occurred_at())
          : 0;
  apply_event(state, envelope.payload(), at_ms);
  return state;
}

}  // namespace axion::commands
