// What the saga's unit tests share: the graph they deploy and checks on a SagaSim.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>

#include "sagas/deployment_saga.h"
#include "tests/support/saga_sim.h"

namespace axion::sagas::testing_support {

namespace v1 = axion::v1;
using axion::testing::SagaSim;

// web (2 replicas, published 8080, HTTP check) -START_ORDER-> api (2 replicas, port 9000).
inline v1::GraphVersion shop(const std::string& version_text) {
  v1::GraphVersion g;
  auto* api = g.add_services();
  api->set_name("api");
  api->set_image("ghcr.io/acme/api:1");  // for compose and Kubernetes; the process runtime runs
                                         // the command on the host
  api->add_command("/usr/bin/api");
  api->add_args("--port=9000");
  (*api->mutable_env())["VERSION"] = version_text;
  api->set_replicas(2);
  auto* ap = api->add_ports();
  ap->set_name("http");
  ap->set_container_port(9000);
  auto* web = g.add_services();
  web->set_name("web");
  web->set_image("ghcr.io/acme/web:1");
  web->add_command("/usr/bin/web");
  (*web->mutable_env())["VERSION"] = version_text;
  web->set_replicas(2);
  auto* wp = web->add_ports();
  wp->set_name("http");
  wp->set_container_port(8080);
  wp->set_host_port(8080);
  wp->set_protocol(v1::PORT_PROTOCOL_HTTP);
  web->mutable_health_check()->mutable_http()->set_path("/healthz");
  web->mutable_health_check()->mutable_http()->set_port(8080);
  web->mutable_health_check()->mutable_interval()->set_seconds(1);
  web->mutable_health_check()->mutable_timeout()->set_seconds(1);
  web->mutable_health_check()->set_healthy_threshold(1);
  web->mutable_health_check()->set_unhealthy_threshold(3);
  auto* e = g.add_edges();
  e->set_from_service("web");
  e->set_to_service("api");
  e->set_kind(v1::EDGE_KIND_START_ORDER);
  return g;
}

#define ASSERT_OK(expr)                                    \
  do {                                                     \
    const Status s_ = (expr);                              \
    ASSERT_TRUE(s_.ok()) << #expr << ": " << s_.message(); \
  } while (0)

inline void expect_clean(const SagaSim& sim) {
  EXPECT_TRUE(sim.problems.empty()) << sim.problems.front();
  for (const auto& [id, n] : sim.runs) EXPECT_EQ(n, 1) << "task " << id << " ran " << n << " times";
}

inline std::string instance_of(const v1::AgentTask& t) {
  return t.task().spec().process().instance_id();
}

// Whether a task is about an instance of `deployment`'s own release (not a restored old one).
inline bool of_release(const v1::AgentTask& t, const std::string& deployment) {
  const std::string prefix = instance_id(deployment, "x", 0);  // "x-<release>-0"
  return instance_of(t).find(prefix.substr(1, prefix.size() - 2)) != std::string::npos;
}

// The backends of the last SWITCH_TRAFFIC each proxy got for `service`, by server.
inline std::map<std::string, std::set<std::string>> live_backends(const SagaSim& sim,
                                                                  const std::string& service) {
  std::map<std::string, std::set<std::string>> out;
  for (const auto& id : sim.queue_order) {
    const auto& t = sim.queued.at(id);
    if (t.task().kind() != v1::TASK_KIND_SWITCH_TRAFFIC) continue;
    if (t.task().spec().proxy().service() != service) continue;
    auto& set = out[t.server_id()];
    set.clear();
    for (const auto& b : t.task().spec().proxy().backends())
      if (b.weight() > 0) set.insert(b.instance_id());
  }
  return out;
}

// v1 of shop() deployed and SUCCESS, v2 published: the start of most tests. Returns v1's id.
inline std::string v1_live_v2_published(SagaSim& sim) {
  EXPECT_TRUE(sim.publish(shop("v1")).ok());
  const std::string v1_id = sim.deploy();
  EXPECT_TRUE(sim.settle(v1_id));
  EXPECT_EQ(sim.status(v1_id), v1::DEPLOYMENT_STATUS_SUCCESS);
  EXPECT_TRUE(sim.publish(shop("v2")).ok());
  return v1_id;
}

// v1 of shop() live with web at one replica, v2 (web's VERSION changed) published.
inline void one_web_replica(SagaSim& sim) {
  v1::GraphVersion g = shop("v1");
  g.mutable_services(1)->set_replicas(1);
  ASSERT_OK(sim.publish(g));
  ASSERT_TRUE(sim.settle(sim.deploy()));
  (*g.mutable_services(1)->mutable_env())["VERSION"] = "v2";
  ASSERT_OK(sim.publish(g));
}

}  // namespace axion::sagas::testing_support
