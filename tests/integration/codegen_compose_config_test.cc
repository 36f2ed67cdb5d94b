// The generated docker-compose.yml checked by docker-compose itself (`docker-compose config`,
// Debian's v1, which needs no Docker engine for this): the shop graph with hostile strings in
// its env, arguments and labels is accepted, and compose reads back exactly the values the graph
// holds — no interpolation, no extra keys, no lost service.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>

#include "agent/command.h"
#include "codegen/compose.h"
#include "codegen/dockerfile.h"
#include "tests/integration/log_backends.h"
#include "tests/unit/codegen_graphs.h"

namespace axion::codegen {
namespace {

using testing_graphs::hostile_values;
using testing_graphs::shop_graph;

class ComposeConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testing::scratch_dir("codegen-compose"); }
  void TearDown() override { testing::remove_scratch_dir(dir_); }

  // Writes the artifacts (compose file, Dockerfiles, build contexts) and runs
  // `docker-compose -f docker-compose.yml config`.
  agent::CommandResult config_of(const axion::v1::GraphVersion& graph) {
    auto compose = generate_compose(graph);
    EXPECT_TRUE(compose.ok()) << compose.status().to_string();
    auto dockerfiles = generate_dockerfiles(graph);
    EXPECT_TRUE(dockerfiles.ok()) << dockerfiles.status().to_string();
    if (!compose.ok() || !dockerfiles.ok()) return {};
    for (const auto& s : graph.services()) {
      if (s.has_build()) std::filesystem::create_directories(dir_ + "/" + s.build().context());
    }
    std::vector<Artifact> all = *dockerfiles;
    all.push_back(*compose);
    for (const auto& a : all) std::ofstream(dir_ + "/" + a.path) << a.content;
    yaml_ = compose->content;
    agent::CommandSpec spec;
    spec.argv = {"docker-compose", "-f", dir_ + "/docker-compose.yml", "config"};
    spec.workdir = dir_;
    spec.timeout = std::chrono::seconds(60);
    spec.max_output = 4 * 1024 * 1024;
    return agent::run_command(spec);
  }

  std::string dir_, yaml_;
};

TEST_F(ComposeConfigTest, DockerComposeAcceptsTheShopAndReadsTheValuesBack) {
  auto graph = shop_graph();
  auto* web = graph.mutable_services(0);
  const auto values = hostile_values();
  for (std::size_t i = 0; i < values.size(); ++i) {
    (*web->mutable_env())["V" + std::to_string(i)] = values[i];
    web->add_args(values[i].empty() ? "-" : values[i]);
  }
  (*web->mutable_labels())["note"] = "$(id) \"quoted\"\nsecond line";
  const auto result = config_of(graph);
  ASSERT_EQ(result.outcome, agent::CommandResult::Outcome::kExited)
      << result.spawn_error << " (docker-compose comes with scripts/install-deps --test)";
  ASSERT_EQ(result.exit_code, 0) << result.err << "\n--- the file ---\n" << yaml_;

  const auto doc = YAML::Load(result.out);
  const auto services = doc["services"];
  ASSERT_EQ(services.size(), 3u) << result.out;
  const auto env = services["web"]["environment"];
  for (std::size_t i = 0; i < values.size(); ++i) {
    // `config` prints values as compose will use them; a literal `$` is printed as `$$`.
    std::string expected;
    for (char c : values[i]) expected += c == '$' ? std::string("$$") : std::string(1, c);
    EXPECT_EQ(env["V" + std::to_string(i)].as<std::string>(), expected) << values[i];
  }
  EXPECT_EQ(services["web"]["labels"]["note"].as<std::string>(), "$$(id) \"quoted\"\nsecond line");
  EXPECT_EQ(services["api"]["depends_on"]["worker"]["condition"].as<std::string>(),
            "service_started");
  EXPECT_EQ(services["web"]["depends_on"]["api"]["condition"].as<std::string>(), "service_healthy");
  EXPECT_EQ(services["api"]["build"]["dockerfile"].as<std::string>(), "Dockerfile.axion-api");
  EXPECT_TRUE(doc["networks"]["to-api"]) << result.out;
  EXPECT_TRUE(doc["volumes"]["worker-data"]) << result.out;
}

}  // namespace
}  // namespace axion::codegen
