// The aggregate kinds the command processor serves: Project (key project_id; graphs and
// deployments, events on axion.deployment.events.v1) and Cluster (key cluster_id; servers and
// agents, events on axion.infrastructure.events.v1).
#pragma once

#include "commands/aggregate_kind.h"

namespace axion::commands {

const AggregateKind& project_kind();
const AggregateKind& cluster_kind();

}  // namespace axion::commands
