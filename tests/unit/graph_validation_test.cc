// Tests of the per-service rules of graph validation (commands/graph_validation.h): every rule
// refuses with INVALID_ARGUMENT naming the exact field, and hostile values are quoted safely.
// Edges, cycles, size and the content hash: graph_edges_test.cc.
#include "commands/graph_validation.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "commands/field_checks.h"
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

TEST(GraphValidation, AcceptsAWellFormedGraph) {
  EXPECT_TRUE(validate_graph(good_graph()).ok()) << validate_graph(good_graph()).to_string();
}

TEST(GraphValidation, NeedsAtLeastOneService) {
  expect_invalid(validate_graph(graph_command({})), "services", "at least one service");
}

TEST(GraphValidation, RefusesHostileServiceNamesWithTheFieldAndAQuotedValue) {
  const std::vector<std::string> hostile = {
      "a;rm -rf /", "$(x)", "api\nworker", std::string(64, 'a'), "Api", "-api", "api-", "",
      "caf\xc3\xa9", "a b", "a_b", "a.b", std::string("a\0b", 3), "`id`"};
  for (const auto& name : hostile) {
    auto g = graph_command({"ok", name});
    expect_invalid(validate_graph(g), "services[1].name", "is not a DNS label");
  }
}

TEST(GraphValidation, ExplainsTheDnsLabelRuleAndQuotesExactly) {
  auto s = validate_graph(graph_command({"a;rm -rf /"}));
  EXPECT_EQ(s.message(),
            "service name 'a;rm -rf /' is not a DNS label (it contains the character ';'): use "
            "1-63 lowercase letters, digits and '-', starting and ending with a letter or digit");
  s = validate_graph(graph_command({"api\nworker"}));
  EXPECT_NE(s.message().find("'api\\nworker'"), std::string::npos) << s.message();
  s = validate_graph(graph_command({"caf\xc3\xa9"}));
  EXPECT_NE(s.message().find("'caf\\xc3\\xa9'"), std::string::npos) << s.message();
  s = validate_graph(graph_command({std::string(300, 'x')}));
  EXPECT_NE(s.message().find("...' (300 bytes)"), std::string::npos) << s.message();
  EXPECT_LT(s.message().size(), 300u);
  EXPECT_NE(validate_graph(graph_command({std::string(64, 'a')})).message().find("64 characters"),
            std::string::npos);
}

TEST(GraphValidation, AcceptsBoundaryNames) {
  EXPECT_TRUE(validate_graph(graph_command({std::string(63, 'a'), "a", "0-9", "a--b"})).ok());
}

TEST(GraphValidation, RefusesDuplicateNames) {
  expect_invalid(validate_graph(graph_command({"api", "db", "api"})), "services[2].name",
                 "services[0]");
}

TEST(GraphValidation, BoundsCounts) {
  std::vector<std::string> names;
  for (int i = 0; i < 201; ++i) names.push_back("s" + std::to_string(i));
  expect_invalid(validate_graph(graph_command(names)), "services", "at most 200");
  names.pop_back();
  EXPECT_TRUE(validate_graph(graph_command(names)).ok());
  auto g = graph_command({"a", "b"});
  for (int i = 0; i < 2001; ++i) *g.add_edges() = edge("a", "b");
  expect_invalid(validate_graph(g), "edges", "at most 2000");
}

TEST(GraphValidation, NeedsAnImageOrABuild) {
  auto g = graph_command({"api"});
  g.mutable_services(0)->clear_source();
  expect_invalid(validate_graph(g), "services[0].image", "needs an image or a build spec");
}

TEST(GraphValidation, ChecksImageReferences) {
  for (const std::string& ok : std::vector<std::string>{
           "nginx", "nginx:1.25", "ghcr.io/acme/api:1.4.2", "localhost:5000/a/b_c:v1-rc.1",
        "registry.example.com/team/app@sha256:" + std::string(64, '0'), "a/b.c/d__e"}) {
    auto g = graph_command({"api"});
    g.mutable_services(0)->set_image(ok);
    EXPECT_TRUE(validate_graph(g).ok()) << ok << ": " << validate_graph(g).to_string();
  }
  for (const std::string& bad : std::vector<std::string>{
           "", "Nginx", "nginx latest", "img;rm", "x:", "a//b", "ghcr.io/acme/api@sha256:xyz",
        "ghcr.io:port/x", ":tag", "a\tb", std::string(600, 'a'), "-x", "x@", "caf\xc3\xa9"}) {
    auto g = graph_command({"api"});
    g.mutable_services(0)->set_image(bad);
    expect_invalid(validate_graph(g), "services[0].image", "not a valid image reference");
  }
}

