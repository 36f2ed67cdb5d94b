// The axion CLI end to end (tests/e2e/cli_fixture.h): the real `axion` against a real
// axion-server and two agents running the example project (examples/shop): publish and list,
// deploy --watch and the shop answering over HTTP, a canary v2 then a rollback, and the exit
// code 4 of a watched deployment that fails or is cancelled.
#include <yaml-cpp/yaml.h>

#include "tests/e2e/cli_fixture.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kV1 = "web v1 -> api v1 -> worker v1\n";
constexpr const char* kV2 = "web v2 -> api v1 -> worker v1\n";

TEST_F(CliE2E, PublishedProjectIsListedAsJsonAndAsYaml) {
  const auto published = axion({"project", "publish", "-f", v1_file_, "-o", "json"});
  ASSERT_EQ(published.exit, 0) << published.said();
  EXPECT_EQ(json_of(published).value("graphVersion", ""), "1") << published.said();

  const auto listed = axion({"project", "list", "-o", "json"});
  ASSERT_EQ(listed.exit, 0) << listed.said();
  const auto projects = json_of(listed)["projects"];
  ASSERT_TRUE(projects.is_array()) << listed.said();
  bool found = false;
  for (const auto& p : projects) {
    if (p.value("name", "") != "shop") continue;
    found = true;
    EXPECT_EQ(p.value("projectId", ""), project_id_);
    EXPECT_EQ(p.value("latestGraphVersion", ""), "1");
  }
  EXPECT_TRUE(found) << listed.said();

  const auto as_yaml = axion({"project", "list", "-o", "yaml"});
  ASSERT_EQ(as_yaml.exit, 0) << as_yaml.said();
  YAML::Node doc;
  ASSERT_NO_THROW(doc = YAML::Load(as_yaml.out)) << as_yaml.said();
  ASSERT_TRUE(doc["projects"].IsSequence()) << as_yaml.said();
  std::vector<std::string> names;
  for (const auto& p : doc["projects"]) names.push_back(p["name"].as<std::string>());
  EXPECT_THAT(names, ::testing::Contains("shop")) << as_yaml.said();
}

TEST_F(CliE2E, DeployWatchSucceedsTheShopAnswersAndStatusAndHistoryShowIt) {
  ASSERT_NO_FATAL_FAILURE(publish_file(v1_file_));
  const auto deployed = deploy_watch("shop");
  ASSERT_EQ(deployed.run.exit, 0) << deployed.run.said() << "\nserver log:\n" << server_->log();
  ASSERT_FALSE(deployed.id.empty()) << deployed.run.said();
  EXPECT_EQ(front_get(web_port_), kV1);

  const auto status = axion({"status", deployed.id, "-o", "json"});
  ASSERT_EQ(status.exit, 0) << status.said();
  const auto d = json_of(status);
  EXPECT_EQ(d.value("deploymentId", ""), deployed.id);
  EXPECT_EQ(d.value("status", ""), "DEPLOYMENT_STATUS_SUCCESS") << status.said();
  std::vector<std::string> services;
  for (const auto& s : d["services"]) {
    services.push_back(s.value("service", ""));
    EXPECT_EQ(s.value("status", ""), "SERVICE_STATUS_HEALTHY") << s.dump();
  }
  EXPECT_THAT(services, ::testing::UnorderedElementsAre("web", "api", "worker"));

  const auto history = axion({"history", "-p", "shop", "-o", "json"});
  ASSERT_EQ(history.exit, 0) << history.said();
  const auto list = json_of(history)["deployments"];
  ASSERT_TRUE(list.is_array() && list.size() == 1u) << history.said();
  EXPECT_EQ(list[0].value("deploymentId", ""), deployed.id);
  EXPECT_EQ(list[0].value("environment", ""), "demo");
  EXPECT_EQ(list[0].value("status", ""), "DEPLOYMENT_STATUS_SUCCESS");
}

