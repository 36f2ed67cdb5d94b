#include "server/server_app.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "commands/aggregate_kinds.h"
#include "events/topics.h"
#include "infra/grpc/command_gateway.h"
#include "infra/kafka/kafka_event_log.h"
#include "infra/postgres/migrations.h"
#include "infra/postgres/view_store.h"
#include "infra/rocksdb/rocks_event_log.h"
#include "infra/rocksdb/snapshot_store.h"
#include "infra/rocksdb/view_store.h"
#include "projections/replay.h"

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

Result<std::string> read_file(const char* variable, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  if (!in || content.str().empty()) {
    return invalid_argument(std::string(variable) + "='" + path +
                            "' cannot be read or is empty: give a PEM file");
  }
  return content.str();
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

// The master key ring; a key the stored credentials were sealed with but the ring lacks (or
// holds differently) stops the start, naming the key: a wrong AXION_MASTER_KEY must not go
// unnoticed until a connection test.
Status ServerApp::open_sealer() {
  if (config_.master_key.empty()) {
    return invalid_argument(
        "AXION_MASTER_KEY is not set: axion-server seals SSH credentials "
        "with it");
  }
  auto sealer = infra::crypto::SecretSealer::from_spec(config_.master_key);
  if (!sealer.ok()) return sealer.status();
  sealer_ = std::make_unique<infra::crypto::SecretSealer>(std::move(sealer).value());
  auto used = queries_->credential_key_ids();
  if (!used.ok()) return used.status();
  // A key of the ring under a stored id but with other bytes is certainly the wrong key; a ring
  // that opens none of the stored keys is too. Keys merely missing (rotated out, or of data this
  // ring never sealed) are named in a warning: their servers' SSH work will say so.
  std::vector<std::string> missing;
  bool any_opens = false;
  for (const auto& id : *used) {
    const Status s = sealer_->can_open(id);
    if (s.ok()) {
      any_opens = true;
    } else if (sealer_->holds_name_of(id)) {
      return failed_precondition("AXION_MASTER_KEY cannot open the stored SSH credentials: " +
                                 s.message());
    } else if (infra::crypto::SecretSealer::is_sealed_key_id(id)) {
      missing.push_back(id);
    }
  }
  if (!missing.empty() && !any_opens) {
    return failed_precondition(
        "AXION_MASTER_KEY holds none of the keys the stored SSH credentials were sealed with (" +
        missing.front() + (missing.size() > 1 ? ", ..." : "") +
        "): wrong master key? Set the key these credentials were sealed with");
  }
  for (const auto& id : missing)
    spdlog::warn("AXION_MASTER_KEY lacks key {}: the credentials sealed with it cannot be opened",
                 id);
  spdlog::info("secrets are sealed with key {}", sealer_->sealing_key_id());
  return ok_status();
}

Status ServerApp::start() {
  started_at_s_ = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  spdlog::info("opening the event log ({})", config_.embedded()
                                                 ? "embedded RocksDB at " + config_.log_dir()
                                                 : "Kafka at " + config_.kafka_brokers);
  auto log = open_log(config_);
  if (!log.ok()) return log.status();
  log_ = std::move(log).value();
  for (const auto& topic : events::kTopicDefaults) {
    AXION_RETURN_IF_ERROR(log_->ensure_topic(
        {std::string(topic.name), config_.topic_partitions, topic.keep_forever}));
  }

  // The write side: the processor decides commands exactly once; the bus is the gateway's way in.
  commands::ProcessorOptions options;
  options.transactional_id = "axion-commands-" + config_.instance_id;
  options.clock = wall_clock_ms;
  options.limits.max_deployments_per_project = config_.max_deployments_per_project;
  options.limits.max_servers_per_user = config_.max_servers_per_user;
  options.max_event_bytes = config_.max_record_bytes;
  options.idempotency_ttl_ms = std::int64_t{config_.idempotency_ttl_hours} * 3600 * 1000;
  options.append_seconds = &command_append_seconds_;
  options.command_seconds = &command_seconds_;
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
  AXION_RETURN_IF_ERROR(open_sealer());
  project_service_ =
      std::make_unique<infra::gateway::ProjectServiceImpl>(*gateway_, query_gateway_.get());
  deployment_service_ = std::make_unique<infra::gateway::DeploymentServiceImpl>(
      *gateway_, query_gateway_.get(), log_.get());
  infrastructure_service_ =
      std::make_unique<infra::gateway::InfrastructureServiceImpl>(*gateway_, query_gateway_.get());
  infrastructure_service_->set_sealer(sealer_.get());
  infra::gateway::AgentHubOptions hub_options;
  hub_options.offline_after = config_.agent_offline_after;
  hub_options.heartbeat_interval = config_.agent_heartbeat;
  hub_options.instance_id = config_.instance_id;
  hub_options.online_agents = [this] { return online_agents(); };
  agent_hub_ = std::make_unique<infra::gateway::AgentHub>(
      *bus_, [this](const std::string& server_id) { return cluster_of_server(server_id); },
      hub_options);
  // Agent tasks: the relay folds axion.agent.tasks.v1 before any agent can connect.
  infra::gateway::AgentTaskRelayOptions relay_options;
  relay_options.instance_id = config_.instance_id;
  relay_options.result_ttl = std::chrono::hours(config_.task_result_ttl_hours);
  task_relay_ = std::make_unique<infra::gateway::AgentTaskRelay>(
      *log_, *agent_hub_,
      [this](const std::string& server_id) -> Status {
        auto cluster = cluster_of_server(server_id);
        return cluster.ok() ? ok_status() : cluster.status();
      },
      relay_options);
  agent_hub_->set_listener(task_relay_.get());
  AXION_RETURN_IF_ERROR(task_relay_->start());
  agent_task_service_ =
      std::make_unique<infra::gateway::AgentTaskServiceImpl>(*gateway_, *task_relay_);
  agent_hub_->start();
  agent_service_ = std::make_unique<infra::gateway::AgentServiceImpl>(*agent_hub_);
  // The deployment saga: after the relay (its tasks go to agents through it).
  SagaProcessorOptions saga_options;
  saga_options.transactional_id = "axion-sagas-" + config_.instance_id;
  saga_options.clock = wall_clock_ms;
  saga_options.step_deadline = config_.progress_deadline;
  saga_options.append_seconds = &saga_append_seconds_;
  saga_options.servers = [this](const std::string& cluster_id) {
    return cluster_servers(cluster_id);
  };
  if (config_.run_sagas) {
    saga_ = std::make_unique<SagaProcessor>(*log_, std::move(saga_options));
    AXION_RETURN_IF_ERROR(saga_->start());
  } else {
    spdlog::warn("AXION_RUN_SAGAS=0: this server runs no deployment saga");
  }
  infrastructure_service_->set_agent_hub(agent_hub_.get());
  AXION_RETURN_IF_ERROR(start_installer());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(config_.grpc_addr, grpc::InsecureServerCredentials(), &grpc_port);
  builder.SetMaxReceiveMessageSize(kMaxRequestBytes);
  builder.RegisterService(project_service_.get());
  builder.RegisterService(deployment_service_.get());
  builder.RegisterService(infrastructure_service_.get());
  builder.RegisterService(admin_service_.get());
  builder.RegisterService(agent_service_.get());
  builder.RegisterService(agent_task_service_.get());
  int agent_port = 0;
  if (!config_.agent_addr.empty()) {
    std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
    if (!config_.agent_tls_cert.empty()) {
      auto cert = read_file("AXION_AGENT_TLS_CERT", config_.agent_tls_cert);
      if (!cert.ok()) return cert.status();
      auto key = read_file("AXION_AGENT_TLS_KEY", config_.agent_tls_key);
      if (!key.ok()) return key.status();
      grpc::SslServerCredentialsOptions tls;
      tls.pem_key_cert_pairs.push_back({*key, *cert});
      credentials = grpc::SslServerCredentials(tls);
    }
    builder.AddListeningPort(config_.agent_addr, credentials, &agent_port);
  }
  grpc_ = builder.BuildAndStart();
  grpc_port_ = grpc_port;
  agent_port_ = agent_port;
  if (grpc_ && !config_.agent_addr.empty() && agent_port == 0) {
    return unavailable("cannot listen for agents on " + config_.agent_addr +
                       ": the address is in use or not local (set AXION_AGENT_ADDR)");
  }
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
  if (!config_.agent_addr.empty()) {
    spdlog::info("agents also connect on {} ({})", config_.agent_addr,
                 config_.agent_tls_cert.empty() ? "plaintext, loopback" : "TLS");
  }
  return ok_status();
}

namespace {

// The RocksDB views live in <views dir>/<generation>; CURRENT names the generation in use.
std::string read_generation(const std::string& views_dir) {
  std::ifstream in(std::filesystem::path(views_dir) / "CURRENT");
  std::string generation;
  if (in >> generation && !generation.empty() &&
      generation.find_first_not_of("0123456789") == std::string::npos) {
    return generation;
  }
  return "1";
}

Status write_generation(const std::string& views_dir, const std::string& generation) {
  const auto dir = std::filesystem::path(views_dir);
  {
    std::ofstream out(dir / "CURRENT.tmp", std::ios::trunc);
    out << generation << "\n";
    out.flush();
    if (!out) return unavailable("cannot write " + (dir / "CURRENT.tmp").string());
  }
  std::error_code ec;
  std::filesystem::rename(dir / "CURRENT.tmp", dir / "CURRENT", ec);  // atomic on POSIX
  if (ec) return unavailable("cannot replace " + (dir / "CURRENT").string() + ": " + ec.message());
  return ok_status();
}

}  // namespace

projections::ProjectorOptions ServerApp::projector_options() const {
  projections::ProjectorOptions options;
  options.max_history_per_project = static_cast<std::size_t>(config_.max_deployments_per_project);
  return options;
}

Result<std::shared_ptr<projections::ViewStore>> ServerApp::open_views(const std::string& where) {
  if (!config_.database_url.empty()) {
    infra::postgres::PostgresConfig pg;
    pg.url = config_.database_url;
    pg.schema = where;
    auto store = infra::postgres::open_postgres_view_store(pg);
    if (!store.ok()) return store.status();
    return std::shared_ptr<projections::ViewStore>(std::move(store).value());
  }
  auto store = infra::rocksdb::open_rocks_view_store(where);
  if (!store.ok()) return store.status();
  return std::shared_ptr<projections::ViewStore>(std::move(store).value());
}

// The views: PostgreSQL when DATABASE_URL is set (shared by the servers using it, which then
// split the partitions in one consumer group), else a RocksDB store of this instance's own.
Status ServerApp::start_views() {
  std::string group = "axion-projections";
  std::string where = config_.views_schema;
  if (config_.database_url.empty()) {
    where = (std::filesystem::path(config_.views_dir()) / read_generation(config_.views_dir()))
                .string();
    group += "-" + config_.instance_id;  // every server keeps all views of its own
  }
  spdlog::info("opening the views ({} {})",
               config_.database_url.empty() ? "RocksDB at" : "PostgreSQL schema", where);
  auto store = open_views(where);
  if (!store.ok()) return store.status();
  views_ = std::make_shared<projections::SwappableViewStore>(std::move(store).value());
  projections::ProjectionOptions options;
  options.group = group;
  options.clock = wall_clock_ms;
  options.projector = projector_options();
  projection_ = std::make_unique<projections::ProjectionProcessor>(*log_, *views_, options);
  AXION_RETURN_IF_ERROR(projection_->start());
  queries_ = std::make_unique<projections::ViewQueries>(*views_);
  query_gateway_ =
      std::make_unique<infra::gateway::QueryGateway>(*tokens_, *queries_, *projection_);
  admin_service_ = std::make_unique<infra::gateway::AdminServiceImpl>(*query_gateway_, *log_, *this,
                                                                      projector_options());
  return ok_status();
}

Result<axion::v1::RebuildViewsResponse> ServerApp::rebuild_views() {
  std::lock_guard lock(rebuild_mu_);
  if (!projection_ || !views_) return unavailable("axion-server is not serving");
  const auto started = std::chrono::steady_clock::now();
  const bool postgres = !config_.database_url.empty();
  std::string generation, where;
  if (postgres) {
    where = config_.views_schema + "_rebuild";
    AXION_RETURN_IF_ERROR(infra::postgres::drop_postgres_schema(config_.database_url, where));
  } else {
    generation = std::to_string(std::stoull(read_generation(config_.views_dir())) + 1);
    where = (std::filesystem::path(config_.views_dir()) / generation).string();
    std::error_code ec;
    std::filesystem::remove_all(where, ec);  // a rebuild that died half-way
  }
  spdlog::info("rebuilding the views into {}", where);
  auto fresh = open_views(where);
  if (!fresh.ok()) return fresh.status();
  projections::ReplayOptions replay_options;
  replay_options.projector = projector_options();
  // The bulk while the current views keep serving and keep being updated...
  auto bulk = projections::replay(*log_, **fresh, replay_options);
  if (!bulk.ok()) return bulk.status();
  // ...then the tail with updates paused (queries are still answered), and the swap.
  projection_->stop();
  auto tail = projections::replay(*log_, **fresh, replay_options);
  Status swapped = tail.status();
  std::shared_ptr<projections::ViewStore> old;
  if (swapped.ok() && postgres) {
    fresh->reset();
    swapped =
        infra::postgres::promote_postgres_views(config_.database_url, where, config_.views_schema);
    if (swapped.ok()) {
      auto live = open_views(config_.views_schema);
      swapped = live.status();
      if (live.ok()) old = views_->swap(std::move(live).value());
    }
  } else if (swapped.ok()) {
    swapped = write_generation(config_.views_dir(), generation);
    if (swapped.ok()) old = views_->swap(*fresh);
  }
  projection_->forget_offsets();
  Status restarted = projection_->start();
  AXION_RETURN_IF_ERROR(swapped);
  AXION_RETURN_IF_ERROR(restarted);
  if (!postgres && old) {
    // The previous generation: gone once the last in-flight query lets go of it.
    const std::string previous =
        (std::filesystem::path(config_.views_dir()) / std::to_string(std::stoull(generation) - 1))
            .string();
    old.reset();
    std::error_code ec;
    std::filesystem::remove_all(previous, ec);
  }
  axion::v1::RebuildViewsResponse response;
  response.set_records(bulk->records + tail->records);
  response.set_events(bulk->events + tail->events);
  response.set_duration_ms(std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - started)
                               .count());
  response.set_store(postgres ? config_.views_schema : where);
  spdlog::info("views rebuilt: {} events in {} ms", response.events(), response.duration_ms());
  return response;
}

