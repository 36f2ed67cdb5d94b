// axion.yaml (cli/project_file.h): a project as people write it becomes PublishGraph's services
// and edges; every mistake names the file, line, column and field.
#include "cli/project_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace axion::cli {
namespace {

namespace v1 = axion::v1;
using ::testing::HasSubstr;

constexpr char kShop[] = R"(project: shop
services:
  api:
    command: [api-server, --listen, "0.0.0.0"]
    ports:
      - {name: http, port: 8080, protocol: http}
      - {name: admin, port: 9090}
    env: {LOG_LEVEL: info, "EMPTY": ""}
    health: {http: /healthz, port: http, interval: 2s, timeout: 500ms, start_period: 1m,
             healthy_threshold: 1, unhealthy_threshold: 3}
    resources: {cpu: 250m, memory: 128Mi, disk: 1Gi}
    replicas: 2
    restart: always
    depends_on: [db]
  db:
    image: postgres:15
    ports: [{port: 5432}]
    health: {tcp: true}
    volumes: [{source: pgdata, target: /var/lib/postgresql/data}]
    secrets: [{name: db, key: password, env: POSTGRES_PASSWORD}]
  web:
    build: {context: web, dockerfile: Dockerfile.prod, args: {NODE_ENV: production}}
    ports: [{name: http, port: 3000, publish: 80, protocol: http}]
    calls: ["api:http", {service: db}]
    resources: {cpu: 1.5}
)";

TEST(ProjectFile, ReadsEveryFieldAndMakesTheEdges) {
  auto p = parse_project_file(kShop, "axion.yaml");
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->project, "shop");
  ASSERT_EQ(p->services.size(), 3u);
  const v1::Service& api = p->services[0];
  EXPECT_EQ(api.name(), "api");  // file order
  EXPECT_THAT(api.command(), ::testing::ElementsAre("api-server", "--listen", "0.0.0.0"));
  ASSERT_EQ(api.ports_size(), 2);
  EXPECT_EQ(api.ports(0).protocol(), v1::PORT_PROTOCOL_HTTP);
  EXPECT_FALSE(api.ports(0).has_host_port());
  EXPECT_EQ(api.ports(1).protocol(), v1::PORT_PROTOCOL_TCP);
  EXPECT_EQ(api.env().at("LOG_LEVEL"), "info");
  EXPECT_EQ(api.env().at("EMPTY"), "");
  EXPECT_EQ(api.health_check().http().path(), "/healthz");
  EXPECT_EQ(api.health_check().http().port(), 8080u);
  EXPECT_EQ(api.health_check().interval().seconds(), 2);
  EXPECT_EQ(api.health_check().timeout().nanos(), 500000000);
  EXPECT_EQ(api.health_check().start_period().seconds(), 60);
  EXPECT_EQ(api.health_check().unhealthy_threshold(), 3u);
  EXPECT_EQ(api.resources().cpu_millis(), 250u);
  EXPECT_EQ(api.resources().memory_mb(), 128u);
  EXPECT_EQ(api.resources().disk_mb(), 1024u);
  EXPECT_EQ(api.replicas(), 2u);
  EXPECT_EQ(api.restart_policy(), v1::RESTART_POLICY_ALWAYS);

  const v1::Service& db = p->services[1];
  EXPECT_EQ(db.image(), "postgres:15");
  EXPECT_EQ(db.ports(0).name(), "port-5432");
  EXPECT_EQ(db.health_check().tcp().port(), 5432u);
  EXPECT_EQ(db.health_check().interval().seconds(), 5);  // the defaults
  EXPECT_EQ(db.health_check().timeout().seconds(), 2);
  EXPECT_EQ(db.volumes(0).target(), "/var/lib/postgresql/data");
  EXPECT_EQ(db.secrets(0).env_var(), "POSTGRES_PASSWORD");

  const v1::Service& web = p->services[2];
  EXPECT_EQ(web.build().context(), "web");
  EXPECT_EQ(web.build().args().at("NODE_ENV"), "production");
  EXPECT_EQ(web.ports(0).host_port(), 80u);
  EXPECT_EQ(web.resources().cpu_millis(), 1500u);

  ASSERT_EQ(p->edges.size(), 3u);
  EXPECT_EQ(p->edges[0].from_service(), "api");
  EXPECT_EQ(p->edges[0].to_service(), "db");
  EXPECT_EQ(p->edges[0].kind(), v1::EDGE_KIND_START_ORDER);
  EXPECT_EQ(p->edges[1].to_service(), "api");
  EXPECT_EQ(p->edges[1].kind(), v1::EDGE_KIND_TRAFFIC);
  EXPECT_EQ(p->edges[1].port(), 8080u);
  EXPECT_EQ(p->edges[2].to_service(), "db");
  EXPECT_EQ(p->edges[2].port(), 5432u);  // its only port
}

struct Bad {
  std::string yaml;
  std::string where;  // "file:line:column: field"
  std::string what;
};

TEST(ProjectFile, MistakesNameTheLineTheColumnAndTheField) {
  const std::vector<Bad> cases = {
      {"project: x\nservices:\n  a:\n    ports: [{port: 70000}]\n",
       "axion.yaml:4:20: services.a.ports[0].port", "must be 1..65535, got 70000"},
      {"project: x\nservices:\n  a:\n    imgae: nginx\n", "axion.yaml:4:5: services.a.imgae",
       "unknown key"},
      {"project: x\nservices:\n  a:\n    calls: [b]\n", "axion.yaml:4:13: services.a.calls[0]",
       "no service is named 'b'"},
      {"project: x\nservices:\n  a:\n    ports: [{port: 1}, {port: 2}]\n  b:\n    calls: [a]\n",
       "axion.yaml:6:13: services.b.calls[0]", "has 2 ports: name the one called"},
      {"project: x\nservices:\n  a:\n    health: {http: /, port: web}\n    ports: [{port: 80}]\n",
       "services.a.health.port", "has no port 'web'"},
      {"project: x\nservices:\n  a:\n    health: {interval: 2s}\n", "services.a.health",
       "needs exactly one of http"},
      {"project: x\nservices:\n  a:\n    health: {exec: [true], interval: soon}\n",
       "services.a.health.interval", "must be a duration"},
      {"project: x\nservices:\n  a:\n    resources: {memory: lots}\n",
       "services.a.resources.memory", "must be a size"},
      {"project: x\nservices:\n  a:\n    command: ./run --fast\n", "services.a.command",
       "must be a list"},
      {"project: x\nservices:\n  a:\n    image: x\n    build: .\n", "services.a",
       "both image and build"},
      {"project: x\nservices:\n  a:\n    replicas: 0\n", "services.a.replicas", "must be 1..1000"},
      {"project: x\nservices: {}\n", "services", "needs at least one service"},
      {"services:\n  a: {}\n", "project", "is missing"},
      {"project: x\nservices:\n  a: {ports: [\n", "axion.yaml:", "not valid YAML"},
  };
  for (const auto& c : cases) {
    auto p = parse_project_file(c.yaml, "axion.yaml");
    ASSERT_FALSE(p.ok()) << c.yaml;
    EXPECT_EQ(p.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(p.status().message(), HasSubstr(c.where)) << c.yaml;
    EXPECT_THAT(p.status().message(), HasSubstr(c.what)) << c.yaml;
  }
}

}  // namespace
}  // namespace axion::cli