TEST_F(CliE2E, CanaryV2ThenRollbackWatchServesV1Again) {
  ASSERT_NO_FATAL_FAILURE(publish_file(v1_file_));
  ASSERT_EQ(deploy_watch("shop").run.exit, 0);
  ASSERT_EQ(front_get(web_port_), kV1);

  ASSERT_NO_FATAL_FAILURE(publish_file(v2_file_));
  const auto canary = deploy_watch("shop", {"--strategy", "canary"});
  ASSERT_EQ(canary.run.exit, 0) << canary.run.said() << "\nserver log:\n" << server_->log();
  EXPECT_EQ(json_of(canary.run).value("graphVersion", ""), "2");
  EXPECT_EQ(front_get(web_port_), kV2);

  const auto rollback = axion({"rollback", canary.id, "--watch", "-o", "json"});
  ASSERT_EQ(rollback.exit, 0) << rollback.said() << "\nserver log:\n" << server_->log();
  const auto done = json_of(rollback);
  EXPECT_EQ(done.value("status", ""), "DEPLOYMENT_STATUS_SUCCESS") << rollback.said();
  EXPECT_EQ(done.value("rollbackOf", ""), canary.id) << rollback.said();
  EXPECT_EQ(done.value("graphVersion", ""), "1") << rollback.said();
  EXPECT_EQ(front_get(web_port_), kV1);
}

TEST_F(CliE2E, AWatchedDeploymentThatFailsExitsFourAndSaysWhy) {
  const int port = free_port();
  ASSERT_NO_FATAL_FAILURE(publish_file(one_service_project(
      "flaky", port, "{http: /missing, interval: 200ms, timeout: 200ms, unhealthy_threshold: 2}")));
  const auto watched = axion({"deploy", "-p", "flaky", "-e", "demo", "--watch"});
  EXPECT_EQ(watched.exit, 4) << watched.said();
  EXPECT_THAT(watched.out, HasSubstr("FAILED")) << watched.said();
  EXPECT_THAT(watched.out, HasSubstr("failed: ")) << watched.said();
  const std::string id = headline_id(watched.out);
  ASSERT_FALSE(id.empty()) << watched.said();
  EXPECT_THAT(watched.err, HasSubstr("deployment " + id + " ended FAILED")) << watched.said();

  const auto status = axion({"status", id, "-o", "json"});
  ASSERT_EQ(status.exit, 0) << status.said();
  const auto d = json_of(status);
  EXPECT_EQ(d.value("status", ""), "DEPLOYMENT_STATUS_FAILED") << status.said();
  EXPECT_EQ(d["failure"].value("service", ""), "web") << status.said();
}

TEST_F(CliE2E, CancelWhileAnotherCommandWatchesMakesTheWatchExitFour) {
  const int port = free_port();
  // Probes do not count during the start period: web stays unhealthy without failing.
  ASSERT_NO_FATAL_FAILURE(
      publish_file(one_service_project("slow", port, "{http: /missing, start_period: 600s}")));
  CliProcess watcher({"deploy", "-p", "slow", "-e", "demo", "--watch"}, cli_env());
  std::string id;
  ASSERT_TRUE(eventually([&] {
    const std::string out = watcher.out();
    id = headline_id(out);
    return out.find("DEPLOYING") != std::string::npos;
  })) << watcher.out()
      << "\nserver log:\n"
      << server_->log();

  const auto cancelled = axion({"cancel", id, "--reason", "taking too long"});
  ASSERT_EQ(cancelled.exit, 0) << cancelled.said();
  EXPECT_THAT(cancelled.out, HasSubstr("cancelling deployment " + id));

  const auto watched = watcher.wait();
  EXPECT_EQ(watched.exit, 4) << watched.said();
  EXPECT_THAT(watched.out, HasSubstr("CANCELLED")) << watched.said();
  EXPECT_THAT(watched.err, HasSubstr("deployment " + id + " ended CANCELLED")) << watched.said();

  const auto status = axion({"status", id, "-o", "yaml"});
  ASSERT_EQ(status.exit, 0) << status.said();
  YAML::Node doc;
  ASSERT_NO_THROW(doc = YAML::Load(status.out)) << status.said();
  EXPECT_EQ(doc["status"].as<std::string>(""), "DEPLOYMENT_STATUS_CANCELLED") << status.said();
  EXPECT_EQ(doc["cancelReason"].as<std::string>(""), "taking too long") << status.said();
}

}  // namespace
}  // namespace axion::testing
