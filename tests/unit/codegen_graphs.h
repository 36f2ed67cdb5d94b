// Graphs the codegen tests share: a small shop (web -> api -> worker) that uses every feature the
// generators render, and strings that try to break out of YAML, JSON, a shell or a Dockerfile.
#pragma once

#include <string>
#include <vector>

#include "axion/v1/project.pb.h"

namespace axion::codegen::testing_graphs {

// web (image, published port, TCP check) -TRAFFIC:9000-> api (build spec, command, args, env,
// a secret, HTTP check, resources, 3 replicas, a label) -START_ORDER-> worker (image, a named
// and a bind volume, restart always, no check).
inline axion::v1::GraphVersion shop_graph() {
  namespace v1 = axion::v1;
  v1::GraphVersion g;
  g.set_project_id("prj-shop");
  g.set_version(7);
  g.set_content_hash("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");

  auto* web = g.add_services();
  web->set_name("web");
  web->set_image("nginx:1.25");
  auto* wp = web->add_ports();
  wp->set_name("http");
  wp->set_container_port(80);
  wp->set_host_port(8080);
  wp->set_protocol(v1::PORT_PROTOCOL_HTTP);
  auto* web_check = web->mutable_health_check();
  web_check->mutable_tcp()->set_port(80);
  web_check->mutable_interval()->set_seconds(5);
  web_check->mutable_timeout()->set_seconds(1);
  web_check->set_healthy_threshold(1);
  web_check->set_unhealthy_threshold(3);

  auto* api = g.add_services();
  api->set_name("api");
  api->mutable_build()->set_context("api");
  (*api->mutable_build()->mutable_args())["GO_VERSION"] = "1.22";
  api->add_command("/app/api");
  api->add_args("--listen");
  api->add_args(":9000");
  auto* ap = api->add_ports();
  ap->set_name("http");
  ap->set_container_port(9000);
  ap->set_protocol(v1::PORT_PROTOCOL_HTTP);
  (*api->mutable_env())["LOG_LEVEL"] = "info";
  (*api->mutable_env())["REGION"] = "eu-1";
  auto* secret = api->add_secrets();
  secret->set_name("db");
  secret->set_key("password");
  secret->set_env_var("DB_PASSWORD");
  auto* check = api->mutable_health_check();
  check->mutable_http()->set_path("/healthz");
  check->mutable_http()->set_port(9000);
  check->mutable_interval()->set_seconds(2);
  check->mutable_timeout()->set_nanos(500000000);
  check->set_healthy_threshold(1);
  check->set_unhealthy_threshold(3);
  check->mutable_start_period()->set_seconds(10);
  api->mutable_resources()->set_cpu_millis(500);
  api->mutable_resources()->set_memory_mb(256);
  api->set_replicas(3);
  (*api->mutable_labels())["team"] = "payments";

  auto* worker = g.add_services();
  worker->set_name("worker");
  worker->set_image("busybox:1.36");
  worker->set_restart_policy(v1::RESTART_POLICY_ALWAYS);
  auto* data = worker->add_volumes();
  data->set_source("worker-data");
  data->set_target("/var/lib/worker");
  auto* certs = worker->add_volumes();
  certs->set_source("/etc/ssl/certs");
  certs->set_target("/etc/ssl/certs");
  certs->set_read_only(true);

  auto* e1 = g.add_edges();
  e1->set_from_service("web");
  e1->set_to_service("api");
  e1->set_kind(v1::EDGE_KIND_TRAFFIC);
  e1->set_port(9000);
  auto* e2 = g.add_edges();
  e2->set_from_service("api");
  e2->set_to_service("worker");
  e2->set_kind(v1::EDGE_KIND_START_ORDER);
  return g;
}

// Values a user may put in env vars, arguments or labels that must come out as the same one
// string: quotes, newlines, shell and compose interpolation, YAML anchors, tags, booleans,
// numbers, comments and a very long string.
inline std::vector<std::string> hostile_values() {
  return {"a\"b",
          "line1\nline2",
          "$(rm -rf /)",
          "${HOME}",
          "*anchor",
          "&x",
          "!!python/object:os.system",
          "yes",
          "0123",
          "key: value # c",
          "- item",
          "'single'",
          "back\\slash",
          "tab\there",
          "",
          "null",
          "~",
          "\"]\nRUN x",
          std::string(10000, 'x')};
}

}  // namespace axion::codegen::testing_graphs
