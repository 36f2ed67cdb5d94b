// codegen/artifacts and codegen/generate: content addressing of artifacts and of the bundle a
// deployment records, and the hashes by role of everything generated for one graph.
#include <gtest/gtest.h>

#include "codegen/artifacts.h"
#include "codegen/generate.h"
#include "commands/graph_validation.h"
#include "tests/unit/codegen_graphs.h"

namespace axion::codegen {
namespace {

TEST(CodegenBundle, ArtifactsAreAddressedByTheirContent) {
  const auto a = make_artifact("docker-compose.yml", "services: {}\n");
  EXPECT_EQ(a.sha256.size(), 64u);
  EXPECT_EQ(a.sha256, make_artifact("other.yml", "services: {}\n").sha256);
  EXPECT_NE(a.sha256, make_artifact("docker-compose.yml", "services: {}\n\n").sha256);
  // SHA-256 of the empty string, as every implementation has it.
  EXPECT_EQ(make_artifact("empty", "").sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(CodegenBundle, TheBundleHashIgnoresOrderButNotPathsOrContent) {
  const auto one = make_bundle({make_artifact("b.yaml", "b"), make_artifact("a.yaml", "a")});
  const auto two = make_bundle({make_artifact("a.yaml", "a"), make_artifact("b.yaml", "b")});
  EXPECT_EQ(one.hash, two.hash);
  ASSERT_EQ(one.artifacts.size(), 2u);
  EXPECT_EQ(one.artifacts[0].path, "a.yaml");
  EXPECT_NE(one.hash,
            make_bundle({make_artifact("a.yaml", "a"), make_artifact("c.yaml", "b")}).hash);
  EXPECT_NE(one.hash,
            make_bundle({make_artifact("a.yaml", "a"), make_artifact("b.yaml", "B")}).hash);
}

}  // namespace
}  // namespace axion::codegen

namespace axion::codegen {
namespace {

TEST(CodegenDeployment, TheSharedGraphIsOneAPublishWouldAccept) {
  const auto valid = commands::validate_graph(testing_graphs::shop_graph());
  EXPECT_TRUE(valid.ok()) << valid.to_string();
}

TEST(CodegenDeployment, OneBundleAndTheHashesByRole) {
  const auto graph = testing_graphs::shop_graph();
  const auto out = generate_deployment(graph, {});
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  const auto& config = out->config;
  EXPECT_EQ(config.generator_version(), kGeneratorVersion);
  EXPECT_EQ(config.compose_hash(), generate_compose(graph)->sha256);
  ASSERT_EQ(config.dockerfile_hashes().size(), 1u);  // api is built; web and worker are images
  EXPECT_EQ(config.dockerfile_hashes().at("api").size(), 64u);
  EXPECT_EQ(config.k8s_manifest_hashes().size(), 3u);  // one file per service
  EXPECT_TRUE(config.k8s_manifest_hashes().count("k8s/api.yaml"));
  // Every artifact is in the bundle, in path order, under the hash its role records.
  ASSERT_EQ(out->bundle.artifacts.size(), 1u + 1u + 3u);
  EXPECT_EQ(out->bundle.artifacts[0].path, "api/Dockerfile.axion-api");
  EXPECT_EQ(out->bundle.artifacts[0].sha256, config.dockerfile_hashes().at("api"));
  EXPECT_EQ(generate_deployment(graph, {})->bundle.hash, out->bundle.hash);
  // Built images are tagged alike in compose and Kubernetes.
  const std::string tag = build_image_tag(graph, "api", "axion.local");
  for (const auto& a : out->bundle.artifacts) {
    if (a.path == "docker-compose.yml" || a.path == "k8s/api.yaml") {
      EXPECT_NE(a.content.find(tag), std::string::npos) << a.path;
    }
  }
}

TEST(CodegenDeployment, KubernetesCanBeLeftOutForWhatItCannotRun) {
  auto graph = testing_graphs::shop_graph();
  graph.mutable_services(2)->set_restart_policy(axion::v1::RESTART_POLICY_NO);
  const auto refused = generate_deployment(graph, {});
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("worker"), std::string::npos)
      << refused.status().message();
  EXPECT_NE(refused.status().message().find("restart"), std::string::npos)
      << refused.status().message();
  GenerateOptions without;
  without.kubernetes = false;
  const auto out = generate_deployment(graph, without);
  ASSERT_TRUE(out.ok()) << out.status().to_string();
  EXPECT_TRUE(out->config.k8s_manifest_hashes().empty());
  EXPECT_EQ(out->bundle.artifacts.size(), 2u);
}

}  // namespace
}  // namespace axion::codegen
