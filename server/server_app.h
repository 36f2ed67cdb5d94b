// ServerApp: the axion-server composition — opens the event log (embedded RocksDB or Kafka),
// makes sure Axion's topics exist, and serves gRPC (health + reflection) and the HTTP operations
// endpoints. Later issues add the command, saga and projection processors here.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <memory>

#include "common/status.h"
#include "events/event_log.h"
#include "infra/http/http_server.h"
#include "server/config.h"

namespace axion::server {

class ServerApp {
 public:
  explicit ServerApp(ServerConfig config);
  ~ServerApp();
  ServerApp(const ServerApp&) = delete;
  ServerApp& operator=(const ServerApp&) = delete;

  // Opens the log and starts serving. Errors name the failing dependency and what to fix.
  Status start();
  // Graceful: stop accepting, finish in-flight calls, close the log. Idempotent.
  void stop();

  int http_port() const { return ops_ ? ops_->port() : 0; }

 private:
  Status ready() const;
  std::string metrics() const;

  ServerConfig config_;
  std::unique_ptr<events::EventLog> log_;
  std::unique_ptr<grpc::Server> grpc_;
  std::unique_ptr<infra::http::OpsServer> ops_;
  std::atomic<bool> serving_{false};
  std::int64_t started_at_s_ = 0;
};

}  // namespace axion::server
