// The error-rate gate (sagas/impl/saga_internal.h): a canary step or a blue-green switch with a
// max_error_rate is watched for its observe window once its traffic moved; then every proxy
// reports the requests the new instances were sent and how many failed (REPORT_TRAFFIC), and a
// rate above the limit fails the step, which stops the rollout and restores the previous
// release like any failed step.
#include <cstdio>

#include "sagas/impl/saga_internal.h"

namespace axion::sagas::detail {

namespace {

std::string percent(double rate) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", rate * 100);
  return buf;
}

}  // namespace

std::string gated_service(const StepTasks& tasks, const v1::DeploymentTaskCompleted& report) {
  for (const auto& t : tasks.report)
    if (t.task().task_id() == report.task_id()) return t.task().spec().proxy().service();
  return "";
}

const v1::DeploymentTaskCompleted* over_limit(const Ctx& c, const Plan& plan, std::size_t k,
                                              const StepTasks& tasks) {
  if (k >= plan.steps.size() || plan.steps[k].max_error_rate <= 0) return nullptr;
  for (const auto& t : tasks.report) {
    const auto r = c.d.results.find(t.task().task_id());
    if (r != c.d.results.end() && r->second.succeeded() &&
        r->second.error_rate() > plan.steps[k].max_error_rate)
      return &r->second;
  }
  return nullptr;
}

bool gate_passed(Ctx& c, const Plan& plan, std::size_t k, const StepTasks& tasks,
                 std::string& detail) {
  if (tasks.report.empty()) return true;
  const PlannedStep& step = plan.steps[k];
  // The window opens when the last proxy of the step took the new weights.
  std::int64_t moved = c.d.steps_started.at(static_cast<std::uint32_t>(k));
  for (const auto& t : tasks.traffic) {
    const auto at = c.d.result_at.find(t.task().task_id());
    if (at != c.d.result_at.end()) moved = std::max(moved, at->second);
  }
  if (c.in.now_ms < moved + step.observe.count()) {
    wake(c, moved + step.observe.count());
    return false;
  }
  const v1::DeploymentTaskCompleted* failed = nullptr;
  if (!await(c, tasks.report, &failed)) return false;
  if (failed) {
    step_completed(c, plan, k, v1::STEP_OUTCOME_FAILED,
                   "error-rate gate: the proxy on " + failed->server_id() +
                       " could not report the new release's traffic: " + failed->detail());
    return false;
  }
  if (const auto* over = over_limit(c, plan, k, tasks)) {
    v1::ServiceStatusChanged s;
    s.set_deployment_id(c.d.id);
    s.set_project_id(c.project.project_id);
    s.set_server_id(over->server_id());
    s.set_task_id(over->task_id());
    s.set_service(gated_service(tasks, *over));
    s.set_to_status(v1::SERVICE_STATUS_FAILED);
    s.set_detail("error rate " + percent(over->error_rate()) + " above the limit " +
                 percent(step.max_error_rate));
    step_completed(
        c, plan, k, v1::STEP_OUTCOME_FAILED,
        "error-rate gate: the new release failed " + std::to_string(over->failed_requests()) +
            " of " + std::to_string(over->requests()) + " requests (" +
            percent(over->error_rate()) + ") through the proxy on " + over->server_id() +
            ", above the limit " + percent(step.max_error_rate) + " (" + over->detail() + ")",
        {any_of(s)});
    return false;
  }
  std::uint64_t requests = 0, failures = 0;
  for (const auto& t : tasks.report) {
    const auto& r = c.d.results.at(t.task().task_id());
    requests += r.requests();
    failures += r.failed_requests();
  }
  detail = "; error rate " + percent(requests ? static_cast<double>(failures) / requests : 0) +
           " (" + std::to_string(failures) + " of " + std::to_string(requests) +
           " requests), limit " + percent(step.max_error_rate);
  return true;
}

}  // namespace axion::sagas::detail