Result<std::string> ServerApp::cluster_of_server(const std::string& server_id) const {
  if (!views_) return unavailable("axion-server is not serving");
  auto row = views_->get(projections::Table::kServers, server_id);
  if (!row.ok()) return row.status();
  if (!row->has_value()) return not_found("server '" + server_id + "' does not exist");
  axion::v1::Server server;
  if (!server.ParseFromString((*row)->doc)) {
    return data_loss("the view row of server '" + server_id + "' does not parse");
  }
  return server.cluster_id();
}

Status ServerApp::scan_servers(const std::function<void(const axion::v1::Server&)>& each) const {
  if (!views_) return unavailable("axion-server is not serving");
  projections::Query query;
  query.table = projections::Table::kServers;
  query.limit = 1000;
  while (true) {
    auto page = views_->list(query);
    if (!page.ok()) return page.status();
    for (const auto& row : page->rows) {
      axion::v1::Server server;
      if (server.ParseFromString(row.doc)) each(server);
    }
    if (!page->next) return ok_status();
    query.after = page->next;
  }
}

Result<std::pair<std::string, std::vector<sagas::ServerInfo>>> ServerApp::cluster_servers(
    const std::string& cluster_id) const {
  std::map<std::string, std::vector<sagas::ServerInfo>> by_cluster;
  AXION_RETURN_IF_ERROR(scan_servers([&](const axion::v1::Server& server) {
    if (!cluster_id.empty() && server.cluster_id() != cluster_id) return;
    sagas::ServerInfo info;
    info.server_id = server.server_id();
    info.host = server.host();
    info.online = server.agent_status() == axion::v1::AGENT_STATUS_ONLINE;
    info.runtimes.assign(server.agent_runtimes().begin(), server.agent_runtimes().end());
    info.cpu_millis = server.capacity().cpu_millis();
    info.memory_mb = server.capacity().memory_mb();
    by_cluster[server.cluster_id()].push_back(std::move(info));
  }));
  if (!cluster_id.empty()) return std::make_pair(cluster_id, std::move(by_cluster[cluster_id]));
  // No cluster named: the one cluster that has a server whose agent is ONLINE.
  std::vector<std::string> live;
  for (const auto& [id, servers] : by_cluster)
    if (std::any_of(servers.begin(), servers.end(), [](const auto& s) { return s.online; }))
      live.push_back(id);
  if (live.empty())
    return failed_precondition(
        "no cluster has a server whose agent is ONLINE: register a server and start its agent");
  if (live.size() > 1) {
    std::string names;
    for (const auto& id : live) names += (names.empty() ? "" : ", ") + id;
    return failed_precondition("several clusters have ONLINE servers (" + names +
                               "): set options.cluster_id");
  }
  return std::make_pair(live.front(), std::move(by_cluster[live.front()]));
}

