// A deployment through the compose runtime (tests/e2e/deployment_fixture.h), on the Docker
// engine scripts/test starts: the generated compose file applied by a real agent, updated in
// place, and put back when the next release's health check fails.
#include "tests/e2e/deployment_fixture.h"
#include "tests/support/compose_project.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;

class ComposeDeploymentE2E : public DeploymentE2E {
 protected:
  // api and web from the local test image (busybox httpd serving $VERSION); web published on
  // front_; `health_path` is web's check.
  void publish_compose(const std::string& version, const std::string& health_path = "/healthz") {
    v1::PublishGraphRequest req;
    for (const std::string name : {"api", "web"}) {
      auto* s = req.add_services();
      s->set_name(name);
      s->set_image("axion-test/web:1");
      (*s->mutable_env())["VERSION"] = marker_ + "-" + version;
      auto* p = s->add_ports();
      p->set_name("http");
      p->set_container_port(8080);
      if (name == "web") p->set_host_port(static_cast<std::uint32_t>(front_));
      auto* check = s->mutable_health_check();
      check->mutable_http()->set_path(name == "web" ? health_path : "/healthz");
      check->mutable_http()->set_port(8080);
      check->mutable_interval()->set_seconds(1);
      check->mutable_timeout()->set_seconds(1);
      check->set_healthy_threshold(1);
      check->set_unhealthy_threshold(2);
    }
    ASSERT_GT(send_graph(req), 0u);
  }
};

TEST_F(ComposeDeploymentE2E, DeploysUpdatesAndRestoresTheProjectOnADockerEngine) {
  const char* docker_host = std::getenv("DOCKER_HOST");
  if (docker_host == nullptr || *docker_host == '\0') {
    const char* require = std::getenv("AXION_REQUIRE_DOCKER");
    if (require != nullptr && std::string(require) == "1")
      FAIL() << "AXION_REQUIRE_DOCKER=1 but DOCKER_HOST is not set";
    GTEST_SKIP() << "no Docker engine: start scripts/docker-engine and export DOCKER_HOST";
  }
  const std::string env = "c" + std::to_string(getpid()) + "x" + std::to_string(front_);
  struct Cleanup {
    std::string project;
    ~Cleanup() { remove_compose_project(project); }
  } cleanup{"shop-" + env};
  v1::DeployOptions compose;
  compose.set_runtime("compose");

  publish_compose("v1");
  const auto first = wait_end(deploy({}, compose, env), milliseconds(180000));
  ASSERT_EQ(first.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << first.ShortDebugString();
  EXPECT_FALSE(first.config().compose_hash().empty());
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v1"));

  publish_compose("v2");
  const auto second = wait_end(deploy({}, compose, env), milliseconds(180000));
  ASSERT_EQ(second.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << second.ShortDebugString();
  EXPECT_TRUE(
      eventually([&] { return front_get(front_).find(marker_ + "-v2") != std::string::npos; }));
  // One server runs the whole project, the same one both times.
  EXPECT_EQ(second.placement().at("web").server_ids(0), first.placement().at("web").server_ids(0));
  EXPECT_EQ(second.placement().at("api").server_ids(0), first.placement().at("web").server_ids(0));

  publish_compose("v3", "/no-such-page");
  const auto third = wait_end(deploy({}, compose, env), milliseconds(180000));
  ASSERT_EQ(third.status(), v1::DEPLOYMENT_STATUS_FAILED) << third.ShortDebugString();
  EXPECT_EQ(third.failure().step_kind(), v1::STEP_KIND_COMPOSE_APPLY);
  EXPECT_FALSE(third.failure().reason().empty());
  // v2's file is back: v2 serves again.
  EXPECT_TRUE(
      eventually([&] { return front_get(front_).find(marker_ + "-v2") != std::string::npos; },
                 milliseconds(60000)))
      << front_get(front_);
}

}  // namespace
}  // namespace axion::testing
