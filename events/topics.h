// The five topics of Axion's log, their record keys and default partition counts. Topic names
// carry a major version (".v1"): an incompatible change of a topic's contents means a new topic,
// never a rewrite (docs/SCHEMAS.md). Partition counts are fixed once a topic exists, because
// the key -> partition mapping (murmur2 % partitions) is what keeps an aggregate's events in order.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "events/event_log.h"

namespace axion::events {

// CommandEnvelope records; key = the command's partition_key (else aggregate_id).
inline constexpr std::string_view kCommandsTopic = "axion.commands.v1";
// EventEnvelope records of projects and deployments; key = project_id.
inline constexpr std::string_view kDeploymentEventsTopic = "axion.deployment.events.v1";
// EventEnvelope records of clusters, servers and agents; key = cluster_id.
inline constexpr std::string_view kInfrastructureEventsTopic = "axion.infrastructure.events.v1";
// EventEnvelope records carrying AgentTask / AgentTaskResult; key = server_id.
inline constexpr std::string_view kAgentTasksTopic = "axion.agent.tasks.v1";
// CommandResult records; key = the gateway id the command named in reply_to.
inline constexpr std::string_view kResultsTopic = "axion.results.v1";

// Default partition count of every topic: enough parallelism for a control plane, small enough
// that the embedded log stays cheap.
inline constexpr std::int32_t kDefaultPartitions = 8;

struct TopicDefault {
  std::string_view name;
  std::int32_t partitions = kDefaultPartitions;
  // Events (the source of truth, replayed from offset 0) and agent tasks (folded from offset 0
  // by every server) are kept forever; commands and results only need to outlive the
  // idempotency TTL, which the broker's default retention (7 days) does.
  bool keep_forever = false;
};

inline constexpr std::array<TopicDefault, 5> kTopicDefaults{{
    {kCommandsTopic, kDefaultPartitions, false},
    {kDeploymentEventsTopic, kDefaultPartitions, true},
    {kInfrastructureEventsTopic, kDefaultPartitions, true},
    {kAgentTasksTopic, kDefaultPartitions, true},
    {kResultsTopic, kDefaultPartitions, false},
}};

// The TopicSpecs to ensure at start-up (EventLog::ensure_topic for each).
inline std::vector<TopicSpec> default_topic_specs() {
  std::vector<TopicSpec> specs;
  specs.reserve(kTopicDefaults.size());
  for (const auto& t : kTopicDefaults) {
    specs.push_back({std::string(t.name), t.partitions, t.keep_forever});
  }
  return specs;
}

}  // namespace axion::events
