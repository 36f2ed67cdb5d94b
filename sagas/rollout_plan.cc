#include "sagas/rollout_plan.h"

#include <algorithm>
#include <map>
#include <set>
#include <utility>

namespace axion::sagas {

namespace v1 = axion::v1;
using std::chrono::milliseconds;

namespace {

milliseconds to_ms(const google::protobuf::Duration& d) {
  return milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

std::vector<InstanceRef> instances_of(const std::string& service, const Placement& placement) {
  std::vector<InstanceRef> out;
  const auto it = placement.find(service);
  if (it == placement.end()) return out;
  for (int i = 0; i < it->second.server_ids_size(); ++i) {
    out.push_back({service, static_cast<std::uint32_t>(i), it->second.server_ids(i)});
  }
  return out;
}

// Every previous instance no step stopped, in a final CLEANUP step (if any).
void add_cleanup(std::vector<PlannedStep>& steps, const Placement& previous) {
  std::set<std::pair<std::string, std::uint32_t>> stopped;
  for (const auto& s : steps) {
    for (const auto& i : s.stop) stopped.insert({i.service, i.replica});
  }
  PlannedStep cleanup;
  cleanup.kind = v1::STEP_KIND_CLEANUP;
  cleanup.weight = 100;
  for (const auto& [service, p] : previous) {
    for (const auto& i : instances_of(service, previous)) {
      if (!stopped.count({i.service, i.replica})) cleanup.stop.push_back(i);
    }
  }
  if (!cleanup.stop.empty()) steps.push_back(std::move(cleanup));
}

Result<std::vector<std::uint32_t>> canary_weights(const v1::CanaryStrategy& c) {
  std::vector<std::uint32_t> weights(c.weights().begin(), c.weights().end());
  std::uint32_t last = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] < 1 || weights[i] > 100 || weights[i] <= last) {
      return invalid_argument("strategy.canary.weights[" + std::to_string(i) +
                              "]: " + std::to_string(weights[i]) +
                              " — weights must ascend within "
                              "1..100, e.g. 10, 50, 100");
    }
    last = weights[i];
  }
  if (weights.empty() || weights.back() != 100) weights.push_back(100);
  return weights;
}

}  // namespace

std::vector<std::string> PlannedStep::services() const {
  std::set<std::string> out;
  for (const auto& i : start) out.insert(i.service);
  for (const auto& i : stop) out.insert(i.service);
  return {out.begin(), out.end()};
}

std::vector<std::string> PlannedStep::server_ids() const {
  std::set<std::string> out;
  for (const auto& i : start) out.insert(i.server_id);
  for (const auto& i : stop) out.insert(i.server_id);
  return {out.begin(), out.end()};
}

std::vector<std::string> start_order(const v1::GraphVersion& graph) {
  std::map<std::string, std::set<std::string>> needs;  // service -> what it waits for
  for (const auto& s : graph.services()) needs[s.name()];
  for (const auto& e : graph.edges()) {
    if (needs.count(e.from_service()) && needs.count(e.to_service()) &&
        e.from_service() != e.to_service()) {
      needs[e.from_service()].insert(e.to_service());
    }
  }
  std::vector<std::string> order;
  std::set<std::string> placed;
  while (order.size() < needs.size()) {
    bool progressed = false;
    for (const auto& [name, deps] : needs) {  // name order: ties by name
      if (placed.count(name)) continue;
      if (std::all_of(deps.begin(), deps.end(), [&](const auto& d) { return placed.count(d); })) {
        order.push_back(name);
        placed.insert(name);
        progressed = true;
        break;  // restart from the smallest name
      }
    }
    if (!progressed) {  // a cycle (the validator refuses them): the rest in name order
      for (const auto& [name, deps] : needs) {
        if (placed.insert(name).second) order.push_back(name);
      }
    }
  }
  return order;
}

Result<std::vector<PlannedStep>> plan_rollout(const v1::GraphVersion& graph, const Placement& next,
                                              const Placement& previous,
                                              const v1::Strategy& strategy, bool fast) {
  const auto order = start_order(graph);
  std::vector<InstanceRef> all_new;
  for (const auto& service : order) {
    if (!next.count(service)) {
      return failed_precondition("service '" + service +
                                 "' has no placement: the plan needs "
                                 "a server for every replica");
    }
    const auto mine = instances_of(service, next);
    all_new.insert(all_new.end(), mine.begin(), mine.end());
  }
  std::vector<PlannedStep> steps;

  if (fast || strategy.kind_case() == v1::Strategy::kBlueGreen) {
    const auto& bg = strategy.blue_green();
    PlannedStep stage;
    stage.kind = v1::STEP_KIND_BLUE_GREEN_STAGE;
    stage.start = all_new;
    if (!fast) {
      stage.wait = to_ms(bg.bake_time());
      stage.needs_promotion = bg.manual_promotion();
    }
    steps.push_back(std::move(stage));
    PlannedStep sw;
    sw.kind = v1::STEP_KIND_TRAFFIC_SWITCH;
    sw.weight = 100;
    if (!fast) {
      sw.wait = to_ms(bg.scale_down_delay());
      sw.max_error_rate = bg.max_error_rate();
      if (sw.max_error_rate > 0) std::swap(sw.observe, sw.wait);  // blue is kept while watched
    }
    steps.push_back(std::move(sw));
  } else if (strategy.kind_case() == v1::Strategy::kCanary) {
    const auto& c = strategy.canary();
    auto weights = canary_weights(c);
    if (!weights.ok()) return weights.status();
    for (std::size_t i = 0; i < weights->size(); ++i) {
      PlannedStep step;
      step.kind = v1::STEP_KIND_CANARY_WEIGHT;
      step.weight = (*weights)[i];
      if (i == 0) step.start = all_new;
      if (step.weight < 100) {  // the last step has nothing left to bake before
        step.wait = to_ms(c.bake_time());
        step.needs_promotion = c.manual_promotion();
      }
      step.max_error_rate = c.max_error_rate();
      if (step.max_error_rate > 0) {  // the bake is the gate's window, inside the step
        step.observe = to_ms(c.bake_time());
        step.wait = milliseconds(0);
      }
      steps.push_back(std::move(step));
    }
  } else {  // rolling, the default
    const auto& r = strategy.rolling();
    const std::uint32_t batch = r.batch_size() == 0 ? 1 : r.batch_size();
    const std::size_t total = all_new.size();
    std::size_t started = 0;
    for (const auto& service : order) {
      const auto mine = instances_of(service, next);
      const auto old = instances_of(service, previous);
      for (std::size_t i = 0; i < mine.size(); i += batch) {
        PlannedStep step;
        step.kind = v1::STEP_KIND_ROLLING_BATCH;
        for (std::size_t j = i; j < std::min<std::size_t>(i + batch, mine.size()); ++j) {
          step.start.push_back(mine[j]);
          if (j < old.size()) step.stop.push_back(old[j]);
        }
        started += step.start.size();
        step.weight = static_cast<std::uint32_t>(total == 0 ? 100 : started * 100 / total);
        step.wait = to_ms(r.pause());
        steps.push_back(std::move(step));
      }
    }
    if (!steps.empty()) steps.back().wait = milliseconds(0);  // nothing to pause before
  }
  add_cleanup(steps, previous);
  return steps;
}

}  // namespace axion::sagas