TEST(GraphValidation, ChecksBuildSpecs) {
  auto g = graph_command({"api"});
  auto* b = g.mutable_services(0)->mutable_build();
  b->set_context("../outside");
  expect_invalid(validate_graph(g), "services[0].build.context", "'..'");
  b->set_context("/etc");
  expect_invalid(validate_graph(g), "services[0].build.context", "relative");
  b->set_context("svc/api");
  b->set_dockerfile("docker/Dockerfile\n");
  expect_invalid(validate_graph(g), "services[0].build.dockerfile", "control");
  b->set_dockerfile("");
  (*b->mutable_args())["BAD-NAME"] = "1";
  expect_invalid(validate_graph(g), "services[0].build.args['BAD-NAME']", "build arg name");
  b->clear_args();
  b->set_target("stage one");
  expect_invalid(validate_graph(g), "services[0].build.target", "stage name");
  b->set_target("runtime");
  EXPECT_TRUE(validate_graph(g).ok());
}

TEST(GraphValidation, ChecksArgv) {
  auto g = graph_command({"api"});
  auto* s = g.mutable_services(0);
  s->add_command("/bin/app");
  s->add_command("");
  expect_invalid(validate_graph(g), "services[0].command[1]", "is empty");
  s->clear_command();
  s->add_args(std::string("a\0b", 3));
  expect_invalid(validate_graph(g), "services[0].args[0]", "NUL");
  s->clear_args();
  s->add_args(std::string(4097, 'x'));
  expect_invalid(validate_graph(g), "services[0].args[0]", "too long");
  s->clear_args();
  for (int i = 0; i < 257; ++i) s->add_args("x");
  expect_invalid(validate_graph(g), "services[0].args", "at most 256");
  s->clear_args();
  s->add_args("sh -c 'echo $HOME; ls'\n");  // argv is not run through a shell: allowed
  EXPECT_TRUE(validate_graph(g).ok());
}

TEST(GraphValidation, ChecksPortRangesNamesAndDuplicates) {
  auto g = graph_command({"api"});
  auto* s = g.mutable_services(0);
  *s->add_ports() = port(0);
  expect_invalid(validate_graph(g), "services[0].ports[0].container_port", "1-65535");
  s->mutable_ports(0)->set_container_port(65536);
  expect_invalid(validate_graph(g), "services[0].ports[0].container_port", "1-65535");
  s->mutable_ports(0)->set_container_port(8080);
  s->mutable_ports(0)->set_host_port(0);
  expect_invalid(validate_graph(g), "services[0].ports[0].host_port", "1-65535");
  s->mutable_ports(0)->set_host_port(70000);
  expect_invalid(validate_graph(g), "services[0].ports[0].host_port", "1-65535");
  s->mutable_ports(0)->set_host_port(8080);
  *s->add_ports() = port(8080, {}, "", v1::PORT_PROTOCOL_HTTP);  // TCP again
  expect_invalid(validate_graph(g), "services[0].ports[1].container_port", "8080/tcp twice");
  s->mutable_ports(1)->set_protocol(v1::PORT_PROTOCOL_UDP);  // same number, other transport
  EXPECT_TRUE(validate_graph(g).ok());
  s->mutable_ports(1)->set_name("Bad Name");
  expect_invalid(validate_graph(g), "services[0].ports[1].name", "not a DNS label");
  s->mutable_ports(0)->set_name("http");
  s->mutable_ports(1)->set_name("http");
  expect_invalid(validate_graph(g), "services[0].ports[1].name", "used twice");
  s->mutable_ports(1)->set_name("dns");
  s->mutable_ports(1)->set_protocol(static_cast<v1::PortProtocol>(42));
  expect_invalid(validate_graph(g), "services[0].ports[1].protocol", "unknown");
}

TEST(GraphValidation, RefusesAHostPortClaimedTwice) {
  auto g = graph_command({"api", "web"});
  *g.mutable_services(0)->add_ports() = port(8080, 80);
  *g.mutable_services(1)->add_ports() = port(3000, 80);
  expect_invalid(validate_graph(g), "services[1].ports[0].host_port",
                 "host port 80/tcp is claimed twice: by service 'api' and by service 'web'");
  g.mutable_services(1)->mutable_ports(0)->set_protocol(v1::PORT_PROTOCOL_UDP);
  EXPECT_TRUE(validate_graph(g).ok());  // 80/udp is another socket
  *g.mutable_services(0)->add_ports() = port(9090, 80, "", v1::PORT_PROTOCOL_GRPC);
  expect_invalid(validate_graph(g), "services[0].ports[1].host_port", "claimed twice");
}

