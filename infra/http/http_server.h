// The operations endpoint of axion-server over HTTP (cpp-httplib): /livez (the process runs),
// /readyz (dependencies answer), /healthz (both, as JSON with the reason of a failure) and
// /metrics (Prometheus text format). Probes are callbacks so the server decides what "ready"
// means; a failing probe answers 503 with its message.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "common/status.h"

namespace httplib {
class Server;
}

namespace axion::infra::http {

struct OpsHandlers {
  std::function<Status()> live;
  std::function<Status()> ready;
  std::function<std::string()> metrics;  // Prometheus text exposition
};

class OpsServer {
 public:
  // Binds `address` ("host:port") and serves on a thread of its own. UNAVAILABLE if the address
  // cannot be bound, INVALID_ARGUMENT if it does not parse.
  static Result<std::unique_ptr<OpsServer>> start(const std::string& address, OpsHandlers handlers);
  ~OpsServer();
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  void stop();  // idempotent
  int port() const { return port_; }

 private:
  OpsServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
};

// Splits "host:port"; INVALID_ARGUMENT naming `what` (e.g. "AXION_HTTP_ADDR") on a bad value.
Result<std::pair<std::string, int>> parse_host_port(const std::string& what,
                                                    const std::string& address);

}  // namespace axion::infra::http
