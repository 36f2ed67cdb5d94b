// Graphs for the Kubernetes generator's tests (unit and integration): a realistic three-service
// graph (api -> db traffic, worker built from source, start-order edges) whose env, command and
// args carry hostile strings, and the list of those strings.
#pragma once

#include <string>
#include <vector>

#include "axion/v1/project.pb.h"

namespace axion::testing {

// Values that break naive YAML writers: quotes, newlines, shell and Kubernetes expansion,
// anchors, aliases, tags, YAML 1.1 booleans and nulls, octal-looking numbers, comments.
inline std::vector<std::string> hostile_values() {
  return {"a\"b",      "line1\nline2", "$(rm -rf /)", "*anchor",  "&x",      "!!binary x",
          "- item",    "yes",          "no",          "on",       "null",    "~",
          "0123",      "1e3",          "0x1F",        "true",     "",        " lead trail ",
          "key: value # c", "{a: 1}",  "[1, 2]",      "'single'", "back\\slash", "tab\there",
          "%TAG ! x",  "---",          "...",         "@at",      "`tick`",  "|\n  block",
          "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x9a\x80", std::string(40000 / 2, 'L')};
}

inline axion::v1::Port k8s_port(std::uint32_t container, const std::string& name,
                                axion::v1::PortProtocol protocol = axion::v1::PORT_PROTOCOL_TCP) {
  axion::v1::Port p;
  p.set_container_port(container);
  p.set_name(name);
  p.set_protocol(protocol);
  return p;
}

inline axion::v1::Edge k8s_edge(const std::string& from, const std::string& to,
                                axion::v1::EdgeKind kind, std::uint32_t port = 0) {
  axion::v1::Edge e;
  e.set_from_service(from);
  e.set_to_service(to);
  e.set_kind(kind);
  e.set_port(port);
  return e;
}

// api: 3 replicas, image, hostile env (HOSTILE_00.. in the order of hostile_values()) and args,
// HTTP health check, resources, port 8080 published (host_port 80), a secret env var and a
// secret file, a volume; worker: build spec, no ports, START_ORDER edge to db; db: ports 5432
// (TCP) and 5432 (UDP), a TRAFFIC edge from api on 5432.
inline axion::v1::GraphVersion example_graph() {
  axion::v1::GraphVersion g;
  g.set_project_id("proj-1");
  g.set_version(7);
  g.set_content_hash("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
  auto* api = g.add_services();
  api->set_name("api");
  api->set_image("ghcr.io/acme/api:1.4.2");
  api->add_command("/bin/sh");
  api->add_command("-c");
  api->add_args("echo $(HOME) $$ \"quoted\"\nnext");
  *api->add_ports() = k8s_port(8080, "http", axion::v1::PORT_PROTOCOL_HTTP);
  api->mutable_ports(0)->set_host_port(80);
  const auto values = hostile_values();
  for (std::size_t i = 0; i < values.size(); ++i) {
    const std::string name = "HOSTILE_" + std::string(i < 10 ? "0" : "") + std::to_string(i);
    (*api->mutable_env())[name] = values[i];
  }
  auto* h = api->mutable_health_check();
  h->mutable_http()->set_path("/healthz");
  h->mutable_http()->set_port(8080);
  h->mutable_interval()->set_seconds(10);
  h->mutable_timeout()->set_seconds(2);
  h->mutable_timeout()->set_nanos(500'000'000);
  h->mutable_start_period()->set_seconds(14);
  h->mutable_start_period()->set_nanos(500'000'000);
  h->set_healthy_threshold(2);
  h->set_unhealthy_threshold(3);
  api->mutable_resources()->set_cpu_millis(500);
  api->mutable_resources()->set_memory_mb(256);
  api->set_replicas(3);
  api->set_restart_policy(axion::v1::RESTART_POLICY_ALWAYS);
  auto* token = api->add_secrets();
  token->set_name("api-token");
  token->set_key("token");
  token->set_env_var("API_TOKEN");
  auto* cert = api->add_secrets();
  cert->set_name("tls-cert");
  cert->set_file_path("/etc/tls/cert.pem");
  auto* vol = api->add_volumes();
  vol->set_source("api-data");
  vol->set_target("/var/lib/api");

  auto* worker = g.add_services();
  worker->set_name("worker");
  worker->mutable_build()->set_context("services/worker");
  auto* scratch = worker->add_volumes();
  scratch->set_source("/srv/scratch");
  scratch->set_target("/scratch");
  scratch->set_read_only(true);

  auto* db = g.add_services();
  db->set_name("db");
  db->set_image("postgres:16");
  *db->add_ports() = k8s_port(5432, "pg");
  *db->add_ports() = k8s_port(5432, "", axion::v1::PORT_PROTOCOL_UDP);
  *db->add_ports() = k8s_port(9187, "metrics");

  *g.add_edges() = k8s_edge("api", "db", axion::v1::EDGE_KIND_TRAFFIC, 5432);
  *g.add_edges() = k8s_edge("worker", "db", axion::v1::EDGE_KIND_START_ORDER);
  *g.add_edges() = k8s_edge("api", "worker", axion::v1::EDGE_KIND_START_ORDER);
  return g;
}

}  // namespace axion::testing
