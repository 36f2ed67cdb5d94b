// Tests of the graph-level rules of validate_graph (commands/graph_validation.h): edges, the
// start-order cycle check reported by name, the total size bound, the commit hash of a publish;
// and of the content hash (SHA-256 vectors, determinism). Per-service rules:
// graph_validation_test.cc.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "commands/content_hash.h"
#include "commands/graph_validation.h"
#include "graph_test_support.h"

namespace axion::commands {
namespace {

using testing::edge;
using testing::expect_invalid;
using testing::good_graph;
using testing::graph_command;
using testing::http_check;
using testing::port;
using testing::service;
namespace v1 = axion::v1;

TEST(GraphValidation, ChecksEdges) {
  auto g = graph_command({"api", "worker"});
  *g.add_edges() = edge("api", "db");
  expect_invalid(validate_graph(g), "edges[0].to_service",
                 "to_service 'db' is not a service of this graph (services: api, worker)");
  *g.mutable_edges(0) = edge("$(x)", "api");
  expect_invalid(validate_graph(g), "edges[0].from_service", "'$(x)'");
  *g.mutable_edges(0) = edge("api", "api");
  expect_invalid(validate_graph(g), "edges[0].to_service", "to itself");
  *g.mutable_edges(0) = edge("api", "worker", v1::EDGE_KIND_UNSPECIFIED);
  expect_invalid(validate_graph(g), "edges[0].kind", "START_ORDER or TRAFFIC");
  *g.mutable_edges(0) = edge("api", "worker", v1::EDGE_KIND_TRAFFIC, 9000);
  expect_invalid(validate_graph(g), "edges[0].port", "declares no container port 9000");
  *g.mutable_edges(0) = edge("api", "worker", v1::EDGE_KIND_START_ORDER, 9000);
  expect_invalid(validate_graph(g), "edges[0].port", "only to TRAFFIC");
  *g.mutable_edges(0) = edge("api", "worker");
  *g.add_edges() = edge("api", "worker");
  expect_invalid(validate_graph(g), "edges[1]", "duplicates edges[0]");
}

TEST(GraphValidation, ReportsAThreeNodeStartOrderCycleByName) {
  auto g = graph_command({"api", "worker", "db", "cache"});
  *g.add_edges() = edge("api", "worker");
  *g.add_edges() = edge("worker", "db");
  *g.add_edges() = edge("api", "cache");
  *g.add_edges() = edge("db", "api");
  const Status s = validate_graph(g);
  expect_invalid(s, "edges[3]", "start-order cycle: api -> worker -> db -> api");
}

TEST(GraphValidation, TrafficEdgesTakePartInTheStartOrder) {
  auto g = graph_command({"api", "worker"});
  *g.mutable_services(0)->add_ports() = port(8080);
  *g.mutable_services(1)->add_ports() = port(9090);
  *g.add_edges() = edge("api", "worker", v1::EDGE_KIND_TRAFFIC, 9090);
  EXPECT_TRUE(validate_graph(g).ok());
  *g.add_edges() = edge("worker", "api", v1::EDGE_KIND_TRAFFIC, 8080);
  expect_invalid(validate_graph(g), "edges[1]", "start-order cycle: api -> worker -> api");
}

TEST(GraphValidation, AcceptsADiamond) {
  auto g = graph_command({"web", "api", "auth", "db"});
  using P = std::pair<std::string, std::string>;
  for (const auto& [f, t] : {P{"web", "api"}, P{"web", "auth"}, P{"api", "db"}, P{"auth", "db"}})
    *g.add_edges() = edge(f, t);
  EXPECT_TRUE(validate_graph(g).ok());
}

TEST(GraphValidation, BoundsTheTotalSize) {
  std::vector<std::string> names;
  for (int i = 0; i < 30; ++i) names.push_back("s" + std::to_string(i));
  auto g = graph_command(names);
  for (auto& s : *g.mutable_services()) (*s.mutable_env())["BLOB"] = std::string(32 * 1024, 'x');
  expect_invalid(validate_graph(g), "services", "bytes serialized");
}

TEST(GraphValidation, ChecksTheCommitHashOfAPublish) {
  auto g = graph_command({"api"}, "not-a-commit");
  expect_invalid(validate_graph(g), "commit_hash", "lowercase hex");
  g.set_commit_hash("abc");
  expect_invalid(validate_graph(g), "commit_hash", "7-64 hex");
  g.set_commit_hash("ABCDEF0");
  expect_invalid(validate_graph(g), "commit_hash", "lowercase");
  g.set_commit_hash(std::string(40, 'f'));
  EXPECT_TRUE(validate_graph(g).ok());
}

TEST(ContentHash, MatchesSha256TestVectors) {
  EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_hex(std::string(1'000'000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
  EXPECT_EQ(sha256_hex(std::string(64, 'x')).size(), 64u);  // exact-block padding path
}

TEST(ContentHash, IsDeterministicAndIgnoresMapOrder) {
  auto a = good_graph();
  auto b = good_graph();
  auto& env = *b.mutable_services(0)->mutable_env();
  env.clear();  // same entries, inserted in the other order
  env["_LOG_LEVEL"] = "info";
  env["DATABASE_HOST"] = "db";
  b.set_commit_hash("fedcba9876543210");  // the commit is not content
  const auto hash = [](const v1::PublishGraph& g) {
    return graph_content_hash(g.services(), g.edges());
  };
  EXPECT_EQ(hash(a), hash(b));
  EXPECT_EQ(hash(a).size(), 64u);
  b.mutable_services(0)->set_replicas(4);
  EXPECT_NE(hash(a), hash(b));
}

}  // namespace
}  // namespace axion::commands
