#include "infra/http/http_server.h"

#include <httplib.h>

#include <nlohmann/json.hpp>

namespace axion::infra::http {

Result<std::pair<std::string, int>> parse_host_port(const std::string& what,
                                                    const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == address.size()) {
    return invalid_argument(what + "='" + address + "' is not host:port (e.g. 127.0.0.1:8080)");
  }
  const std::string port_text = address.substr(colon + 1);
  int port = 0;
  for (char c : port_text) {
    if (c < '0' || c > '9' || port > 65535) {
      return invalid_argument(what + "='" + address + "' has an invalid port");
    }
    port = port * 10 + (c - '0');
  }
  if (port > 65535) return invalid_argument(what + "='" + address + "' has an invalid port");
  return std::make_pair(address.substr(0, colon), port);
}

Result<std::unique_ptr<OpsServer>> OpsServer::start(const std::string& address,
                                                    OpsHandlers handlers) {
  auto hp = parse_host_port("AXION_HTTP_ADDR", address);
  if (!hp.ok()) return hp.status();
  std::unique_ptr<OpsServer> ops(new OpsServer());
  ops->server_ = std::make_unique<httplib::Server>();
  auto probe = [](const std::function<Status()>& check, httplib::Response& res) {
    Status s = check ? check() : ok_status();
    res.status = s.ok() ? 200 : 503;
    res.set_content(s.ok() ? "ok\n" : s.to_string() + "\n", "text/plain");
  };
  ops->server_->Get("/livez", [h = handlers, probe](const httplib::Request&, httplib::Response& res) {
    probe(h.live, res);
  });
  ops->server_->Get("/readyz", [h = handlers, probe](const httplib::Request&, httplib::Response& res) {
    probe(h.ready, res);
  });
  ops->server_->Get("/healthz", [h = handlers](const httplib::Request&, httplib::Response& res) {
    nlohmann::json body;
    bool healthy = true;
    for (auto& [name, check] : {std::pair{"live", h.live}, std::pair{"ready", h.ready}}) {
      Status s = check ? check() : ok_status();
      healthy = healthy && s.ok();
      body["checks"][name] = s.ok() ? "ok" : s.to_string();
    }
    body["status"] = healthy ? "ok" : "unhealthy";
    res.status = healthy ? 200 : 503;
    res.set_content(body.dump() + "\n", "application/json");
  });
  ops->server_->Get("/metrics", [h = handlers](const httplib::Request&, httplib::Response& res) {
    res.set_content(h.metrics ? h.metrics() : std::string(), "text/plain; version=0.0.4");
  });
  const auto& [host, port] = *hp;
  if (port == 0) {
    ops->port_ = ops->server_->bind_to_any_port(host);
    if (ops->port_ <= 0) return unavailable("cannot bind the HTTP endpoint on " + host);
  } else {
    if (!ops->server_->bind_to_port(host, port)) {
      return unavailable("cannot bind the HTTP endpoint on " + address +
                         ": the address is in use or not local (set AXION_HTTP_ADDR)");
    }
    ops->port_ = port;
  }
  ops->thread_ = std::thread([s = ops->server_.get()] { s->listen_after_bind(); });
  return ops;
}

OpsServer::~OpsServer() { stop(); }

void OpsServer::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace axion::infra::http
