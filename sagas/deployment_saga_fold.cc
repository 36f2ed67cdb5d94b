// The deployment saga's fold (sagas/deployment_saga.h): what the saga remembers of a project's
// event stream. Events are facts; the fold never refuses one.
#include <google/protobuf/util/time_util.h>

#include "commands/decision.h"
#include "sagas/deployment_saga.h"

namespace axion::sagas {

namespace {

namespace v1 = axion::v1;

template <typename Event>
bool unpack(const google::protobuf::Any& any, Event& out) {
  return any.Is<Event>() && any.UnpackTo(&out);
}

SagaDeployment* find(SagaProject& p, const std::string& id) {
  const auto it = p.deployments.find(id);
  return it == p.deployments.end() ? nullptr : &it->second;
}

// Whether the saga still drives `d` (SagaProject::live).
bool drives(const SagaDeployment& d) {
  return !d.id.empty() && (!d.terminal() || (d.rollback_requested && !d.rollback_started));
}

// Puts deployment `id` in or out of p.live after an event changed it.
void refresh_live(SagaProject& p, const std::string& id) {
  const SagaDeployment* d = find(p, id);
  if (d && drives(*d)) {
    p.live.insert(id);
  } else {
    p.live.erase(id);
  }
}

// Folds the events about one deployment; false if `any` is none of them. *touched is the
// deployment the event changed (empty if none).
bool fold_deployment_event(SagaProject& p, const google::protobuf::Any& any, std::int64_t at,
                           std::string* touched) {
  const auto touch = [&](const std::string& id) -> SagaDeployment* {
    SagaDeployment* d = find(p, id);
    if (d) {
      ++d->events;
      d->last_event_ms = at;
      *touched = id;
    }
    return d;
  };
  if (v1::DeploymentSuperseded e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id())) {
      d->superseded_by = e.superseded_by();
      if (!d->abort_started_ms) d->abort_started_ms = at;
    }
  } else if (v1::DeploymentCancelRequested e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id())) {
      d->cancel_requested = true;
      d->cancel_reason = e.reason();
      if (!d->abort_started_ms) d->abort_started_ms = at;
    }
  } else if (v1::DeploymentStatusChanged e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id()); d && !d->terminal()) d->status = e.to_status();
  } else if (v1::DeploymentConfigGenerated e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id())) {
      d->configured = true;
      d->config = e.config();
    }
  } else if (v1::DeploymentServersAssigned e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id())) {
      d->placed = true;
      d->placed_at_ms = at;
      d->cluster_id = e.cluster_id();
      d->placement = Placement(e.placement().begin(), e.placement().end());
      d->server_hosts = {e.server_hosts().begin(), e.server_hosts().end()};
    }
  } else if (v1::DeploymentStepStarted e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id())) d->steps_started.emplace(e.step_index(), at);
  } else if (v1::DeploymentStepCompleted e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id())) {
      d->steps_completed.emplace(e.step_index(), std::make_pair(e.outcome(), at));
      if (e.outcome() == v1::STEP_OUTCOME_FAILED && d->step_failure.empty()) {
        d->step_failure = e.detail().empty() ? "step failed" : e.detail();
        if (!d->abort_started_ms) d->abort_started_ms = at;
      }
    }
  } else if (v1::DeploymentTaskCompleted e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id())) {
      d->results.emplace(e.task_id(), e);
      d->result_at.emplace(e.task_id(), at);
    }
  } else if (v1::DeploymentPaused e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id())) {
      d->paused_after.insert(e.step_index());
      d->paused = true;
    }
  } else if (v1::DeploymentPromoted e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id())) {
      d->promoted_after.insert(e.step_index());
      d->promoted_full = d->promoted_full || e.full();
      d->paused = false;
    }
  } else if (v1::DeploymentSnapshotted e; unpack(any, e)) {
    if (touch(e.snapshot().deployment_id()))
      p.snapshots[e.snapshot().deployment_id()] = e.snapshot();
  } else if (v1::DeploymentSucceeded e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id()); d && !d->terminal()) {
      d->status = v1::DEPLOYMENT_STATUS_SUCCESS;
      p.release_by_env[d->environment] = d->id;
    }
  } else if (v1::DeploymentFailed e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id()); d && !d->terminal()) {
      d->status = v1::DEPLOYMENT_STATUS_FAILED;
      d->rollback_requested = e.rollback_requested();
    }
  } else if (v1::DeploymentCancelled e; unpack(any, e)) {
    if (auto* d = touch(e.deployment_id()); d && !d->terminal())
      d->status = v1::DEPLOYMENT_STATUS_CANCELLED;
  } else {
    return false;
  }
  return true;
}

}  // namespace

