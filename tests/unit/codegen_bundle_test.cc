// codegen/artifacts: content addressing of artifacts and of the bundle a deployment records.
#include <gtest/gtest.h>

#include "codegen/artifacts.h"

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
