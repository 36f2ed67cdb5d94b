// Builders and assertions shared by the Cluster aggregate's unit tests: command contexts, valid
// commands to vary, a sealed-looking credential, and `step`, which decides, asserts success and
// folds the events — so each test reads as the command sequence it exercises and also keeps the
// emitted history for the replay checks.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "commands/cluster_aggregate.h"

namespace axion::commands::testing {

namespace v1 = axion::v1;

inline CommandContext ctx(std::string command_id = "cmd-1", std::string actor = "alice") {
  CommandContext c;
  c.command_id = std::move(command_id);
  c.actor = std::move(actor);
  c.now_ms = 1'700'000'000'000;
  return c;
}

// What the gateway's AEAD seal produces: a key id, a 12-byte nonce, binary ciphertext + tag.
inline v1::SealedSecret sealed(char seed = 1) {
  v1::SealedSecret s;
  s.set_key_id("kek-2024");
  s.set_nonce(std::string(12, static_cast<char>(0xa0 + seed)));
  std::string ct;
  for (int i = 0; i < 40; ++i) ct.push_back(static_cast<char>((i * 37 + seed) % 256));
  s.set_ciphertext(ct);
  return s;
}

inline v1::CreateCluster create_cluster(std::string id = "c-12", std::string name = "prod") {
  v1::CreateCluster c;
  c.set_cluster_id(std::move(id));
  c.set_name(std::move(name));
  c.set_description("production");
  (*c.mutable_labels())["tier"] = "gold";
  return c;
}

inline v1::CreateServer create_server(std::string host = "10.0.0.5", std::string name = "web-1",
                                      std::uint32_t port = 22) {
  v1::CreateServer c;
  c.set_cluster_id("c-12");
  c.set_name(std::move(name));
  c.set_host(std::move(host));
  c.set_port(port);
  c.set_ssh_user("deploy");
  c.set_auth_kind(v1::SSH_AUTH_KIND_PRIVATE_KEY);
  *c.mutable_credential() = sealed();
  (*c.mutable_labels())["zone"] = "a";
  return c;
}

// A refusal: the exact code and field. A refused Result holds a Status and no Decision, so it
// cannot carry events; the check that it is not OK is the "nothing appended" check.
#define EXPECT_REFUSED(expr, code_, field_)                                          \
  do {                                                                               \
    const auto refused__ = (expr);                                                   \
    ASSERT_FALSE(refused__.ok()) << "expected " << status_code_name(code_)           \
                                 << ", got OK with " << refused__->events.size()     \
                                 << " event(s)";                                     \
    EXPECT_EQ(refused__.status().code(), code_) << refused__.status().to_string();  \
    EXPECT_EQ(refused__.status().field(), field_) << refused__.status().to_string(); \
  } while (0)

// The one event of a decision, unpacked as T.
template <typename T>
T only_event(const Result<Decision>& d) {
  T out;
  EXPECT_TRUE(d.ok()) << d.status().to_string();
  if (!d.ok()) return out;
  EXPECT_EQ(d->events.size(), 1u);
  if (d->events.size() == 1) {
    EXPECT_TRUE(d->events[0].UnpackTo(&out)) << d->events[0].type_url();
  }
  return out;
}

// A state plus every event folded into it, for replay checks.
struct History {
  ClusterState state;
  std::vector<google::protobuf::Any> events;

  // Decides `cmd`, expects success, folds and records its events; returns the decision.
  template <typename Command>
  Decision step(const Command& cmd, const CommandContext& c) {
    auto d = decide(state, cmd, c);
    EXPECT_TRUE(d.ok()) << d.status().to_string();
    if (!d.ok()) return {};
    record(d->events);
    return *d;
  }
  // Folds events a saga or processor would have appended.
  template <typename Event>
  void happen(const Event& e) {
    google::protobuf::Any any;
    any.PackFrom(e);
    record({any});
  }
  void record(const std::vector<google::protobuf::Any>& es) {
    for (const auto& e : es) {
      apply_event(state, e);
      events.push_back(e);
    }
  }
};

// A history with cluster c-12 ("prod") created.
inline History with_cluster() {
  History h;
  h.step(create_cluster(), ctx("create-cluster"));
  return h;
}

// A history with cluster c-12 and server "web-1" at 10.0.0.5:22 created by alice; `id` is set
// to the derived server id.
inline History with_server(std::string* id) {
  History h = with_cluster();
  const Decision d = h.step(create_server(), ctx("create-server"));
  *id = d.ids.count("server_id") ? d.ids.at("server_id") : "";
  return h;
}

}  // namespace axion::commands::testing
