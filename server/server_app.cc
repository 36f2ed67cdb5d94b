#include "server/server_app.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <sstream>

#include "events/topics.h"
#include "infra/kafka/kafka_event_log.h"
#include "infra/rocksdb/rocks_event_log.h"

namespace axion::server {

namespace {

Result<std::unique_ptr<events::EventLog>> open_log(const ServerConfig& config) {
  events::LogLimits limits;
  limits.max_record_bytes = config.max_record_bytes;
  if (config.embedded()) {
    infra::rocksdb::RocksLogConfig rc;
    rc.path = config.data_dir;
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

}  // namespace

ServerApp::ServerApp(ServerConfig config) : config_(std::move(config)) {}

ServerApp::~ServerApp() { stop(); }

Status ServerApp::start() {
  started_at_s_ = std::chrono::duration_cast<std::chrono::seconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  spdlog::info("opening the event log ({})",
               config_.embedded() ? "embedded RocksDB at " + config_.data_dir
                                  : "Kafka at " + config_.kafka_brokers);
  auto log = open_log(config_);
  if (!log.ok()) return log.status();
  log_ = std::move(log).value();
  for (const auto& topic : events::kTopicDefaults) {
    AXION_RETURN_IF_ERROR(log_->ensure_topic({std::string(topic.name), config_.topic_partitions}));
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(config_.grpc_addr, grpc::InsecureServerCredentials(), &grpc_port);
  grpc_ = builder.BuildAndStart();
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

Status ServerApp::ready() const {
  if (!serving_) return unavailable("axion-server is starting or stopping");
  auto partitions = log_->partition_count(std::string(events::kCommandsTopic));
  if (!partitions.ok()) return partitions.status();
  return ok_status();
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
  return out.str();
}

void ServerApp::stop() {
  if (!serving_.exchange(false) && !grpc_ && !ops_ && !log_) return;
  spdlog::info("axion-server is stopping: finishing in-flight calls");
  if (grpc_) {
    grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc_.reset();
  }
  if (ops_) {
    ops_->stop();
    ops_.reset();
  }
  log_.reset();
  spdlog::info("axion-server stopped");
}

}  // namespace axion::server
