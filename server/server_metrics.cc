// ServerApp's /metrics: Prometheus text exposition of the processors', the views' and the
// agent hub's counters.
#include <sstream>

#include "server/server_app.h"

namespace axion::server {

std::string ServerApp::metrics() const {
  std::ostringstream out;
  out << "# HELP axion_up 1 while axion-server serves.\n# TYPE axion_up gauge\naxion_up "
      << (serving_ ? 1 : 0) << "\n";
  out << "# HELP axion_start_time_seconds Start time of the process.\n"
         "# TYPE axion_start_time_seconds gauge\naxion_start_time_seconds "
      << started_at_s_ << "\n";
  out << "# HELP axion_log_embedded 1 when the event log is the embedded RocksDB log.\n"
         "# TYPE axion_log_embedded gauge\naxion_log_embedded "
      << (config_.embedded() ? 1 : 0) << "\n";
  const auto counter = [&](const char* name, const char* help, std::uint64_t value) {
    out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
        << name << " " << value << "\n";
  };
  if (processor_) {
    const auto stats = processor_->stats();
    counter("axion_commands_total", "Commands decided (accepted or refused).", stats.commands);
    counter("axion_commands_accepted_total", "Commands accepted.", stats.accepted);
    counter("axion_commands_duplicate_total",
            "Retried commands answered from idempotency memory.", stats.duplicates);
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
    if (projection_) {
      const auto views = projection_->stats();
      counter("axion_projection_events_total", "Events applied to the views.",
              views.events_applied);
      counter("axion_projection_conflicts_total",
              "View commits refused because another writer had moved the offsets.",
              views.conflicts);
      out << "# HELP axion_projection_lag_milliseconds Time from the last applied event to its "
             "commit into the views.\n# TYPE axion_projection_lag_milliseconds gauge\n"
             "axion_projection_lag_milliseconds "
          << views.last_lag_ms << "\n";
      if (auto lag = projection_->lag_records(); lag.ok()) {
        out << "# HELP axion_projection_lag_records Events in the log not yet applied to the "
               "views.\n# TYPE axion_projection_lag_records gauge\naxion_projection_lag_records "
            << *lag << "\n";
      }
    }
    counter("axion_snapshot_failures_total",
            "Snapshot store errors (the processor went on from the log).",
            stats.snapshot_failures);
  }
  if (agent_hub_) {
    const auto agents = agent_hub_->stats();
    out << "# HELP axion_agent_streams Agent streams open (admitted or waiting for Hello).\n"
           "# TYPE axion_agent_streams gauge\naxion_agent_streams " << agents.streams << "\n";
    out << "# HELP axion_agents_connected Agents admitted with an open stream.\n"
           "# TYPE axion_agents_connected gauge\naxion_agents_connected " << agents.agents << "\n";
    out << "# HELP axion_agent_heartbeats_total Heartbeats received (kept in memory, not events).\n"
           "# TYPE axion_agent_heartbeats_total counter\naxion_agent_heartbeats_total "
        << agents.heartbeats << "\n";
    out << "# HELP axion_agent_hellos_refused_total Agent Hellos refused.\n"
           "# TYPE axion_agent_hellos_refused_total counter\naxion_agent_hellos_refused_total "
        << agents.refused << "\n";
    out << "# HELP axion_agent_heartbeat_timeouts_total Streams closed for missed heartbeats.\n"
           "# TYPE axion_agent_heartbeat_timeouts_total counter\n"
           "axion_agent_heartbeat_timeouts_total " << agents.timeouts << "\n";
  }
  if (task_relay_) {
    const auto t = task_relay_->stats();
    out << "# HELP axion_agent_tasks_open Agent tasks queued or running (no terminal result).\n"
           "# TYPE axion_agent_tasks_open gauge\naxion_agent_tasks_open " << t.tasks_open << "\n";
    out << "# HELP axion_agent_task_deliveries_total Task messages written to agent streams.\n"
           "# TYPE axion_agent_task_deliveries_total counter\naxion_agent_task_deliveries_total "
        << t.deliveries << "\n";
    out << "# HELP axion_agent_task_resends_total Deliveries repeated for want of an ack.\n"
           "# TYPE axion_agent_task_resends_total counter\naxion_agent_task_resends_total "
        << t.resends << "\n";
    out << "# HELP axion_agent_task_results_total Terminal task results recorded.\n"
           "# TYPE axion_agent_task_results_total counter\naxion_agent_task_results_total "
        << t.results_recorded << "\n";
    out << "# HELP axion_agent_task_log_lines_total Output lines agents streamed for tasks.\n"
           "# TYPE axion_agent_task_log_lines_total counter\naxion_agent_task_log_lines_total "
        << t.log_lines << "\n";
    out << "# HELP axion_agent_task_results_repeated_total Terminal results resent by agents "
           "after they were recorded (acknowledged again, not recorded twice).\n"
           "# TYPE axion_agent_task_results_repeated_total counter\n"
           "axion_agent_task_results_repeated_total " << t.results_repeated << "\n";
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