bool SagaDeployment::terminal() const {
  return status == v1::DEPLOYMENT_STATUS_SUCCESS || status == v1::DEPLOYMENT_STATUS_FAILED ||
         status == v1::DEPLOYMENT_STATUS_CANCELLED;
}

bool SagaDeployment::aborting() const {
  return !terminal() && (cancel_requested || !superseded_by.empty() || !step_failure.empty());
}

void fold(SagaProject& p, const v1::EventEnvelope& envelope) {
  const std::int64_t at =
      envelope.has_occurred_at()
          ? google::protobuf::util::TimeUtil::TimestampToMilliseconds(envelope.occurred_at())
          : 0;
  const auto& any = envelope.payload();
  if (v1::ProjectRegistered e; unpack(any, e)) {
    p.project_id = e.project_id();
    p.name = e.name();
  } else if (v1::GraphPublished e; unpack(any, e)) {
    p.graphs[e.graph().version()] = e.graph();
  } else if (v1::RollbackRequested e; unpack(any, e)) {
    p.deployments[e.deployment_id()].rollback_target = e.target_deployment_id();
    p.deployments[e.deployment_id()].fast = e.fast();
    if (SagaDeployment* of = find(p, e.rollback_of())) {
      of->rollback_started = true;
      refresh_live(p, e.rollback_of());
    }
  } else if (v1::DeploymentRequested e; unpack(any, e)) {
    SagaDeployment& d = p.deployments[e.deployment_id()];
    if (!d.id.empty()) return;  // requested once
    d.id = e.deployment_id();
    d.environment = e.environment();
    d.graph_version = e.graph_version();
    d.strategy = e.strategy();
    d.options = e.options();
    d.requested_at_ms = at;
    d.last_event_ms = at;
    d.events = 1;
    if (const auto it = p.release_by_env.find(e.environment()); it != p.release_by_env.end())
      d.previous = it->second;
    refresh_live(p, d.id);
  } else if (std::string touched; fold_deployment_event(p, any, at, &touched) && !touched.empty()) {
    refresh_live(p, touched);
  }
}

std::string instance_id(const std::string& deployment_id, const std::string& service,
                        std::uint32_t replica) {
  // A DNS label: the service name (cut to 40), a hash of the release, the replica.
  const std::string release = commands::derive_id("r", deployment_id).substr(2, 10);
  return service.substr(0, 40) + "-" + release + "-" + std::to_string(replica);
}

std::string task_id(const std::string& deployment_id, const std::string& what) {
  return commands::derive_id("task", deployment_id, what);
}

std::optional<SagaCommand> record_task_result(const v1::AgentTaskResult& r) {
  const auto state = r.update().state();
  if (r.deployment_id().empty() || r.project_id().empty()) return std::nullopt;
  if (state != v1::TASK_STATE_SUCCEEDED && state != v1::TASK_STATE_FAILED &&
      state != v1::TASK_STATE_CANCELLED)
    return std::nullopt;
  v1::DeploymentTaskCompleted e;
  e.set_deployment_id(r.deployment_id());
  e.set_project_id(r.project_id());
  e.set_task_id(r.update().task_id());
  e.set_server_id(r.server_id());
  e.set_succeeded(state == v1::TASK_STATE_SUCCEEDED);
  e.set_state(v1::TaskState_Name(state).substr(sizeof("TASK_STATE_") - 1));
  e.set_detail(r.update().detail());
  e.set_exit_code(r.update().exit_code());
  e.set_output(r.update().output());
  *e.mutable_health_samples() = r.update().health_samples();
  e.mutable_ports()->insert(r.update().ports().begin(), r.update().ports().end());
  e.set_instance_id(r.instance_id());
  e.set_started_instance(r.kind() == v1::TASK_KIND_START_SERVICE);
  if (r.kind() == v1::TASK_KIND_REPORT_TRAFFIC) {
    e.set_error_rate(r.update().error_rate());
    e.set_requests(r.update().requests());
    e.set_failed_requests(r.update().failed_requests());
  }
  v1::RecordDeploymentProgress c;
  c.set_deployment_id(r.deployment_id());
  c.set_project_id(r.project_id());
  c.add_events()->PackFrom(e);
  SagaCommand out;
  out.idempotency_key = "task-result:" + r.update().task_id();
  out.aggregate_id = r.project_id();
  out.payload.PackFrom(c);
  return out;
}

}  // namespace axion::sagas
