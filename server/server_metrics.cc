// ServerApp's /metrics: Prometheus text exposition of the processors', the views' and the
// agent hub's counters, the deployments by status (counted by the view store) and the append
// and command latency histograms. Every family once, with HELP and TYPE (infra/http/
// prometheus_text.h).
#include "axion/v1/deployment.pb.h"
#include "infra/http/prometheus_text.h"
#include "server/server_app.h"

namespace axion::server {

namespace {

// axion_deployments{status=...}: every DeploymentStatus but UNSPECIFIED, 0 included, so the
// series stay put; a status the enum does not name (a newer writer) by its number.
void deployments_by_status(infra::http::PrometheusText& out,
                           const std::map<std::int32_t, std::uint64_t>& counts) {
  constexpr char kHelp[] =
      "Deployments by status as the views hold them (the same on every server sharing them).";
  constexpr std::string_view kPrefix = "DEPLOYMENT_STATUS_";
  const auto* statuses = axion::v1::DeploymentStatus_descriptor();
  for (int i = 0; i < statuses->value_count(); ++i) {
    const auto* value = statuses->value(i);
    if (value->number() == axion::v1::DEPLOYMENT_STATUS_UNSPECIFIED) continue;
    std::string name = value->name();
    if (name.starts_with(kPrefix)) name.erase(0, kPrefix.size());
    const auto it = counts.find(value->number());
    out.gauge("axion_deployments", kHelp,
              it == counts.end() ? 0.0 : static_cast<double>(it->second), {{"status", name}});
  }
  for (const auto& [number, n] : counts) {
    if (number == axion::v1::DEPLOYMENT_STATUS_UNSPECIFIED ||
        statuses->FindValueByNumber(number) == nullptr) {
      out.gauge("axion_deployments", kHelp, static_cast<double>(n),
                {{"status", std::to_string(number)}});
    }
  }
}

}  // namespace

std::string ServerApp::metrics() const {
  std::shared_lock parts(parts_mu_);
  infra::http::PrometheusText out;
  out.gauge("axion_up", "1 while axion-server serves.", serving_ ? 1 : 0);
  out.gauge("axion_start_time_seconds", "Start time of the process.",
            static_cast<double>(started_at_s_));
  out.gauge("axion_log_embedded", "1 when the event log is the embedded RocksDB log.",
            config_.embedded() ? 1 : 0);
  const auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    out.counter(name, help, static_cast<double>(value));
  };
  if (processor_) {
    const auto stats = processor_->stats();
    counter("axion_commands_total", "Commands decided (accepted or refused).", stats.commands);
    counter("axion_commands_accepted_total", "Commands accepted.", stats.accepted);
    counter("axion_commands_duplicate_total", "Retried commands answered from idempotency memory.",
            stats.duplicates);
    counter("axion_command_appends_failed_total", "Command batches whose append failed.",
            stats.failed_appends);
    counter("axion_processor_records_folded_total",
            "Log records folded while loading partitions (after their snapshots).",
            stats.records_folded);
    counter("axion_processor_aggregates_restored_total", "Aggregates loaded from snapshots.",
            stats.aggregates_restored);
    counter("axion_snapshots_written_total", "Partition snapshots written.",
            stats.snapshots_written);
    counter("axion_snapshots_discarded_total",
            "Snapshots discarded (fold version changed, or they do not match the log).",
            stats.snapshots_discarded);
    counter("axion_snapshot_failures_total",
            "Snapshot store errors (the processor went on from the log).", stats.snapshot_failures);
    out.histogram("axion_command_duration_seconds",
                  "Time from a command's receipt by a gateway (its issued_at) to the append that "
                  "made its decision durable, per decided command (millisecond resolution).",
                  command_seconds_.snapshot());
  }
  constexpr char kAppendHelp[] =
      "Duration of event-log producer appends (one atomic append per batch), by writer.";
  if (processor_) {
    out.histogram("axion_log_append_seconds", kAppendHelp, command_append_seconds_.snapshot(),
                  {{"writer", "commands"}});
  }
  if (saga_) {
    out.histogram("axion_log_append_seconds", kAppendHelp, saga_append_seconds_.snapshot(),
                  {{"writer", "saga"}});
  }
  if (projection_) {
    const auto views = projection_->stats();
    counter("axion_projection_events_total", "Events applied to the views.", views.events_applied);
    counter("axion_projection_conflicts_total",
            "View commits refused because another writer had moved the offsets.", views.conflicts);
    out.gauge("axion_projection_lag_milliseconds",
              "Time from the last applied event to its commit into the views.",
              static_cast<double>(views.last_lag_ms));
    if (auto lag = projection_->lag_records(); lag.ok()) {
      out.gauge("axion_projection_lag_records", "Events in the log not yet applied to the views.",
                static_cast<double>(*lag));
    }
  }
  if (views_) {
    // The store counts (RocksDB keeps counts in its commits; PostgreSQL counts in the database).
    if (auto counts = views_->count_by_status(projections::Table::kDeployments); counts.ok()) {
      deployments_by_status(out, *counts);
    }
  }
  if (agent_hub_) {
    const auto agents = agent_hub_->stats();
    out.gauge("axion_agents_online",
              "Agents admitted with an open stream to this axion-server (its agent hub; with "
              "several servers, sum over them).",
              static_cast<double>(agents.agents));
    out.gauge("axion_agent_streams", "Agent streams open (admitted or waiting for Hello).",
              static_cast<double>(agents.streams));
    out.gauge("axion_agents_connected",
              "Agents admitted with an open stream (same as axion_agents_online).",
              static_cast<double>(agents.agents));
    counter("axion_agent_heartbeats_total", "Heartbeats received (kept in memory, not events).",
            agents.heartbeats);
    counter("axion_agent_hellos_refused_total", "Agent Hellos refused.", agents.refused);
    counter("axion_agent_heartbeat_timeouts_total", "Streams closed for missed heartbeats.",
            agents.timeouts);
  }
  if (task_relay_) {
    const auto t = task_relay_->stats();
    out.gauge("axion_agent_tasks_open", "Agent tasks queued or running (no terminal result).",
              static_cast<double>(t.tasks_open));
    counter("axion_agent_task_deliveries_total", "Task messages written to agent streams.",
            t.deliveries);
    counter("axion_agent_task_resends_total", "Deliveries repeated for want of an ack.", t.resends);
    counter("axion_agent_task_results_total", "Terminal task results recorded.",
            t.results_recorded);
    counter("axion_agent_task_log_lines_total", "Output lines agents streamed for tasks.",
            t.log_lines);
    counter("axion_agent_task_results_repeated_total",
            "Terminal results resent by agents after they were recorded (acknowledged again, "
            "not recorded twice).",
            t.results_repeated);
  }
  if (saga_) {
    const auto s = saga_->stats();
    counter("axion_saga_events_folded_total", "Deployment events the saga folded.",
            s.events_folded);
    counter("axion_saga_reactions_total", "Times the saga decided what a deployment does next.",
            s.reactions);
    counter("axion_saga_commands_total", "Progress commands the saga appended.",
            s.commands_appended);
    counter("axion_saga_tasks_total", "Agent tasks and cancels the saga appended.",
            s.tasks_appended);
    counter("axion_saga_appends_failed_total",
            "Saga appends that failed (retried from the committed offsets).", s.appends_failed);
  }
  return out.str();
}

}  // namespace axion::server
