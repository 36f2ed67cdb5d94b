#include "commands/aggregate_kinds.h"

#include "commands/cluster_aggregate.h"
#include "commands/project_aggregate.h"
#include "events/envelope.h"
#include "events/topics.h"

namespace axion::commands {

namespace {

using ProjectAggregate = AggregateStateOf<ProjectState, &decide_project_command, &apply_project_event>;

void apply_cluster_event(ClusterState& state, const google::protobuf::Any& event) {
  apply_event(state, event);
}
using ClusterAggregate =
    AggregateStateOf<ClusterState, &decide_cluster_command, &apply_cluster_event>;

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
