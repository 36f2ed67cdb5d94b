#include "infra/postgres/impl/view_columns.h"

#include <google/protobuf/util/time_util.h>

#include <map>

#include "axion/v1/audit.pb.h"
#include "axion/v1/deployment.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "axion/v1/project.pb.h"
#include "infra/postgres/impl/json.h"

namespace axion::infra::postgres::impl {

namespace {

using projections::Row;
using projections::Table;
using Values = std::vector<std::optional<std::string>>;

std::optional<std::string> text(const std::string& s) { return s; }
std::optional<std::string> number(std::int64_t v) { return std::to_string(v); }

std::optional<std::string> timestamp(const google::protobuf::Timestamp& ts) {
  if (ts.seconds() == 0 && ts.nanos() == 0) return std::nullopt;
  // Outside 0001-01-01 .. 9999-12-31 (what RFC 3339 and protobuf allow): not a time.
  if (ts.seconds() < -62135596800 || ts.seconds() > 253402300799 || ts.nanos() < 0 ||
      ts.nanos() > 999999999) {
    return std::nullopt;
  }
  return google::protobuf::util::TimeUtil::ToString(ts);
}

std::optional<std::string> json(const google::protobuf::Message& message) {
  return to_json(message);
}

std::optional<std::string> labels(const google::protobuf::Map<std::string, std::string>& map) {
  const std::map<std::string, std::string> sorted(map.begin(), map.end());
  std::string out = "{";
  for (const auto& [key, value] : sorted) {
    if (out.size() > 1) out.push_back(',');
    append_json_string(out, key);
    out.push_back(':');
    append_json_string(out, value);
  }
  out.push_back('}');
  return out;
}

// "DEPLOYMENT_STATUS_DEPLOYING" -> "DEPLOYING"; an unknown number stays a number.
std::optional<std::string> enum_name(const std::string& name, std::string_view prefix, int value) {
  if (name.empty()) return std::to_string(value);
  return name.starts_with(prefix) ? name.substr(prefix.size()) : name;
}

template <typename Message>
bool parse(const Row& row, Message& message) {
  return message.ParseFromString(row.doc);
}

Values projects(const Row& row) {
  v1::Project p;
  if (!parse(row, p)) return Values(7);
  return {text(p.name()),           text(p.owner()),   text(p.description()),
          text(p.repository_url()), labels(p.labels()), number(static_cast<std::int64_t>(p.latest_graph_version())),
          timestamp(p.created_at())};
}

Values graph_versions(const Row& row) {
  v1::GraphVersion g;
  if (!parse(row, g)) return Values(6);
  return {number(static_cast<std::int64_t>(g.version())), number(g.services_size()),
          text(g.commit_hash()),   text(g.content_hash()),
          text(g.published_by()),  timestamp(g.published_at())};
}

Values deployments(const Row& row) {
  Values out(12);
  out[0] = enum_name(v1::DeploymentStatus_Name(row.index.status), "DEPLOYMENT_STATUS_",
                     row.index.status);
  v1::Deployment d;
  if (!parse(row, d)) return out;
  std::string services = "[";
  for (const auto& s : d.services()) {
    if (services.size() > 1) services.push_back(',');
    services += json(s).value_or("null");
  }
  services.push_back(']');
  const auto strategy = json(d.strategy());
  const auto options = json(d.options());
  out[1] = number(static_cast<std::int64_t>(d.graph_version()));
  out[2] = services;
  out[3] = std::nullopt;  // env_vars: not in the Deployment read model
  if (strategy && options) out[4] = "{\"strategy\":" + *strategy + ",\"options\":" + *options + "}";
  out[5] = text(d.requested_by());
  out[6] = text(d.rollback_of());
  out[7] = text(d.superseded_by());
  out[8] = timestamp(d.created_at());   // started_at: when it was requested
  out[9] = timestamp(d.finished_at());  // completed_at
  out[10] = timestamp(d.created_at());
  out[11] = timestamp(d.updated_at());
  return out;
}

Values deployment_history(const Row& row) {
  Values out(4);
  google::protobuf::Timestamp created;
  created.set_seconds(row.index.sort_key / 1000);
  created.set_nanos(static_cast<std::int32_t>(row.index.sort_key % 1000) * 1000000);
  if (created.nanos() >= 0) out[3] = timestamp(created);
  v1::DeploymentSnapshot s;
  if (!parse(row, s)) return out;
  out[0] = text(s.deployment_id());
  out[1] = json(s);
  out[2] = s.has_graph() ? std::to_string(s.graph().version()) : std::optional<std::string>();
  return out;
}

Values clusters(const Row& row) {
  v1::Cluster c;
  if (!parse(row, c)) return Values(6);
  return {text(c.name()),
          enum_name(v1::ClusterKind_Name(c.kind()), "CLUSTER_KIND_", c.kind()),
          number(c.server_count()),
          labels(c.labels()),
          timestamp(c.created_at()),
          timestamp(c.updated_at())};
}

Values servers(const Row& row) {
  v1::Server s;
  if (!parse(row, s)) return Values(11);
  return {text(s.name()),
          text(s.host()),
          number(s.port() ? s.port() : 22),
          text(s.ssh_user()),
          enum_name(v1::ServerStatus_Name(s.status()), "SERVER_STATUS_", s.status()),
          enum_name(v1::AgentStatus_Name(s.agent_status()), "AGENT_STATUS_", s.agent_status()),
          text(s.agent_version()),
          labels(s.labels()),
          timestamp(s.last_seen_at()),
          timestamp(s.created_at()),
          timestamp(s.updated_at())};
}

Values audit(const Row& row) {
  v1::AuditEntry a;
  if (!parse(row, a)) return Values(9);
  return {text(a.event_id()),      text(a.type()),  text(a.aggregate_type()),
          text(a.aggregate_id()),  number(static_cast<std::int64_t>(a.sequence())),
          text(a.actor()),         text(a.correlation_id()), text(a.summary()),
          timestamp(a.occurred_at())};
}

const std::map<Table, ViewTable>& tables() {
  static const std::map<Table, ViewTable> kTables = [] {
    std::map<Table, ViewTable> t;
    t[Table::kProjects] = {Table::kProjects, "projects", "key",
                           {{"name", "text"}, {"owner", "text"}, {"description", "text"},
                            {"repository_url", "text"}, {"labels", "jsonb"},
                            {"latest_graph_version", "bigint"}, {"created_at", "timestamptz"}}};
    t[Table::kGraphVersions] = {Table::kGraphVersions, "graph_versions", "key",
                                {{"version", "bigint"}, {"service_count", "integer"},
                                 {"commit_hash", "text"}, {"content_hash", "text"},
                                 {"published_by", "text"}, {"published_at", "timestamptz"}}};
    t[Table::kDeployments] = {Table::kDeployments, "deployments", "id",
                              {{"status", "text"}, {"graph_version", "bigint"},
                               {"service_statuses", "jsonb"}, {"env_vars", "jsonb"},
                               {"config", "jsonb"}, {"requested_by", "text"},
                               {"rollback_of", "text"}, {"superseded_by", "text"},
                               {"started_at", "timestamptz"}, {"completed_at", "timestamptz"},
                               {"created_at", "timestamptz"}, {"updated_at", "timestamptz"}}};
    t[Table::kDeploymentHistory] = {Table::kDeploymentHistory, "deployment_history", "id",
                                    {{"deployment_id", "text"}, {"deployment_snapshot", "jsonb"},
                                     {"version", "text"}, {"created_at", "timestamptz"}}};
    t[Table::kClusters] = {Table::kClusters, "clusters", "key",
                           {{"name", "text"}, {"kind", "text"}, {"server_count", "integer"},
                            {"labels", "jsonb"}, {"created_at", "timestamptz"},
                            {"updated_at", "timestamptz"}}};
    t[Table::kServers] = {Table::kServers, "servers", "key",
                          {{"name", "text"}, {"host", "text"}, {"port", "integer"},
                           {"ssh_user", "text"}, {"status", "text"}, {"agent_status", "text"},
                           {"agent_version", "text"}, {"labels", "jsonb"},
                           {"last_seen_at", "timestamptz"}, {"created_at", "timestamptz"},
                           {"updated_at", "timestamptz"}}};
    t[Table::kAudit] = {Table::kAudit, "audit", "key",
                        {{"event_id", "text"}, {"type", "text"}, {"aggregate_type", "text"},
                         {"aggregate_id", "text"}, {"sequence", "bigint"}, {"actor", "text"},
                         {"correlation_id", "text"}, {"summary", "text"},
                         {"occurred_at", "timestamptz"}}};
    t[Table::kInternal] = {Table::kInternal, "internal", "key", {}};
    return t;
  }();
  return kTables;
}

}  // namespace

const ViewTable& view_table(Table table) { return tables().at(table); }

std::vector<std::optional<std::string>> derive_columns(const Row& row) {
  switch (row.table) {
    case Table::kProjects: return projects(row);
    case Table::kGraphVersions: return graph_versions(row);
    case Table::kDeployments: return deployments(row);
    case Table::kDeploymentHistory: return deployment_history(row);
    case Table::kClusters: return clusters(row);
    case Table::kServers: return servers(row);
    case Table::kAudit: return audit(row);
    case Table::kInternal: return {};
  }
  return {};
}

}  // namespace axion::infra::postgres::impl
