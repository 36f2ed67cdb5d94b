// What the deployment saga's source files share (sagas/deployment_saga*.cc); not part of the
// saga's interface (sagas/deployment_saga.h).
//   deployment_saga.cc          react(), PENDING/BUILDING/PROVISIONING
//   deployment_saga_common.cc   records, status changes, releases, deadlines
//   deployment_saga_tasks.cc    agent tasks of a step: START/STOP, SWITCH_TRAFFIC, compose
//   deployment_saga_steps.cc    DEPLOYING: steps, success, abort and restore
//   deployment_saga_gate.cc     the error-rate gate of canary and blue-green steps
#pragma once

#include <google/protobuf/any.pb.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "sagas/deployment_saga.h"

namespace axion::sagas::detail {

namespace v1 = axion::v1;

inline constexpr std::uint32_t kProxyWeightScale = 200;  // HAProxy weights are 0..256
inline constexpr int kMaxServiceEvents = 48;             // RecordDeploymentProgress holds 64

// One reaction: its inputs and the outputs it builds.
struct Ctx {
  const SagaProject& project;
  const SagaDeployment& d;
  const SagaInputs& in;
  SagaOutputs out;
};

// --- deployment_saga_common.cc

google::protobuf::Any any_of(const google::protobuf::Message& m);
// Adds a RecordDeploymentProgress of `events`, keyed by the deployment's events folded and `tag`.
void record(Ctx& c, const std::vector<google::protobuf::Any>& events, const std::string& tag);
google::protobuf::Any status_change(const Ctx& c, v1::DeploymentStatus to,
                                    v1::StatusChangeCause cause, const std::string& detail,
                                    v1::DeploymentStatus from);
void wake(Ctx& c, std::int64_t at);
// The deployment's progress_deadline, else the server's default (ms).
std::int64_t deadline_ms(const Ctx& c);
// A failure before any instance moved: recorded at once.
void fail_now(Ctx& c, v1::StatusChangeCause cause, const std::string& reason);
// The graph a deployment puts in place: a rollback's from its target's snapshot event, never
// from current state; others the published version. Null if the log lacks it.
const v1::GraphVersion* graph_of(const SagaProject& p, const SagaDeployment& d);

// The release being replaced: its deployment, graph and placement (null/empty for none).
struct Release {
  const SagaDeployment* deployment = nullptr;
  const v1::GraphVersion* graph = nullptr;
  Placement placement;
  std::string runtime;  // "process" or "compose"
};
Release previous_release(const SagaProject& p, const SagaDeployment& d);

const v1::Service* service_of(const v1::GraphVersion* g, const std::string& name);
std::string port_key(const v1::Port& p);
bool has_published_port(const v1::GraphVersion& g);
// "process" or "compose" (DeployOptions.runtime; empty = process).
std::string runtime_of(const v1::DeployOptions& options);
// The compose project name of a project's environment: "<project name>-<environment>".
std::string compose_project(const SagaProject& p, const std::string& environment);

// --- deployment_saga_tasks.cc

// One replica of a release.
struct Instance {
  const SagaDeployment* release;  // whose instance
  const v1::GraphVersion* graph;
  InstanceRef ref;
  std::string id() const { return instance_id(release->id, ref.service, ref.replica); }
};

struct Backend {
  Instance inst;
  bool is_new = false;
};

// The rollout of one deployment, recomputed from the fold on every reaction.
struct Plan {
  const v1::GraphVersion* graph = nullptr;
  Release prev;
  std::vector<PlannedStep> steps;
  std::set<std::string> proxy_servers;
  bool compose = false;  // one COMPOSE_APPLY step on the placement's server
};

// The tasks of a step, by phase (each phase waits for the one before). `report` (steps with an
// error-rate gate): REPORT_TRAFFIC on every proxy server for every routed service, sent once
// the step's observe window after its traffic moved has passed.
struct StepTasks {
  std::vector<v1::AgentTask> start, traffic, report, stop;
  // Every phase, in order.
  std::vector<const std::vector<v1::AgentTask>*> phases() const {
    return {&start, &traffic, &report, &stop};
  }
};

v1::AgentTask start_task(const Ctx& c, const Instance& inst, const std::string& what,
                         std::int64_t deadline);
v1::AgentTask stop_task(const Ctx& c, const Instance& inst, const std::string& what,
                        std::int64_t deadline);
// The server a compose release runs on (its placement names one).
std::string compose_server(const Placement& placement);
// APPLY_COMPOSE of `graph`'s compose file on `server`, or REMOVE_SERVICE (down) when `graph` is
// null.
v1::AgentTask compose_task(const Ctx& c, const std::string& server, const v1::GraphVersion* graph,
                           const std::string& what, std::int64_t deadline);
// Where an instance listens: the latest successful start of it in any deployment's results.
const v1::DeploymentTaskCompleted* started(const SagaProject& p, const std::string& instance);
// SWITCH_TRAFFIC on every proxy server for every published port of `services`; `weight` < 0
// weighs every backend alike, else the new ones share weight% and the old ones the rest.
void switch_tasks(const Ctx& c, const std::string& what, const std::set<std::string>& services,
                  const std::vector<Backend>& backends, int weight,
                  const std::set<std::string>& proxy_servers, std::int64_t deadline,
                  std::vector<v1::AgentTask>& out);
// Adds the tasks without a result to the outputs; true when all have one. `failed` (if given)
// gets the first result that is not a success.
bool await(Ctx& c, const std::vector<v1::AgentTask>& tasks,
           const v1::DeploymentTaskCompleted** failed);
Instance new_instance(const Ctx& c, const Plan& plan, const InstanceRef& ref);
Instance old_instance(const Plan& plan, const InstanceRef& ref);
// "START_SERVICE on srv-1, ..." for the tasks still without a result.
std::string describe_pending(const Ctx& c, const std::vector<v1::AgentTask>& tasks);
StepTasks step_tasks(const Ctx& c, const Plan& plan, std::size_t k, std::int64_t deadline);
// PREPARE_INFRA for every server of the deployment's placement, naming the services it will
// run there (process runtime).
std::vector<v1::AgentTask> prepare_tasks(const Ctx& c, const v1::GraphVersion& graph,
                                         std::int64_t deadline);
// The deadline of step k's tasks: its start, the progress deadline, and its observe window.
std::int64_t step_deadline(const Ctx& c, const Plan& plan, std::size_t k);

// --- deployment_saga_gate.cc

// The error-rate gate of step k, once its traffic phase succeeded: true when the step may go
// on (no gate, or every report within the limit); false when it waits (for the observe window
// or for reports) or when it recorded the step's failure.
bool gate_passed(Ctx& c, const Plan& plan, std::size_t k, const StepTasks& tasks,
                 std::string& detail);
// The report of `tasks.report` whose error rate exceeds step k's limit, if any.
const v1::DeploymentTaskCompleted* over_limit(const Ctx& c, const Plan& plan, std::size_t k,
                                              const StepTasks& tasks);
// The service a report of `tasks.report` was about ("" if it is not one of them).
std::string gated_service(const StepTasks& tasks, const v1::DeploymentTaskCompleted& report);

// --- deployment_saga_steps.cc

Result<Plan> make_plan(const Ctx& c, const v1::GraphVersion& graph);
void deploy(Ctx& c, const Plan& plan);
// "; the agent of srv-2 is OFFLINE" for the servers of `tasks` without a result whose agent the
// directory shows offline (empty if none).
std::string offline_agents(const Ctx& c, const std::vector<v1::AgentTask>& tasks);
// Cancels what runs, restores the previous release, then records the end (plan null: nothing
// was dispatched).
void abort(Ctx& c, const Plan* plan);
void finish_abort(Ctx& c, const Plan* plan, const std::string& note);
void step_completed(Ctx& c, const Plan& plan, std::size_t k, v1::StepOutcome outcome,
                    const std::string& detail, std::vector<google::protobuf::Any> before = {});
void restore_compose(Ctx& c, const Plan& plan, std::int64_t deadline);

}  // namespace axion::sagas::detail
