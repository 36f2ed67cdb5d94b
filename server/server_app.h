// ServerApp: the axion-server composition — opens the event log (embedded RocksDB or Kafka),
// makes sure Axion's topics exist, runs the command processor and the command bus, and serves
// gRPC (the command RPCs of the gateway, health + reflection) and the HTTP operations endpoints.
// Also the projection processor (views) and the deployment saga processor.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>

#include "commands/command_bus.h"
#include "commands/command_processor.h"
#include "common/histogram.h"
#include "common/status.h"
#include "events/event_log.h"
#include "infra/crypto/secret_sealer.h"
#include "infra/grpc/admin_service.h"
#include "infra/grpc/agent_hub.h"
#include "infra/grpc/agent_service.h"
#include "infra/grpc/agent_task_relay.h"
#include "infra/grpc/agent_task_service.h"
#include "infra/grpc/deployment_service.h"
#include "infra/grpc/infrastructure_service.h"
#include "infra/grpc/project_service.h"
#include "infra/grpc/query_gateway.h"
#include "infra/http/http_server.h"
#include "projections/projection_processor.h"
#include "projections/queries.h"
#include "projections/swappable_view_store.h"
#include "server/agent_installer.h"
#include "server/config.h"
#include "server/saga_processor.h"

namespace axion::server {

class ServerApp final : public infra::gateway::ViewsAdmin {
 public:
  explicit ServerApp(ServerConfig config);
  ~ServerApp() override;
  ServerApp(const ServerApp&) = delete;
  ServerApp& operator=(const ServerApp&) = delete;

  // Opens the log and starts serving. Errors name the failing dependency and what to fix.
  Status start();
  // Graceful: stop accepting, finish in-flight calls, close the log. Idempotent.
  void stop();
  // Rebuilds the views from offset 0 into a fresh store while the current one keeps serving,
  // then swaps it in (RocksDB: a new generation directory named in views/<instance>/CURRENT;
  // PostgreSQL: a schema promoted in place of the live one). One rebuild at a time.
  Result<axion::v1::RebuildViewsResponse> rebuild_views() override;

  int http_port() const { return ops_ ? ops_->port() : 0; }
  int grpc_port() const { return grpc_port_; }
  int agent_port() const { return agent_port_; }  // 0 without AXION_AGENT_ADDR
  // The open log (null before start / after stop); tests read what the commands appended.
  events::EventLog* log() const { return log_.get(); }
  // The projection processor's counters and recent per-event lags (empty when not serving).
  projections::ProjectionStats projection_stats() const {
    return projection_ ? projection_->stats() : projections::ProjectionStats{};
  }

 private:
  Status ready() const;
  Status start_views();
  Status open_sealer();
  Status start_installer();
  projections::ProjectorOptions projector_options() const;
  // The view store at `where`: a PostgreSQL schema with DATABASE_URL, else a RocksDB directory.
  Result<std::shared_ptr<projections::ViewStore>> open_views(const std::string& where);
  std::string metrics() const;
  // The cluster of a server, from the servers view (the agent's Hello names only the server).
  Result<std::string> cluster_of_server(const std::string& server_id) const;
  // (cluster id, server id) of every server whose agent the views show ONLINE.
  Result<std::vector<std::pair<std::string, std::string>>> online_agents() const;
  // Calls `each` with every server of the servers view, page by page.
  Status scan_servers(const std::function<void(const axion::v1::Server&)>& each) const;
  // The servers of a cluster for the saga's placement; empty id = the one cluster with an
  // ONLINE agent (FAILED_PRECONDITION naming the choices when there are none or several).
  Result<std::pair<std::string, std::vector<sagas::ServerInfo>>> cluster_servers(
      const std::string& cluster_id) const;

  ServerConfig config_;
  // /metrics' histograms, fed by the processors (declared first: they outlive them).
  Histogram command_append_seconds_{Histogram::latency_seconds_buckets()};
  Histogram saga_append_seconds_{Histogram::latency_seconds_buckets()};
  Histogram command_seconds_{Histogram::latency_seconds_buckets()};
  std::unique_ptr<events::EventLog> log_;
  std::unique_ptr<commands::SnapshotStore> snapshots_;  // outlives the processor
  std::unique_ptr<commands::CommandProcessor> processor_;
  std::unique_ptr<commands::CommandBus> bus_;
  std::unique_ptr<infra::gateway::ApiTokens> tokens_;
  std::unique_ptr<infra::gateway::CommandGateway> gateway_;
  // The read side: views, the processor keeping them current, the queries over them.
  std::shared_ptr<projections::SwappableViewStore> views_;
  std::mutex rebuild_mu_;
  std::unique_ptr<infra::gateway::AdminServiceImpl> admin_service_;
  std::unique_ptr<projections::ProjectionProcessor> projection_;
  std::unique_ptr<projections::ViewQueries> queries_;
  std::unique_ptr<infra::crypto::SecretSealer> sealer_;
  std::unique_ptr<infra::gateway::QueryGateway> query_gateway_;
  std::unique_ptr<infra::gateway::ProjectServiceImpl> project_service_;
  std::unique_ptr<infra::gateway::DeploymentServiceImpl> deployment_service_;
  std::unique_ptr<infra::gateway::InfrastructureServiceImpl> infrastructure_service_;
  // The agents' streams: the hub (liveness in memory, transitions as commands) and its service.
  std::unique_ptr<infra::gateway::AgentHub> agent_hub_;
  std::unique_ptr<infra::gateway::AgentServiceImpl> agent_service_;
  // Agent tasks: axion.agent.tasks.v1 <-> the agents' streams, and AgentTaskService.
  std::unique_ptr<infra::gateway::AgentTaskRelay> task_relay_;
  std::unique_ptr<infra::gateway::AgentTaskServiceImpl> agent_task_service_;
  // The deployment saga (after the relay, before the log).
  std::unique_ptr<SagaProcessor> saga_;
  // Agent installs and removals over SSH.
  std::unique_ptr<AgentInstaller> installer_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  int agent_port_ = 0;
  std::unique_ptr<infra::http::OpsServer> ops_;
  std::atomic<bool> serving_{false};
  // The HTTP probes and /metrics read the parts above from the HTTP server's threads, which
  // outlive them in stop(): they hold this shared, stop() holds it while it destroys them.
  mutable std::shared_mutex parts_mu_;
  std::int64_t started_at_s_ = 0;
};

}  // namespace axion::server
