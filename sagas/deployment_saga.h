// The deployment saga (seed 000, strategies of seed 002) as pure functions: fold a project's
// event stream into SagaProject, then react(project, deployment, now, servers) -> the outputs
// that move one deployment forward. The processor (server/saga_processor) appends the outputs
// atomically with its input offsets; every output is idempotent, so reacting again to the same
// state — after a crash, a rebalance or a timer — is harmless:
//  - progress is a RecordDeploymentProgress command whose idempotency key names the deployment
//    and how many of its events the saga had folded (same state, same key);
//  - agent tasks have ids derived from (deployment, what, instance/step), so the ledger and the
//    agent's journal run each once however often it is queued;
//  - timers are not stored: deadlines and waits are computed from the folded events' times, so
//    a restarted saga knows them, and react() says when it wants to be woken.
//
// The flow: PENDING -> BUILDING (codegen; hashes in DeploymentConfigGenerated) -> PROVISIONING
// (placement on the cluster's ONLINE agents, DeploymentServersAssigned) -> DEPLOYING (the
// steps of rollout_plan.h; each step starts its new instances health-gated, moves traffic on
// every proxy, stops the old instances it replaces) -> SUCCESS (DeploymentSnapshotted first) |
// FAILED | CANCELLED. A failed step, a passed deadline, a cancel or a supersede *aborts*: open
// tasks are cancelled, the previous release is restored (instances this deployment stopped are
// started again, traffic goes back to them, the new instances are stopped) and only then the
// end is recorded, so the environment is free the moment the old release serves again.
#pragma once

#include <google/protobuf/any.pb.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "axion/v1/agent.pb.h"
#include "axion/v1/deployment.pb.h"
#include "axion/v1/envelope.pb.h"
#include "axion/v1/project.pb.h"
#include "common/status.h"
#include "sagas/placement.h"
#include "sagas/rollout_plan.h"

namespace axion::sagas {

// One deployment as the saga sees it: the fold of its events.
struct SagaDeployment {
  std::string id;
  std::string environment;
  std::uint64_t graph_version = 0;
  axion::v1::Strategy strategy;
  axion::v1::DeployOptions options;
  std::string rollback_target;  // the success whose snapshot a rollback restores
  bool fast = false;            // a fast rollback: stage and switch, no canary steps or bakes
  std::string previous;         // the release it replaces: the environment's last success then
  axion::v1::DeploymentStatus status = axion::v1::DEPLOYMENT_STATUS_PENDING;
  std::int64_t requested_at_ms = 0;
  std::int64_t last_event_ms = 0;  // time of the latest event about it (progress)
  std::uint64_t events = 0;        // its events folded so far (idempotency keys)
  bool cancel_requested = false;
  std::string cancel_reason;
  std::string superseded_by;
  bool configured = false;
  axion::v1::GeneratedConfig config;
  bool placed = false;
  std::int64_t placed_at_ms = 0;  // when DeploymentServersAssigned was recorded
  std::string cluster_id;
  Placement placement;
  std::map<std::string, std::string> server_hosts;
  // Steps: index -> start time; index -> (outcome, end time).
  std::map<std::uint32_t, std::int64_t> steps_started;
  std::map<std::uint32_t, std::pair<axion::v1::StepOutcome, std::int64_t>> steps_completed;
  std::string step_failure;                // detail of the step that failed (abort reason)
  std::set<std::uint32_t> paused_after;    // steps a DeploymentPaused named
  std::set<std::uint32_t> promoted_after;  // steps a DeploymentPromoted named
  bool promoted_full = false;
  bool paused = false;
  std::int64_t abort_started_ms = 0;  // when it began aborting (0 = not aborting)
  std::map<std::string, axion::v1::DeploymentTaskCompleted> results;  // by task id
  std::map<std::string, std::int64_t> result_at;                     // by task id: when
  bool rollback_requested = false;  // auto_rollback asked for in its DeploymentFailed
  bool rollback_started = false;    // a RollbackRequested rolls it back

  bool terminal() const;
  bool aborting() const;
};

struct SagaProject {
  std::string project_id;
  std::string name;
  std::map<std::uint64_t, axion::v1::GraphVersion> graphs;
  std::map<std::string, SagaDeployment> deployments;
  std::map<std::string, axion::v1::DeploymentSnapshot> snapshots;  // of successes
  std::map<std::string, std::string> release_by_env;               // env -> its last success
  // The deployments the saga still drives: requested and not ended, or failed asking for an
  // automatic rollback that has not been requested yet. Kept by fold(), so a project's events
  // make only these react, however many deployments the project has had.
  std::set<std::string> live;
};

// Folds one event of the project's stream (occurred_at as the event time). Unknown types are
// ignored.
void fold(SagaProject& project, const axion::v1::EventEnvelope& envelope);

// A server of the cluster, as the directory (the servers view) shows it now.
struct ServerInfo {
  std::string server_id;
  std::string host;
  bool online = false;
  std::vector<std::string> runtimes;  // what its agent offers
  std::uint32_t cpu_millis = 0;
  std::uint64_t memory_mb = 0;
};

struct SagaInputs {
  std::int64_t now_ms = 0;
  // Servers of a cluster (PROVISIONING only); empty cluster id = the default cluster, which
  // the directory resolves (or refuses with a reason).
  std::function<Result<std::pair<std::string, std::vector<ServerInfo>>>(const std::string&)>
      servers;
  std::chrono::milliseconds step_deadline{std::chrono::minutes(10)};  // default progress deadline
};

// A command the saga issues (actor "system").
struct SagaCommand {
  std::string idempotency_key;
  std::string aggregate_id;  // the project
  google::protobuf::Any payload;
};

struct SagaOutputs {
  std::vector<SagaCommand> commands;
  std::vector<axion::v1::AgentTask> tasks;
  std::vector<axion::v1::AgentTaskCancel> cancels;
  std::optional<std::int64_t> wake_at_ms;  // react again then (a wait or a deadline)
  bool empty() const { return commands.empty() && tasks.empty() && cancels.empty(); }
};

// What moves deployment `id` of `project` forward now. Pure: the same project, id and inputs
// give the same outputs.
SagaOutputs react(const SagaProject& project, const std::string& id, const SagaInputs& inputs);

// The command recording an agent's terminal result for a deployment task: a
// RecordDeploymentProgress with one DeploymentTaskCompleted, keyed by the task id so a result
// relayed twice is recorded once. Nothing for results of other tasks or non-terminal updates.
std::optional<SagaCommand> record_task_result(const axion::v1::AgentTaskResult& result);

// Deterministic ids (exposed for tests and for the processor's logs).
std::string instance_id(const std::string& deployment_id, const std::string& service,
                        std::uint32_t replica);
std::string task_id(const std::string& deployment_id, const std::string& what);

}  // namespace axion::sagas
