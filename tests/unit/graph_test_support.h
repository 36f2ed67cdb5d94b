// Builders shared by the graph validation tests (graph_validation_test.cc, graph_edges_test.cc):
// ports, edges, a health check, a realistic valid graph, and `expect_invalid`, which checks the
// code, the exact field, a fragment of the message and that no raw newline leaked into it.
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "common/status.h"
#include "project_test_support.h"

namespace axion::commands::testing {

inline void expect_invalid(const Status& s, const std::string& field,
                           const std::string& fragment = "") {
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_EQ(s.field(), field) << s.to_string();
  EXPECT_NE(s.message().find(fragment), std::string::npos) << s.to_string();
  EXPECT_EQ(s.message().find('\n'), std::string::npos) << "raw newline in: " << s.message();
}

inline v1::Port port(std::uint32_t container, std::optional<std::uint32_t> host = {},
                     const std::string& name = "",
                     v1::PortProtocol protocol = v1::PORT_PROTOCOL_TCP) {
  v1::Port p;
  p.set_container_port(container);
  if (host) p.set_host_port(*host);
  p.set_name(name);
  p.set_protocol(protocol);
  return p;
}

inline v1::Edge edge(const std::string& from, const std::string& to,
                     v1::EdgeKind kind = v1::EDGE_KIND_START_ORDER, std::uint32_t p = 0) {
  v1::Edge e;
  e.set_from_service(from);
  e.set_to_service(to);
  e.set_kind(kind);
  e.set_port(p);
  return e;
}

inline v1::HealthCheck http_check() {
  v1::HealthCheck h;
  h.mutable_http()->set_path("/healthz");
  h.mutable_http()->set_port(8080);
  h.mutable_interval()->set_seconds(10);
  h.mutable_timeout()->set_seconds(2);
  h.set_healthy_threshold(1);
  h.set_unhealthy_threshold(3);
  return h;
}

// A realistic graph that passes: api (http, env, health check) -> worker, api -> db traffic.
inline v1::PublishGraph good_graph() {
  v1::PublishGraph g = graph_command({"api", "worker", "db"}, "0123456789abcdef");
  auto* api = g.mutable_services(0);
  *api->add_ports() = port(8080, 80, "http", v1::PORT_PROTOCOL_HTTP);
  (*api->mutable_env())["DATABASE_HOST"] = "db";
  (*api->mutable_env())["_LOG_LEVEL"] = "info";
  *api->mutable_health_check() = http_check();
  api->add_command("/app/api");
  api->add_args("--port=8080");
  api->set_replicas(3);
  api->mutable_resources()->set_cpu_millis(500);
  g.mutable_services(1)->mutable_build()->set_context("services/worker");
  *g.mutable_services(2)->add_ports() = port(5432, {}, "pg");
  g.mutable_services(2)->set_image("postgres:16@sha256:" + std::string(64, 'a'));
  *g.add_edges() = edge("api", "db", v1::EDGE_KIND_TRAFFIC, 5432);
  *g.add_edges() = edge("worker", "db");
  *g.add_edges() = edge("api", "worker");
  return g;
}

}  // namespace axion::commands::testing
