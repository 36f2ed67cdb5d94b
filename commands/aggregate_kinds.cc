#include "commands/aggregate_kinds.h"

#include "commands/cluster_aggregate.h"
#include "commands/project_aggregate.h"
#include "commands/state_snapshots.h"
#include "events/envelope.h"
#include "events/topics.h"

namespace axion::commands {

namespace {

axion::v1::ProjectSnapshot project_snapshot(const ProjectState& s) { return to_snapshot(s); }
Result<ProjectState> project_from_snapshot(const axion::v1::ProjectSnapshot& m) {
  return from_snapshot(m);
}
using ProjectAggregate = AggregateStateOf<ProjectState, &decide_project_command,
                                          &apply_project_event, &project_snapshot,
                                          &project_from_snapshot>;

void apply_cluster_event(ClusterState& state, const google::protobuf::Any& event) {
  apply_event(state, event);
}
axion::v1::ClusterSnapshot cluster_snapshot(const ClusterState& s) { return to_snapshot(s); }
Result<ClusterState> cluster_from_snapshot(const axion::v1::ClusterSnapshot& m) {
  return from_snapshot(m);
}
using ClusterAggregate = AggregateStateOf<ClusterState, &decide_cluster_command,
                                          &apply_cluster_event, &cluster_snapshot,
                                          &cluster_from_snapshot>;

class ProjectKind final : public AggregateKind {
 public:
  std::string_view name() const override { return events::aggregate_type::kProject; }
  std::string_view events_topic() const override { return events::kDeploymentEventsTopic; }
  bool handles(std::string_view type) const override {
    return is_project_command(std::string(type));
  }
  std::unique_ptr<AggregateState> empty_state() const override {
    return std::make_unique<ProjectAggregate>();
  }
  std::uint32_t fold_version() const override { return kProjectFoldVersion; }
};

class ClusterKind final : public AggregateKind {
 public:
  std::string_view name() const override { return events::aggregate_type::kCluster; }
  std::string_view events_topic() const override { return events::kInfrastructureEventsTopic; }
  bool handles(std::string_view type) const override {
    return is_cluster_command(std::string(type));
  }
  std::unique_ptr<AggregateState> empty_state() const override {
    return std::make_unique<ClusterAggregate>();
  }
  std::uint32_t fold_version() const override { return kClusterFoldVersion; }
};

}  // namespace

const AggregateKind& project_kind() {
  static const ProjectKind kind;
  return kind;
}

const AggregateKind& cluster_kind() {
  static const ClusterKind kind;
  return kind;
}

}  // namespace axion::commands
