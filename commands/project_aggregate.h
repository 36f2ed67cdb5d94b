// The Project aggregate (key project_id): the project, its immutable graph versions and its
// deployments, as pure functions over ProjectState (commands/decision.h).
//
// Commands: RegisterProject, PublishGraph, DeployProject, CancelDeployment, RollbackDeployment,
// PromoteDeployment, PauseDeployment, and the saga's RecordDeploymentProgress. Deployments live
// here because their invariants span the project: one active deployment per (project, environment), graph versions that must exist,
// rollback targets found among the project's earlier successes.
//
// Decisions worth knowing (details at each decide()):
//  - Graph versions are numbered 1, 2, ... per project. Publishing a graph whose content hash
//    and commit equal the latest version's appends nothing and answers that version (a blind
//    retry does not mint versions); any other publish — even one equal to an older version —
//    is a new version, because "go back to what we had" is a meaningful new publish.
//  - New ids come from the payload when the gateway assigned one, else derive_id("dep",
//    command_id), so a retried command creates the same id.
//  - MAX_DEPLOYMENTS_PER_PROJECT is not enforced here: it bounds the views' history (they
//    rotate), not what may be deployed; the log keeps every deployment.
#pragma once

#include <google/protobuf/any.pb.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/envelope.pb.h"
#include "axion/v1/project.pb.h"
#include "commands/decision.h"
#include "common/status.h"

namespace axion::commands {

// What a decision needs to know about one published graph version (the graph itself is in the
// GraphPublished event and the views; the aggregate keeps only what decisions use).
struct GraphInfo {
  std::string content_hash;
  std::string commit_hash;
  bool operator==(const GraphInfo&) const = default;
};

enum class StrategyKind { kRolling, kCanary, kBlueGreen };

struct DeploymentInfo {
  std::string deployment_id;
  std::string environment;
  axion::v1::DeploymentStatus status = axion::v1::DEPLOYMENT_STATUS_UNSPECIFIED;
  std::uint64_t graph_version = 0;
  axion::v1::Strategy strategy;     // as requested; reused by a rollback to this deployment
  axion::v1::DeployOptions options;
  StrategyKind strategy_kind = StrategyKind::kRolling;
  std::string rollback_of;          // set if this deployment is a rollback
  std::string rollback_target;      // the deployment whose graph it restores
  std::string superseded_by;        // set once a newer deployment superseded it
  std::string requested_by;
  std::int64_t created_at_ms = 0;   // occurred_at of its DeploymentRequested (0 if unknown)
  std::uint64_t ordinal = 0;        // 1, 2, ... in request order within the project
  std::uint32_t current_step = 0;
  bool paused = false;
  bool cancel_requested = false;
  bool has_snapshot = false;
  bool terminal = false;            // SUCCESS, FAILED or CANCELLED; never leaves it

  bool operator==(const DeploymentInfo& other) const;
};

struct ProjectState {
  bool exists = false;
  std::string project_id;
  std::string name;
  std::string owner;
  // Events folded so far. The processor numbers a project's stream from 1 without gaps, so
  // this is the sequence of the last one (what expected_version is compared with).
  std::uint64_t version = 0;
  std::uint64_t latest_graph_version = 0;           // 0 = none published
  std::map<std::uint64_t, GraphInfo> graphs;        // version number -> info
  std::map<std::string, DeploymentInfo> deployments;  // every deployment, terminal ones too
  std::map<std::string, std::string> active_by_environment;  // env -> non-terminal deployment
  // env -> deployments that succeeded there, in the order they succeeded (rollback targets).
  std::map<std::string, std::vector<std::string>> successes_by_environment;
  std::uint64_t deployments_requested = 0;          // last ordinal handed out

