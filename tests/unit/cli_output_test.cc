// What `-o json|yaml|table` print (cli/output.*): every field present even when empty, the
// same document in YAML, aligned table columns.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <nlohmann/json.hpp>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/project.pb.h"
#include "cli/output.h"

namespace axion::cli {
namespace {

namespace v1 = axion::v1;

TEST(Output, JsonOfAnEmptyListStillHasTheList) {
  v1::ListProjectsResponse none;
  auto doc = nlohmann::json::parse(to_json(none));
  ASSERT_TRUE(doc.contains("projects")) << doc.dump();
  EXPECT_TRUE(doc["projects"].is_array());
  EXPECT_TRUE(doc["projects"].empty());
  EXPECT_EQ(doc["nextPageToken"], "");
}

TEST(Output, JsonNamesEnumsAndKeepsZeroValues) {
  v1::Deployment d;
  d.set_deployment_id("d-1");
  d.set_status(v1::DEPLOYMENT_STATUS_SUCCESS);
  auto* s = d.add_services();
  s->set_service("web");
  s->set_desired_replicas(2);
  auto doc = nlohmann::json::parse(to_json(d));
  EXPECT_EQ(doc["status"], "DEPLOYMENT_STATUS_SUCCESS");
  EXPECT_EQ(doc["weight"], 0);
  EXPECT_EQ(doc["services"][0]["healthyReplicas"], 0);
  EXPECT_EQ(doc["services"][0]["desiredReplicas"], 2);
}

TEST(Output, YamlIsTheSameDocument) {
  v1::ListProjectsResponse list;
  auto* p = list.add_projects();
  p->set_name("shop");
  p->set_latest_graph_version(3);
  YAML::Node doc = YAML::Load(to_yaml(list));
  ASSERT_TRUE(doc["projects"].IsSequence());
  EXPECT_EQ(doc["projects"][0]["name"].as<std::string>(), "shop");
  EXPECT_EQ(doc["projects"][0]["latestGraphVersion"].as<std::string>(), "3");
  EXPECT_TRUE(YAML::Load(to_yaml(v1::ListProjectsResponse{}))["projects"].IsSequence());
}

TEST(Output, TableColumnsAreAsWideAsTheirWidestCell) {
  Table t{{"NAME", "ID"}, {{"shop", "1"}, {"a", "12345"}}};
  EXPECT_EQ(t.render(), "NAME  ID\nshop  1\na     12345\n");
  EXPECT_EQ(render(Format::kTable, v1::ListProjectsResponse{}, t), t.render());
}

}  // namespace
}  // namespace axion::cli
