// A history generator for replay tests and benchmarks: writes a realistic, valid history of N
// projects and M clusters straight into the events topics of a log, exactly as the command
// processor and the sagas would have written it — without running them.
//
//  - Commands are decided by the aggregates themselves (commands::decide for RegisterProject,
//    PublishGraph, DeployProject, CancelDeployment, RollbackDeployment, PauseDeployment,
//    PromoteDeployment, CreateCluster, UpdateCluster, DeleteCluster, CreateServer,
//    ConfigureServer, TestServerConnection, InstallAgent, UninstallAgent and the agent reports
//    AgentRegistered / AgentStatusChanged), so ids and events are the processor's; the events a
//    saga or the SSH executor records (status changes, config, placement, steps, service
//    statuses, success, failure, cancellation, snapshots; connection tests, host keys, install
//    steps, installs, credentials, uninstalls) are built by hand. Every state is folded as it
//    goes (apply_event), so each decision is taken on the state it would meet: one active
//    deployment per environment, rollback targets that exist, installs that are not running...
//  - Envelopes are what the processor builds: aggregate "project" / "cluster" (one stream per
//    aggregate, sequence 1..n without gaps), partition key = aggregate id, event id
//    derive_id("evt", command id, index), correlation and causation = the command id (saga
//    events: the deployment's or install's command). Records go to
//    partition_for_key(aggregate id, partitions) of axion.deployment.events.v1 /
//    axion.infrastructure.events.v1, appended `batch_records` at a time through one producer.
//  - Event i (0-based, over the whole history) occurs at start_ms + i * step_ms, so the events
//    up to an instant are exactly a prefix. The history is deterministic and does not depend on
//    `events`: the history of K events is the first K events of any longer one (cut wherever
//    the count falls, even inside a decision).
//  - Every event type of the two events topics (docs/SCHEMAS.md) appears within the first few
//    hundred events of each project and cluster.
//
// Projects run round-robin with the clusters, one step (a decision or a saga event) per turn.
// A project registers, publishes a graph (again every few deployments) and then deploys in a
// cycle of scenarios: rolling success, canary with pause/promote, failure, cancellation,
// supersede, rollback. A cluster adds servers (up to max_servers_per_cluster), tests them, pins
// host keys, installs agents (every fourth attempt fails), records registration, heartbeats
// lost and regained, credentials, uninstalls, reconfigures servers, updates itself, and every
// tenth cycle creates, updates and deletes a short-lived cluster.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/status.h"
#include "events/event_log.h"

namespace axion::tools {

struct HistoryOptions {
  std::uint64_t events = 100000;  // events to write, exactly
  std::size_t projects = 8;
  std::size_t clusters = 4;
  std::int64_t start_ms = 1'700'000'000'000;  // occurred_at of the first event
  std::int64_t step_ms = 10;                  // between consecutive events
  // When set, events occur at clock() taken just before the append that writes them (what the
  // command processor does); used by live histories (projection lag). start_ms/step_ms unused.
  std::function<std::int64_t()> clock;
  // Called before each append with the number of events already written; a pacer sleeps here.
  std::function<void(std::uint64_t written)> before_append;
  std::string id_prefix = "h";  // ids <prefix>-p0001 (projects), <prefix>-c0001 (clusters)
  std::string transactional_id = "history-writer";
  std::size_t batch_records = 1000;  // records per append
  std::size_t max_servers_per_cluster = 12;
};

struct AggregateCounts {
  std::uint64_t events = 0;          // = the stream's last sequence
  std::uint64_t deployments = 0;     // DeploymentRequested events (projects)
  std::uint64_t graph_versions = 0;  // GraphPublished events (projects)
  std::uint64_t servers = 0;         // ServerCreated events (clusters)
  std::int64_t first_ms = 0;         // occurred_at of its first event
  std::int64_t last_ms = 0;          // occurred_at of its last event
};

struct HistorySummary {
  std::uint64_t events = 0;
  std::uint64_t project_events = 0;         // on axion.deployment.events.v1
  std::uint64_t infrastructure_events = 0;  // on axion.infrastructure.events.v1
  std::uint64_t appends = 0;
  std::int64_t first_ms = 0;  // occurred_at of the first event
  std::int64_t last_ms = 0;   // and of the last one
  std::vector<std::string> project_ids;
  std::vector<std::string> cluster_ids;          // every cluster created, in creation order
  std::vector<std::string> deleted_cluster_ids;  // those of them deleted again
  std::set<std::string> types;                   // event types written ("axion.v1.ServerCreated")
  std::map<std::string, std::uint64_t> type_counts;
  std::map<std::string, AggregateCounts> aggregates;  // by project or cluster id
  // Where the last record written to each partition landed (partitions written to only).
  std::map<events::TopicPartition, std::int64_t> last_offsets;

  std::vector<events::LogPosition> last_positions() const;
};

// Appends the history. The events topics must exist. Errors: the log's, or INTERNAL if an
// aggregate refused a generated command (a bug of the generator: its histories must be valid).
Result<HistorySummary> write_history(events::EventLog& log, const HistoryOptions& options);

// The payload types of each events topic, as docs/SCHEMAS.md lists them (full names).
const std::vector<std::string>& deployment_event_types();
const std::vector<std::string>& infrastructure_event_types();

}  // namespace axion::tools
