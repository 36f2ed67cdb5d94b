// The ViewStore implementations the contract suite runs against, and rows with real read
// models as docs, shared by the view store tests.
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>

#include "infra/postgres/migrations.h"
#include "infra/postgres/view_store.h"
#include "infra/rocksdb/view_store.h"
#include "projections/memory_view_store.h"
#include "tests/integration/log_backends.h"
#include "tests/integration/view_store_contract.h"

namespace axion::testing {

Result<std::string> database_url() {
  const char* url = std::getenv("DATABASE_URL");
  if (!url || !*url) {
    return failed_precondition(
        "DATABASE_URL is not set: run scripts/test, or scripts/postgres start and export the "
        "DATABASE_URL it prints");
  }
  return std::string(url);
}

std::string unique_schema(const std::string& prefix) {
  std::string name = unique_name(prefix);
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::vector<ViewStoreBackend> all_view_store_backends() {
  std::vector<ViewStoreBackend> out;
  out.push_back({"memory", false, [] { return std::string(); },
                 [](const std::string&) -> Result<std::unique_ptr<ViewStore>> {
                   return projections::make_memory_view_store();
                 },
                 nullptr});
  out.push_back({"rocksdb", true, [] { return scratch_dir("views"); },
                 [](const std::string& dir) { return infra::rocksdb::open_rocks_view_store(dir); },
                 nullptr});
  out.push_back({"postgres", true, [] { return unique_schema("vs"); },
                 [](const std::string& schema) -> Result<std::unique_ptr<ViewStore>> {
                   auto url = database_url();
                   if (!url.ok()) return url.status();
                   infra::postgres::PostgresConfig config;
                   config.url = *url;
                   config.schema = schema;
                   return infra::postgres::open_postgres_view_store(config);
                 },
                 [](const std::string& schema) {
                   auto url = database_url();
                   if (!url.ok()) return;
                   const Status s = infra::postgres::drop_postgres_schema(*url, schema);
                   EXPECT_TRUE(s.ok()) << s.to_string();
                 }});
  return out;
}

Row deployment_row(const std::string& id, const std::string& project, const std::string& env,
                   v1::DeploymentStatus status, std::int64_t sort_key) {
  v1::Deployment d;
  d.set_deployment_id(id);
  d.set_project_id(project);
  d.set_environment(env);
  d.set_status(status);
  d.set_graph_version(3);
  d.set_requested_by("alice");
  auto* service = d.add_services();
  service->set_service("api");
  service->set_status(v1::SERVICE_STATUS_HEALTHY);
  service->set_desired_replicas(2);
  d.mutable_options()->set_cluster_id("cluster-1");
  d.mutable_strategy()->mutable_rolling()->set_batch_size(1);
  *d.mutable_created_at() = google::protobuf::util::TimeUtil::MillisecondsToTimestamp(sort_key);
  *d.mutable_updated_at() = d.created_at();
  Row row;
  row.table = Table::kDeployments;
  row.key = id;
  row.index.project_id = project;
  row.index.environment = env;
  row.index.status = status;
  row.index.sort_key = sort_key;
  row.doc = d.SerializeAsString();
  return row;
}

Row server_row(const std::string& id, const std::string& cluster, std::int64_t sort_key) {
  v1::Server s;
  s.set_server_id(id);
  s.set_cluster_id(cluster);
  s.set_name("web-" + id);
  s.set_host("10.0.0.1");
  s.set_status(v1::SERVER_STATUS_READY);
  s.set_agent_status(v1::AGENT_STATUS_ONLINE);
  (*s.mutable_labels())["zone"] = "eu-1";
  Row row;
  row.table = Table::kServers;
  row.key = id;
  row.index.cluster_id = cluster;
  row.index.sort_key = sort_key;
  row.doc = s.SerializeAsString();
  return row;
}

Row audit_row(const std::string& project, std::uint64_t sequence) {
  v1::AuditEntry a;
  a.set_project_id(project);
  a.set_event_id("event-" + std::to_string(sequence));
  a.set_type("axion.v1.DeploymentRequested");
  a.set_sequence(sequence);
  a.set_actor("alice");
  a.set_summary("deployment requested");
  char key[32];
  std::snprintf(key, sizeof key, "%020llu", static_cast<unsigned long long>(sequence));
  Row row;
  row.table = Table::kAudit;
  row.key = project + "/" + key;
  row.index.project_id = project;
  row.index.sort_key = static_cast<std::int64_t>(sequence);
  row.doc = a.SerializeAsString();
  return row;
}

Row project_row(const std::string& id, std::int64_t sort_key) {
  v1::Project p;
  p.set_project_id(id);
  p.set_name("name-" + id);
  p.set_owner("team");
  Row row;
  row.table = Table::kProjects;
  row.key = id;
  row.index.sort_key = sort_key;
  row.doc = p.SerializeAsString();
  return row;
}

}  // namespace axion::testing
