// Validation of DeployProject's strategy and options (commands/project_internal.h). Bounds are
// generous sanity limits — a week-long bake or 1000 explicit servers is a typo, not a plan.
#include <cmath>
#include <set>
#include <string>

#include "commands/field_checks.h"
#include "commands/project_internal.h"

namespace axion::commands::detail {

namespace {

constexpr std::int64_t kMaxBakeSeconds = 24 * 3600;
constexpr std::uint32_t kMaxBatch = 1000;
constexpr int kMaxCanarySteps = 20;
constexpr int kMaxServerIds = 1000;

Status check_duration(const google::protobuf::Duration& d, const std::string& field,
                      bool positive) {
  if (auto p = duration_problem(d, positive, kMaxBakeSeconds); !p.empty())
    return invalid_field(field, field + " is invalid: " + p);
  return ok_status();
}

Status check_error_rate(double rate, const std::string& field) {
  if (std::isnan(rate) || rate < 0.0 || rate > 1.0)
    return invalid_field(field, field + " must be a fraction between 0 and 1, got " +
                                    std::to_string(rate));
  return ok_status();
}

}  // namespace

StrategyKind strategy_kind(const axion::v1::Strategy& s) {
  switch (s.kind_case()) {
    case axion::v1::Strategy::kCanary: return StrategyKind::kCanary;
    case axion::v1::Strategy::kBlueGreen: return StrategyKind::kBlueGreen;
    default: return StrategyKind::kRolling;  // rolling, or unset = rolling with defaults
  }
}

Status validate_strategy(const axion::v1::Strategy& s) {
  switch (s.kind_case()) {
    case axion::v1::Strategy::kRolling: {
      const auto& r = s.rolling();
      if (r.batch_size() > kMaxBatch)
        return invalid_field("strategy.rolling.batch_size",
                             "batch_size " + std::to_string(r.batch_size()) +
                                 " is too large: use 1-1000 (0 means 1)");
      const std::uint32_t batch = r.batch_size() == 0 ? 1 : r.batch_size();
      if (r.max_unavailable() > batch)
        return invalid_field("strategy.rolling.max_unavailable",
                             "max_unavailable " + std::to_string(r.max_unavailable()) +
                                 " exceeds the batch size " + std::to_string(batch));
      return check_duration(r.pause(), "strategy.rolling.pause", false);
    }
    case axion::v1::Strategy::kCanary: {
      const auto& c = s.canary();
      if (c.weights_size() > kMaxCanarySteps)
        return invalid_field("strategy.canary.weights",
                             "a canary has at most " + std::to_string(kMaxCanarySteps) +
                                 " steps, got " + std::to_string(c.weights_size()));
      for (int i = 0; i < c.weights_size(); ++i) {
        const std::string f = "strategy.canary.weights[" + std::to_string(i) + "]";
        const std::uint32_t w = c.weights(i);
        if (w < 1 || w > 100)
          return invalid_field(f, "canary weight " + std::to_string(w) +
                                      " is out of range: use percentages 1-100");
        if (i > 0 && w <= c.weights(i - 1))
          return invalid_field(f, "canary weights must increase strictly: " +
                                      std::to_string(c.weights(i - 1)) + " is followed by " +
                                      std::to_string(w));
      }
      AXION_RETURN_IF_ERROR(check_duration(c.bake_time(), "strategy.canary.bake_time", false));
      return check_error_rate(c.max_error_rate(), "strategy.canary.max_error_rate");
    }
    case axion::v1::Strategy::kBlueGreen: {
      const auto& b = s.blue_green();
      AXION_RETURN_IF_ERROR(check_duration(b.bake_time(), "strategy.blue_green.bake_time", false));
      AXION_RETURN_IF_ERROR(
          check_duration(b.scale_down_delay(), "strategy.blue_green.scale_down_delay", false));
      return check_error_rate(b.max_error_rate(), "strategy.blue_green.max_error_rate");
    }
    case axion::v1::Strategy::KIND_NOT_SET:
      break;
  }
  return ok_status();
}

Status validate_options(const axion::v1::DeployOptions& o) {
  if (o.has_progress_deadline())
    AXION_RETURN_IF_ERROR(check_duration(o.progress_deadline(), "options.progress_deadline", true));
  if (!o.cluster_id().empty()) {
    if (auto p = id_problem(o.cluster_id()); !p.empty())
      return invalid_field("options.cluster_id",
                           "cluster id " + quote(o.cluster_id()) + " is invalid: " + p);
  }
  if (o.server_ids_size() > kMaxServerIds)
    return invalid_field("options.server_ids", "at most " + std::to_string(kMaxServerIds) +
                                                   " server ids, got " +
                                                   std::to_string(o.server_ids_size()));
  if (!o.runtime().empty() && o.runtime() != "process" && o.runtime() != "compose")
    return invalid_field("options.runtime", "runtime " + quote(o.runtime()) +
                                                " is not one Axion deploys with: use \"process\" "
                                                "(the default) or \"compose\"");
  std::set<std::string> seen;
  for (int i = 0; i < o.server_ids_size(); ++i) {
    const std::string f = "options.server_ids[" + std::to_string(i) + "]";
    if (auto p = id_problem(o.server_ids(i)); !p.empty())
      return invalid_field(f, "server id " + quote(o.server_ids(i)) + " is invalid: " + p);
    if (!seen.insert(o.server_ids(i)).second)
      return invalid_field(f, "server id '" + o.server_ids(i) + "' is listed twice");
  }
  return ok_status();
}

}  // namespace axion::commands::detail
