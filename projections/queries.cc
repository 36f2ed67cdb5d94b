#include "projections/queries.h"

#include <set>

#include <functional>

#include "projections/projector.h"

namespace axion::projections {

namespace {

namespace v1 = axion::v1;

template <typename M>
Result<M> parse(const Row& row) {
  M message;
  if (!message.ParseFromString(row.doc)) {
    return data_loss("view row " + std::string(table_name(row.table)) + "/" + row.key +
                     " does not parse as " + M::descriptor()->full_name());
  }
  return message;
}

template <typename M>
Result<M> get_one(ViewStore& store, Table table, const std::string& key, const char* what,
                  const char* field) {
  if (key.empty()) return invalid_field(field, std::string(field) + " is required");
  auto row = store.get(table, key);
  if (!row.ok()) return row.status();
  if (!row->has_value()) return not_found(std::string(what) + " '" + key + "' does not exist");
  return parse<M>(**row);
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

const char kHex[] = "0123456789abcdef";

std::string to_hex(std::string_view s) {
  std::string out;
  out.reserve(s.size() * 2);
  for (unsigned char c : s) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::optional<std::string> from_hex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  std::string out;
  for (std::size_t i = 0; i < s.size(); i += 2) {
    const int hi = nibble(s[i]), lo = nibble(s[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi << 4 | lo));
  }
  return out;
}

// "<fingerprint>.<sort_key>.<hex key>": where a listing stopped, bound to its filters.
std::string make_token(const std::string& filters, const std::pair<std::int64_t, std::string>& at) {
  return std::to_string(fnv1a(filters)) + "." + std::to_string(at.first) + "." + to_hex(at.second);
}

Result<std::optional<std::pair<std::int64_t, std::string>>> read_token(
    const std::string& token, const std::string& filters) {
  using Cursor = std::optional<std::pair<std::int64_t, std::string>>;
  if (token.empty()) return Cursor();
  const auto bad = [] {
    return invalid_field("page_token",
                         "page_token is not one this server issued for this query: pass the "
                         "next_page_token of the previous page, with the same filters");
  };
  const auto dot1 = token.find('.');
  const auto dot2 = dot1 == std::string::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string::npos || token.size() > 2048) return bad();
  if (token.substr(0, dot1) != std::to_string(fnv1a(filters))) return bad();
  std::int64_t sort_key = 0;
  try {
    std::size_t used = 0;
    const std::string number = token.substr(dot1 + 1, dot2 - dot1 - 1);
    sort_key = std::stoll(number, &used);
    if (used != number.size()) return bad();
  } catch (...) {
    return bad();
  }
  auto key = from_hex(std::string_view(token).substr(dot2 + 1));
  if (!key || key->empty()) return bad();
  return Cursor(std::make_pair(sort_key, std::move(*key)));
}

Result<std::size_t> page_size(int requested) {
  if (requested < 0) {
    return invalid_field("page_size", "page_size must not be negative (0 = the default of " +
                                          std::to_string(kDefaultPageSize) + ")");
  }
  if (requested > kMaxPageSize) {
    return invalid_field("page_size", "page_size " + std::to_string(requested) +
                                          " is above the maximum of " +
                                          std::to_string(kMaxPageSize));
  }
  return static_cast<std::size_t>(requested == 0 ? kDefaultPageSize : requested);
}

// Lists rows of `query` that `keep` accepts, one page of `size`, resuming at `token`.
Result<std::pair<std::vector<Row>, std::string>> page(
    ViewStore& store, Query query, std::size_t size, const std::string& token,
    const std::string& filters, const std::function<bool(const Row&)>& keep = nullptr) {
  auto cursor = read_token(token, filters);
  if (!cursor.ok()) return cursor.status();
  query.after = *cursor;
  std::vector<Row> rows;
  std::optional<std::pair<std::int64_t, std::string>> last;
  for (;;) {
    query.limit = size - rows.size() + 1;  // one more tells whether another page follows
    if (query.limit > 1000) query.limit = 1000;
    auto got = store.list(query);
    if (!got.ok()) return got.status();
    for (auto& row : got->rows) {
      if (keep && !keep(row)) {
        query.after = std::make_pair(row.index.sort_key, row.key);
        continue;
      }
      if (rows.size() == size) {
        return std::make_pair(std::move(rows), make_token(filters, *last));
      }
      last = std::make_pair(row.index.sort_key, row.key);
      query.after = last;
      rows.push_back(std::move(row));
    }
    if (!got->next) return std::make_pair(std::move(rows), std::string());
    query.after = got->next;
  }
}

}  // namespace

Result<v1::Deployment> ViewQueries::deployment(const std::string& id) {
  return get_one<v1::Deployment>(store_, Table::kDeployments, id, "deployment", "deployment_id");
}

Result<v1::GetDeploymentStatusResponse> ViewQueries::deployment_status(const std::string& id) {
  auto d = deployment(id);
  if (!d.ok()) return d.status();
  v1::GetDeploymentStatusResponse out;
  out.set_deployment_id(d->deployment_id());
  out.set_status(d->status());
  out.set_current_step(d->current_step());
  out.set_total_steps(d->total_steps());
  out.set_weight(d->weight());
  out.set_paused(d->paused());
  *out.mutable_services() = d->services();
  out.set_version(d->version());
  *out.mutable_updated_at() = d->updated_at();
  return out;
}

Result<v1::ListDeploymentsResponse> ViewQueries::list_deployments(
    const v1::ListDeploymentsRequest& request) {
  auto size = page_size(request.page_size());
  if (!size.ok()) return size.status();
  Query query;
  query.table = Table::kDeployments;
  query.filter.project_id = request.project_id();
  query.filter.environment = request.environment();
  std::string filters = request.project_id() + "\n" + request.environment() + "\n";
  for (int status : request.statuses()) {
    if (!v1::DeploymentStatus_IsValid(status) || status == v1::DEPLOYMENT_STATUS_UNSPECIFIED) {
      return invalid_field("statuses", "statuses holds " + std::to_string(status) +
                                           ", which is not a deployment status");
    }
    query.statuses.push_back(status);
    filters += std::to_string(status) + ",";
  }
  query.newest_first = true;
  auto listed = page(store_, query, *size, request.page_token(), "deployments\n" + filters);
  if (!listed.ok()) return listed.status();
  v1::ListDeploymentsResponse out;
  for (const auto& row : listed->first) {
    auto d = parse<v1::Deployment>(row);
    if (!d.ok()) return d.status();
    *out.add_deployments() = std::move(d).value();
  }
  out.set_next_page_token(listed->second);
  return out;
}

Result<std::vector<v1::DeploymentSnapshot>> ViewQueries::history(const std::string& project_id,
                                                                 std::size_t limit) {
  Query query;
  query.table = Table::kDeploymentHistory;
  query.filter.project_id = project_id;
  query.newest_first = true;
  query.limit = std::min<std::size_t>(std::max<std::size_t>(limit, 1), 1000);
  auto got = store_.list(query);
  if (!got.ok()) return got.status();
  std::vector<v1::DeploymentSnapshot> out;
  for (const auto& row : got->rows) {
    auto snap = parse<v1::DeploymentSnapshot>(row);
    if (!snap.ok()) return snap.status();
    out.push_back(std::move(snap).value());
  }
  return out;
}

Result<v1::Project> ViewQueries::project(const std::string& id) {
  return get_one<v1::Project>(store_, Table::kProjects, id, "project", "project_id");
}

Result<v1::ListProjectsResponse> ViewQueries::list_projects(const v1::ListProjectsRequest& request) {
  auto size = page_size(request.page_size());
  if (!size.ok()) return size.status();
  Query query;
  query.table = Table::kProjects;
  query.newest_first = false;
  const std::string owner = request.owner();
  std::function<bool(const Row&)> keep;
  if (!owner.empty()) {
    keep = [&](const Row& row) {
      auto p = parse<v1::Project>(row);
      return p.ok() && p->owner() == owner;
    };
  }
  auto listed = page(store_, query, *size, request.page_token(), "projects\n" + owner, keep);
  if (!listed.ok()) return listed.status();
  v1::ListProjectsResponse out;
  for (const auto& row : listed->first) {
    auto p = parse<v1::Project>(row);
    if (!p.ok()) return p.status();
    *out.add_projects() = std::move(p).value();
  }
  out.set_next_page_token(listed->second);
  return out;
}

Result<v1::GraphVersion> ViewQueries::graph(const std::string& project_id, std::uint64_t version) {
  auto p = project(project_id);
  if (!p.ok()) return p.status();
  const std::uint64_t wanted = version == 0 ? p->latest_graph_version() : version;
  if (wanted == 0) return not_found("project '" + project_id + "' has no graph published yet");
  auto row = store_.get(Table::kGraphVersions, numbered_key(project_id, wanted));
  if (!row.ok()) return row.status();
  if (!row->has_value()) {
    return not_found("project '" + project_id + "' has no graph version " +
                     std::to_string(wanted) + " (latest: " +
                     std::to_string(p->latest_graph_version()) + ")");
  }
  return parse<v1::GraphVersion>(**row);
}

Result<v1::Cluster> ViewQueries::cluster(const std::string& id) {
  return get_one<v1::Cluster>(store_, Table::kClusters, id, "cluster", "cluster_id");
}

Result<v1::ListClustersResponse> ViewQueries::list_clusters(const v1::ListClustersRequest& request) {
  auto size = page_size(request.page_size());
  if (!size.ok()) return size.status();
  Query query;
  query.table = Table::kClusters;
  query.newest_first = false;
  auto listed = page(store_, query, *size, request.page_token(), "clusters");
  if (!listed.ok()) return listed.status();
  v1::ListClustersResponse out;
  for (const auto& row : listed->first) {
    auto c = parse<v1::Cluster>(row);
    if (!c.ok()) return c.status();
    *out.add_clusters() = std::move(c).value();
  }
  out.set_next_page_token(listed->second);
  return out;
}

Result<v1::ListClusterServersResponse> ViewQueries::list_cluster_servers(
    const v1::ListClusterServersRequest& request) {
  auto size = page_size(request.page_size());
  if (!size.ok()) return size.status();
  auto c = cluster(request.cluster_id());
  if (!c.ok()) return c.status();
  Query query;
  query.table = Table::kServers;
  query.filter.cluster_id = request.cluster_id();
  query.newest_first = false;
  auto listed =
      page(store_, query, *size, request.page_token(), "servers\n" + request.cluster_id());
  if (!listed.ok()) return listed.status();
  v1::ListClusterServersResponse out;
  for (const auto& row : listed->first) {
    auto s = parse<v1::Server>(row);
    if (!s.ok()) return s.status();
    s->clear_credential();  // never in an answer, sealed or not
    *out.add_servers() = std::move(s).value();
  }
  out.set_next_page_token(listed->second);
  return out;
}

Result<v1::Server> ViewQueries::server_with_credential(const std::string& server_id) {
  return get_one<v1::Server>(store_, Table::kServers, server_id, "server", "server_id");
}

Result<std::set<std::string>> ViewQueries::credential_key_ids() {
  std::set<std::string> out;
  Query query;
  query.table = Table::kServers;
  query.newest_first = false;
  query.limit = 1000;
  while (true) {
    auto listed = store_.list(query);
    if (!listed.ok()) return listed.status();
    for (const auto& row : listed->rows) {
      auto s = parse<v1::Server>(row);
      if (s.ok() && !s->credential().key_id().empty()) out.insert(s->credential().key_id());
    }
    if (!listed->next) return out;
    query.after = listed->next;
  }
}

Result<v1::GetAgentStatusResponse> ViewQueries::agent_status(const std::string& server_id) {
  auto s = get_one<v1::Server>(store_, Table::kServers, server_id, "server", "server_id");
  if (!s.ok()) return s.status();
  v1::GetAgentStatusResponse out;
  out.set_server_id(s->server_id());
  out.set_status(s->agent_status());
  out.set_agent_id(s->agent_id());
  out.set_version(s->agent_version());
  *out.mutable_last_seen_at() = s->last_seen_at();
  out.set_reason(s->agent_status_reason());
  out.set_install_id(s->install_id());
  out.set_last_install_step(s->last_install_step());
  return out;
}

Result<std::vector<v1::AuditEntry>> ViewQueries::audit(const std::string& project_id,
                                                       std::uint64_t after_sequence,
                                                       std::size_t limit) {
  Query query;
  query.table = Table::kAudit;
  query.filter.project_id = project_id;
  query.newest_first = false;
  query.limit = std::min<std::size_t>(std::max<std::size_t>(limit, 1), 1000);
  if (after_sequence > 0) {
    query.after = std::make_pair(static_cast<std::int64_t>(after_sequence),
                                 numbered_key(project_id, after_sequence));
  }
  auto got = store_.list(query);
  if (!got.ok()) return got.status();
  std::vector<v1::AuditEntry> out;
  for (const auto& row : got->rows) {
    auto e = parse<v1::AuditEntry>(row);
    if (!e.ok()) return e.status();
    out.push_back(std::move(e).value());
  }
  return out;
}

}  // namespace axion::projections