Result<std::vector<std::pair<std::string, std::string>>> ServerApp::online_agents() const {
  std::vector<std::pair<std::string, std::string>> out;
  AXION_RETURN_IF_ERROR(scan_servers([&](const axion::v1::Server& server) {
    if (server.agent_status() == axion::v1::AGENT_STATUS_ONLINE)
      out.emplace_back(server.cluster_id(), server.server_id());
  }));
  return out;
}

Status ServerApp::ready() const {
  std::shared_lock parts(parts_mu_);
  if (!serving_ || !log_) return unavailable("axion-server is starting or stopping");
  auto partitions = log_->partition_count(std::string(events::kCommandsTopic));
  if (!partitions.ok()) return partitions.status();
  if (!processor_) return unavailable("the command processor is not running");
  AXION_RETURN_IF_ERROR(processor_->health());
  if (!projection_) return unavailable("the projection processor is not running");
  AXION_RETURN_IF_ERROR(projection_->health());
  if (saga_ && !saga_->alive()) {
    const Status why = saga_->health();
    return unavailable("the deployment saga stopped: " + why.message());
  }
  return ok_status();
}

void ServerApp::stop() {
  if (!serving_.exchange(false) && !grpc_ && !ops_ && !log_) return;
  spdlog::info("axion-server is stopping: finishing in-flight calls");
  // Agents first: their streams never end on their own, and their OFFLINE reports need the bus.
  if (agent_hub_) agent_hub_->stop();
  if (grpc_) {
    grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc_.reset();
  }
  // In-flight calls are done: now the bus (no waiters left) and the processor (finishes and
  // commits the batch in hand), and only then the log they write to.
  if (saga_) saga_->stop();
  if (installer_) installer_->stop();  // its jobs record their steps through the bus
  if (bus_) bus_->stop();
  if (processor_) processor_->stop();
  if (projection_) projection_->stop();
  // After the hub (no more agent reports) and before the log: pending results are written.
  if (task_relay_) task_relay_->stop();
  std::unique_lock parts(parts_mu_);  // no probe or scrape reads what is destroyed below
  saga_.reset();
  installer_.reset();
  agent_service_.reset();
  agent_task_service_.reset();
  task_relay_.reset();
  agent_hub_.reset();
  infrastructure_service_.reset();
  deployment_service_.reset();
  project_service_.reset();
  admin_service_.reset();
  query_gateway_.reset();
  queries_.reset();
  projection_.reset();
  views_.reset();
  gateway_.reset();
  bus_.reset();
  processor_.reset();
  snapshots_.reset();
  log_.reset();
  parts.unlock();  // the HTTP server's handlers may be waiting for it: let them answer first
  if (ops_) {
    ops_->stop();
    ops_.reset();
  }
  spdlog::info("axion-server stopped");
}

}  // namespace axion::server