TEST(GraphValidation, ChecksEnvNamesValuesAndCounts) {
  for (const std::string bad : {"1X", "A-B", "A B", "", "X;Y", "caf\xc3\xa9"}) {
    auto g = graph_command({"api"});
    (*g.mutable_services(0)->mutable_env())[bad] = "v";
    expect_invalid(validate_graph(g), "services[0].env[" + quote(bad) + "]", "env var name");
  }
  auto g = graph_command({"api"});
  auto& env = *g.mutable_services(0)->mutable_env();
  env["BIG"] = std::string(32 * 1024, 'x');
  EXPECT_TRUE(validate_graph(g).ok());
  env["BIG"] += "x";
  expect_invalid(validate_graph(g), "services[0].env['BIG']", "at most 32768");
  env["BIG"] = std::string("a\0b", 3);
  expect_invalid(validate_graph(g), "services[0].env['BIG']", "NUL");
  env.clear();
  for (int i = 0; i < 501; ++i) env["V" + std::to_string(i)] = "1";
  expect_invalid(validate_graph(g), "services[0].env", "at most 500");
}

TEST(GraphValidation, ChecksSecretsVolumesLabelsAndWorkingDir) {
  auto g = graph_command({"api"});
  auto* s = g.mutable_services(0);
  (*s->mutable_env())["TOKEN"] = "plain";
  auto* sec = s->add_secrets();
  sec->set_name("api-token");
  expect_invalid(validate_graph(g), "services[0].secrets[0]", "needs a target");
  sec->set_env_var("TOKEN");
  expect_invalid(validate_graph(g), "services[0].secrets[0].env_var", "set twice");
  sec->set_file_path("run/token");
  expect_invalid(validate_graph(g), "services[0].secrets[0].file_path", "absolute");
  sec->set_file_path("/run/secrets/token");
  auto* vol = s->add_volumes();
  vol->set_source("data");
  vol->set_target("data");
  expect_invalid(validate_graph(g), "services[0].volumes[0].target", "absolute");
  vol->set_target("/data");
  *s->add_volumes() = *vol;
  expect_invalid(validate_graph(g), "services[0].volumes[1].target", "two volumes");
  s->mutable_volumes()->RemoveLast();
  s->set_working_dir("app");
  expect_invalid(validate_graph(g), "services[0].working_dir", "absolute");
  s->set_working_dir("/app");
  (*s->mutable_labels())["team owner"] = "x";
  expect_invalid(validate_graph(g), "services[0].labels['team owner']", "label key");
  s->clear_labels();
  EXPECT_TRUE(validate_graph(g).ok());
}

TEST(GraphValidation, ChecksHealthChecks) {
  auto g = graph_command({"api"});
  auto* h = g.mutable_services(0)->mutable_health_check();
  expect_invalid(validate_graph(g), "services[0].health_check", "needs a probe");
  *h = http_check();
  EXPECT_TRUE(validate_graph(g).ok());
  h->mutable_http()->set_path("healthz");
  expect_invalid(validate_graph(g), "services[0].health_check.http.path", "start with '/'");
  h->mutable_http()->set_path("/health z");
  expect_invalid(validate_graph(g), "services[0].health_check.http.path", "whitespace");
  *h = http_check();
  h->mutable_http()->set_port(0);
  expect_invalid(validate_graph(g), "services[0].health_check.http.port", "1-65535");
  *h = http_check();
  h->clear_interval();
  expect_invalid(validate_graph(g), "services[0].health_check.interval", "greater than zero");
  *h = http_check();
  h->mutable_timeout()->set_seconds(-1);
  expect_invalid(validate_graph(g), "services[0].health_check.timeout", "negative");
  *h = http_check();
  h->mutable_timeout()->set_seconds(10);
  h->mutable_timeout()->set_nanos(1);
  expect_invalid(validate_graph(g), "services[0].health_check.timeout", "must not exceed");
  *h = http_check();
  h->set_healthy_threshold(0);
  expect_invalid(validate_graph(g), "services[0].health_check.healthy_threshold", "1-100");
  *h = http_check();
  h->set_unhealthy_threshold(0);
  expect_invalid(validate_graph(g), "services[0].health_check.unhealthy_threshold", "1-100");
  *h = http_check();
  h->mutable_tcp()->set_port(70000);
  expect_invalid(validate_graph(g), "services[0].health_check.tcp.port", "1-65535");
  h->mutable_exec();
  expect_invalid(validate_graph(g), "services[0].health_check.exec.argv", "needs a command");
  h->mutable_exec()->add_argv("pg_isready");
  EXPECT_TRUE(validate_graph(g).ok());
}

TEST(GraphValidation, ChecksReplicasResourcesAndRestartPolicy) {
  auto g = graph_command({"api"});
  auto* s = g.mutable_services(0);
  s->set_replicas(100);
  EXPECT_TRUE(validate_graph(g).ok());
  s->set_replicas(101);
  expect_invalid(validate_graph(g), "services[0].replicas", "0-100");
  s->set_replicas(0);
  s->mutable_resources()->set_cpu_millis(2'000'000);
  expect_invalid(validate_graph(g), "services[0].resources.cpu_millis", "exceeds");
  s->clear_resources();
  s->set_restart_policy(static_cast<v1::RestartPolicy>(9));
  expect_invalid(validate_graph(g), "services[0].restart_policy", "unknown");
}

}  // namespace
}  // namespace axion::commands