  bool operator==(const ProjectState&) const = default;
};

// --- decide: one overload per command; a refusal appends nothing.

// ALREADY_EXISTS if the project exists. project_id is an id; name a DNS label (it becomes the
// compose project name and host names); owner defaults to the actor; description, URL and
// labels are bounded single-line/free text.
Result<Decision> decide(const ProjectState& state, const axion::v1::RegisterProject& command,
                        const CommandContext& ctx);
// NOT_FOUND if the project does not exist; validate_graph; a new version latest+1, or (same
// content hash and commit as the latest) no events. ids: graph_version, content_hash.
Result<Decision> decide(const ProjectState& state, const axion::v1::PublishGraph& command,
                        const CommandContext& ctx);
// Resolves the graph version (number, commit_hash, or latest), validates environment,
// strategy and options, and enforces one active deployment per environment: refused with
// FAILED_PRECONDITION naming the running one, unless options.supersede — then a
// DeploymentSuperseded for it precedes the DeploymentRequested. ids: deployment_id (and
// superseded_deployment_id).
Result<Decision> decide(const ProjectState& state, const axion::v1::DeployProject& command,
                        const CommandContext& ctx);
// NOT_FOUND for an unknown deployment; FAILED_PRECONDITION if it already ended (naming the
// status). Cancelling one that is already stopping (cancel requested, or superseded) appends
// nothing and succeeds: the outcome asked for is under way.
Result<Decision> decide(const ProjectState& state, const axion::v1::CancelDeployment& command,
                        const CommandContext& ctx);
// Restores a successful deployment's graph version: the given target (same environment,
// SUCCESS) or the latest success in that environment requested before the rolled-back
// deployment; FAILED_PRECONDITION if there is none. Emits RollbackRequested then a
// DeploymentRequested (the target's graph, strategy and options, without supersede and
// auto_rollback, so a failing rollback cannot ping-pong). If the rolled-back deployment is
// still active it is superseded (naming it is the request); if another deployment is active in
// the environment the rollback is refused. `automatic` is true when the actor is "system".
Result<Decision> decide(const ProjectState& state, const axion::v1::RollbackDeployment& command,
                        const CommandContext& ctx);
// Canary and blue-green deployments in DEPLOYING only. Promote needs it paused unless `full`;
// pausing a paused deployment appends nothing.
Result<Decision> decide(const ProjectState& state, const axion::v1::PromoteDeployment& command,
                        const CommandContext& ctx);
Result<Decision> decide(const ProjectState& state, const axion::v1::PauseDeployment& command,
                        const CommandContext& ctx);
// The deployment saga's progress (sagas/deployment_saga.h): PERMISSION_DENIED unless the actor
// is "system"; NOT_FOUND for an unknown deployment; FAILED_PRECONDITION once it is terminal or
// when a status change does not start from the status the deployment is in (a stale saga
// decision; the saga re-decides from the log). Each event must be a saga event naming this
// deployment and project; status changes only move forward (PENDING -> BUILDING ->
// PROVISIONING -> DEPLOYING -> SUCCESS, any of them -> FAILED or CANCELLED). The events are
// appended as given.
Result<Decision> decide(const ProjectState& state,
                        const axion::v1::RecordDeploymentProgress& command,
                        const CommandContext& ctx);

// Unpacks a command payload and dispatches to the overload above; INVALID_ARGUMENT for a type
// this aggregate does not handle or a payload that does not parse.
Result<Decision> decide_project_command(const ProjectState& state,
                                        const google::protobuf::Any& command,
                                        const CommandContext& ctx);
// True if `type` ("axion.v1.DeployProject") is a command of this aggregate.
bool is_project_command(const std::string& type);

// --- evolve: the fold. Handles every event decide() emits and the saga's deployment events
// (status changes, success, failure, cancellation, snapshot, steps, pause/promote). Unknown
// event types are ignored — but still counted in `version` — so old code can fold a log written
// by newer code (forward compatibility, docs/SCHEMAS.md).

// In place: replaying a long history must not copy the state per event.
void apply_event(ProjectState& state, const google::protobuf::Any& event,
                 std::int64_t occurred_at_ms = 0);
ProjectState evolve(ProjectState state, const google::protobuf::Any& event,
                    std::int64_t occurred_at_ms = 0);
// The two-argument fold step AggregateStateOf (commands/aggregate_kind.h) expects; no event
// time, so created_at_ms stays 0.
inline void apply_project_event(ProjectState& state, const google::protobuf::Any& event) {
  apply_event(state, event);
}
// The envelope's payload, with its occurred_at as the event time.
ProjectState evolve(ProjectState state, const axion::v1::EventEnvelope& envelope);

// SUCCESS, FAILED or CANCELLED.
bool is_terminal(axion::v1::DeploymentStatus status);
// "DEPLOYING" rather than "DEPLOYMENT_STATUS_DEPLOYING", for messages.
std::string status_name(axion::v1::DeploymentStatus status);

}  // namespace axion::commands
