// The rollout plan (DEPLOYING): the steps a strategy takes from the previous release's
// instances to the new one's, computed once from the graph, the two placements and the strategy,
// so a restarted saga resumes the same plan. Pure and deterministic.
//
// Instances are started before the old ones they replace are stopped, and a step's new
// instances must be healthy before its traffic moves and its old instances stop:
// - rolling: per service in start order (dependencies first), batches of `batch_size` new
//   replicas; each batch stops the old replicas with the same indices; `pause` between batches.
//   Since new replicas are healthy before old ones stop, no batch leaves instances unavailable:
//   `max_unavailable` never binds.
// - canary: every new instance starts in the first step at the first weight, then one step per
//   weight (ascending, 100 appended), each baked for `bake_time` (or held for PromoteDeployment
//   with manual promotion); old instances stop at the end.
// - blue-green: stage every new instance (bake, or hold for promotion), switch all traffic,
//   keep the old ones `scale_down_delay`, then stop them.
// - error-rate gates: with a `max_error_rate`, a canary step (the 100 % one too) is watched for
//   its bake time once its traffic moved, and the blue-green switch for `scale_down_delay`;
//   then the proxies report the new instances' error rate (REPORT_TRAFFIC), and a rate above
//   the limit fails the step. The watching happens inside the step, so `wait` is 0 there.
// - fast (a rollback to a release verified healthy): stage and switch at once, no bake, no hold.
// A final CLEANUP stops what no step stopped (old replicas beyond the new count, services the
// new graph no longer has).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/project.pb.h"
#include "common/status.h"
#include "sagas/placement.h"

namespace axion::sagas {

// One replica of a service on a server, of the new release or of the previous one.
struct InstanceRef {
  std::string service;
  std::uint32_t replica = 0;
  std::string server_id;
  bool operator==(const InstanceRef&) const = default;
};

struct PlannedStep {
  axion::v1::StepKind kind = axion::v1::STEP_KIND_UNSPECIFIED;
  std::uint32_t weight = 0;           // % of traffic on the new release once the step is done
  std::vector<InstanceRef> start;     // new instances, started and health-gated in this step
  std::vector<InstanceRef> stop;      // previous instances, stopped once traffic left them
  std::chrono::milliseconds wait{0};  // pause or bake time before the next step
  bool needs_promotion = false;       // hold for PromoteDeployment after this step
  double max_error_rate = 0;          // error-rate gate of the step; 0 = none
  std::chrono::milliseconds observe{0};  // with a gate: watched this long after traffic moved

  // The services and servers the step touches, sorted and unique (DeploymentStepStarted).
  std::vector<std::string> services() const;
  std::vector<std::string> server_ids() const;
};

// Service names with every service after the services it has edges to (START_ORDER and
// TRAFFIC), ties by name. The graph's start-order edges are acyclic (validated at publish).
std::vector<std::string> start_order(const axion::v1::GraphVersion& graph);

// INVALID_ARGUMENT for a strategy that cannot be planned (canary weights not ascending within
// 1..100), FAILED_PRECONDITION when `next` misses a service of the graph.
Result<std::vector<PlannedStep>> plan_rollout(const axion::v1::GraphVersion& graph,
                                              const Placement& next, const Placement& previous,
                                              const axion::v1::Strategy& strategy,
                                              bool fast = false);

}  // namespace axion::sagas
