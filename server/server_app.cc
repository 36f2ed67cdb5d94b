#include "server/server_app.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <sstream>

#include "commands/aggregate_kinds.h"
#include "events/topics.h"
#include "infra/grpc/command_gateway.h"
#include "infra/kafka/kafka_event_log.h"
#include "infra/rocksdb/rocks_event_log.h"
#include "infra/rocksdb/snapshot_store.h"
#include "infra/rocksdb/view_store.h"
#include "infra/postgres/view_store.h"

namespace axion::server {

namespace {

Result<std::unique_ptr<events::EventLog>> open_log(const ServerConfig& config) {
  events::LogLimits limits;
  limits.max_record_bytes = config.max_record_bytes;
  if (config.embedded()) {
    infra::rocksdb::RocksLogConfig rc;
    rc.path = config.log_dir();
    rc.limits = limits;
    return infra::rocksdb::open_rocks_event_log(rc);
  }
  infra::kafka::KafkaConfig kc;
  kc.brokers = config.kafka_brokers;
  kc.timeout = config.kafka_timeout;
  kc.limits = limits;
  kc.client_id = "axion-server-" + config.instance_id;
  return infra::kafka::open_kafka_event_log(kc);
}

std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Largest request the gateway accepts; bigger ones are refused by gRPC (RESOURCE_EXHAUSTED)
// before they are parsed. A graph is bounded far below this (commands/graph_validation.h).
constexpr int kMaxRequestBytes = 4 * 1024 * 1024;

}  // namespace

ServerApp::ServerApp(ServerConfig config) : config_(std::move(config)) {}

ServerApp::~ServerApp() { stop(); }

Status ServerApp::start() {
  started_at_s_ = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  spdlog::info("opening the event log ({})",
               config_.embedded() ? "embedded RocksDB at " + config_.log_dir()
                                  : "Kafka at " + config_.kafka_brokers);
  auto log = open_log(config_);
  if (!log.ok()) return log.status();
  log_ = std::move(log).value();
  for (const auto& topic : events::kTopicDefaults) {
    AXION_RETURN_IF_ERROR(log_->ensure_topic({std::string(topic.name), config_.topic_partitions}));
  }

  // The write side: the processor decides commands exactly once; the bus is the gateway's way in.
  commands::ProcessorOptions options;
  options.transactional_id = "axion-commands-" + config_.instance_id;
  options.clock = wall_clock_ms;
  options.limits.max_deployments_per_project = config_.max_deployments_per_project;
  options.limits.max_servers_per_user = config_.max_servers_per_user;
  options.max_event_bytes = config_.max_record_bytes;
  options.idempotency_ttl_ms = std::int64_t{config_.idempotency_ttl_hours} * 3600 * 1000;
  if (config_.snapshot_every > 0) {
    auto snapshots = infra::rocksdb::open_rocks_snapshot_store(config_.snapshot_dir());
    if (!snapshots.ok()) return snapshots.status();
    snapshots_ = std::move(snapshots).value();
    options.snapshots = snapshots_.get();
    options.snapshot_every = config_.snapshot_every;
  }
  processor_ = std::make_unique<commands::CommandProcessor>(
      *log_,
      std::vector<const commands::AggregateKind*>{&commands::project_kind(),
                                                  &commands::cluster_kind()},
      options);
  AXION_RETURN_IF_ERROR(processor_->start());
  // A random suffix: a restarted instance must not receive results addressed to its old self.
  bus_ = std::make_unique<commands::CommandBus>(
      *log_, config_.instance_id + "-" + infra::gateway::new_uuid().substr(0, 8));
  AXION_RETURN_IF_ERROR(bus_->start());
  if (config_.api_tokens.empty()) {
    spdlog::warn("AXION_API_TOKENS is not set: every command RPC will be refused");
  }
  tokens_ = std::make_unique<infra::gateway::ApiTokens>(config_.api_tokens);
  gateway_ = std::make_unique<infra::gateway::CommandGateway>(*bus_, *tokens_);
  AXION_RETURN_IF_ERROR(start_views());
  project_service_ =
      std::make_unique<infra::gateway::ProjectServiceImpl>(*gateway_, query_gateway_.get());
  deployment_service_ =
      std::make_unique<infra::gateway::DeploymentServiceImpl>(*gateway_, query_gateway_.get());
  infrastructure_service_ = std::make_unique<infra::gateway::InfrastructureServiceImpl>(
      *gateway_, query_gateway_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(config_.grpc_addr, grpc::InsecureServerCredentials(), &grpc_port);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  builder.RegisterService(project_service_.get());
  builder.RegisterService(deployment_service_.get());
  builder.RegisterService(infrastructure_service_.get());
  grpc_ = builder.BuildAndStart();
  grpc_port_ = grpc_port;
  if (!grpc_ || grpc_port == 0) {
    return unavailable("cannot listen for gRPC on " + config_.grpc_addr +
                       ": the address is in use or not local (set AXION_GRPC_ADDR)");
  }

  infra::http::OpsHandlers handlers;
  handlers.live = [] { return ok_status(); };
  handlers.ready = [this] { return ready(); };
  handlers.metrics = [this] { return metrics(); };
  auto ops = infra::http::OpsServer::start(config_.http_addr, std::move(handlers));
  if (!ops.ok()) return ops.status();
  ops_ = std::move(ops).value();
  serving_ = true;
  spdlog::info("axion-server is serving: gRPC on {}, HTTP on {} ({} mode)", config_.grpc_addr,
               config_.http_addr, config_.embedded() ? "embedded" : "cluster");
  return ok_status();
}

// The views: PostgreSQL when DATABASE_URL is set (shared by the servers using it, which then
// split the partitions in one consumer group), else a RocksDB store of this instance's own.
Status ServerApp::start_views() {
  std::string group = "axion-projections";
  if (!config_.database_url.empty()) {
    infra::postgres::PostgresConfig pg;
    pg.url = config_.database_url;
    pg.schema = config_.views_schema;
    spdlog::info("opening the views in PostgreSQL (schema {})", pg.schema);
    auto store = infra::postgres::open_postgres_view_store(pg);
    if (!store.ok()) return store.status();
    views_ = std::move(store).value();
  } else {
    spdlog::info("opening the views in RocksDB at {}", config_.views_dir());
    auto store = infra::rocksdb::open_rocks_view_store(config_.views_dir());
    if (!store.ok()) return store.status();
    views_ = std::move(store).value();
    group += "-" + config_.instance_id;  // every server keeps all views of its own
  }
  projections::ProjectionOptions options;
  options.group = group;
  options.clock = wall_clock_ms;
  options.projector.max_history_per_project =
      static_cast<std::size_t>(config_.max_deployments_per_project);
  projection_ = std::make_unique<projections::ProjectionProcessor>(*log_, *views_, options);
  AXION_RETURN_IF_ERROR(projection_->start());
  queries_ = std::make_unique<projections::ViewQueries>(*views_);
  query_gateway_ =
      std::make_unique<infra::gateway::QueryGateway>(*tokens_, *queries_, *projection_);
  return ok_status();
}

Status ServerApp::ready() const {
  if (!serving_) return unavailable("axion-server is starting or stopping");
  auto partitions = log_->partition_count(std::string(events::kCommandsTopic));
  if (!partitions.ok()) return partitions.status();
  if (!processor_) return unavailable("the command processor is not running");
  AXION_RETURN_IF_ERROR(processor_->health());
  if (!projection_) return unavailable("the projection processor is not running");
  return projection_->health();
}

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
  if (processor_) {
    const auto stats = processor_->stats();
    const auto counter = [&](const char* name, const char* help, std::uint64_t value) {
      out << "# HELP " << name << " " << help << "\n# TYPE " << name << " counter\n"
          << name << " " << value << "\n";
    };
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
  return out.str();
}

void ServerApp::stop() {
  if (!serving_.exchange(false) && !grpc_ && !ops_ && !log_) return;
  spdlog::info("axion-server is stopping: finishing in-flight calls");
  if (grpc_) {
    grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc_.reset();
  }
  // In-flight calls are done: now the bus (no waiters left) and the processor (finishes and
  // commits the batch in hand), and only then the log they write to.
  if (bus_) bus_->stop();
  if (processor_) processor_->stop();
  if (projection_) projection_->stop();
  infrastructure_service_.reset();
  deployment_service_.reset();
  project_service_.reset();
  query_gateway_.reset();
  queries_.reset();
  projection_.reset();
  views_.reset();
  gateway_.reset();
  bus_.reset();
  processor_.reset();
  snapshots_.reset();
  if (ops_) {
    ops_->stop();
    ops_.reset();
  }
  log_.reset();
  spdlog::info("axion-server stopped");
}

}  // namespace axion::server
