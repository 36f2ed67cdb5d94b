// The projector (projections/projector.h): project and deployment events -> project, graph,
// deployment, history and audit rows; infrastructure events -> cluster and server rows.
#include "projections/projector.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstdio>

#include "axion/v1/audit.pb.h"
#include "axion/v1/deployment.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "axion/v1/project.pb.h"
#include "axion/v1/snapshot.pb.h"
#include "commands/cluster_aggregate.h"
#include "commands/project_aggregate.h"
#include "commands/state_snapshots.h"
#include "events/envelope.h"

namespace axion::projections {

namespace {

namespace v1 = axion::v1;
using google::protobuf::util::TimeUtil;

// Internal rows (Table::kInternal): a pending rollback's facts until its DeploymentRequested, the
// per-project list of history rows (for rotation), the folded state of each cluster.
std::string rollback_key(const std::string& deployment) { return "rollback/" + deployment; }
std::string history_key(const std::string& project) { return "history/" + project; }
std::string cluster_state_key(const std::string& cluster) { return "cluster/" + cluster; }

struct Ctx {
  const v1::EventEnvelope& event;
  const events::LogPosition& at;
  RowAccess& rows;
  const ProjectorOptions& options;
  std::int64_t at_ms() const { return TimeUtil::TimestampToMilliseconds(event.occurred_at()); }
};

template <typename M>
Result<std::optional<M>> load(RowAccess& rows, Table table, const std::string& key) {
  auto row = rows.get(table, key);
  if (!row.ok()) return row.status();
  if (!row->has_value()) return std::optional<M>();
  M message;
  if (!message.ParseFromString((*row)->doc)) {
    return data_loss("view row " + std::string(table_name(table)) + "/" + key +
                     " does not parse as " + M::descriptor()->full_name());
  }
  return std::optional<M>(std::move(message));
}

// Deterministic bytes (map entries ordered by key; plain serialization writes them in hash
// order, which differs from one process or message instance to the next): the same events
// always make the same rows byte for byte, so a rebuild equals the incremental views exactly.
std::string serialize(const google::protobuf::Message& doc) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    doc.SerializeToCodedStream(&coded);
  }
  return bytes;
}

void save(RowAccess& rows, Table table, std::string key, RowIndex index,
          const google::protobuf::Message& doc) {
  rows.put(Row{table, std::move(key), std::move(index), serialize(doc)});
}

RowIndex deployment_index(const v1::Deployment& d) {
  RowIndex index;
  index.project_id = d.project_id();
  index.environment = d.environment();
  index.status = static_cast<std::int32_t>(d.status());
  index.sort_key = TimeUtil::TimestampToMilliseconds(d.created_at());
  return index;
}

// Loads the deployment, lets `change` edit it, stamps it and saves it. An unknown deployment
// (its request was before a rotation or in another store) is left alone.
template <typename Change>
Status update_deployment(Ctx& ctx, const std::string& id, Change&& change) {
  auto loaded = load<v1::Deployment>(ctx.rows, Table::kDeployments, id);
  if (!loaded.ok()) return loaded.status();
  if (!loaded->has_value()) return ok_status();
  v1::Deployment& d = **loaded;
  change(d);
  *d.mutable_updated_at() = ctx.event.occurred_at();
  d.set_version(ctx.event.sequence());
  save(ctx.rows, Table::kDeployments, id, deployment_index(d), d);
  return ok_status();
}

// A terminal status is final (as in the aggregate): later status events do not move it.
void finish(v1::Deployment& d, v1::DeploymentStatus status, const Ctx& ctx) {
  if (commands::is_terminal(d.status())) return;
  d.set_status(status);
  *d.mutable_finished_at() = ctx.event.occurred_at();
  d.set_paused(false);
}

std::uint32_t planned_steps(const v1::Strategy& strategy) {
  if (strategy.has_canary()) return static_cast<std::uint32_t>(strategy.canary().weights_size());
  return 0;  // rolling and blue-green: the saga reports its steps as it plans them
}

Status on(Ctx& ctx, const v1::ProjectRegistered& e) {
  v1::Project p;
  p.set_project_id(e.project_id());
  p.set_name(e.name());
  p.set_owner(e.owner());
  p.set_description(e.description());
  p.set_repository_url(e.repository_url());
  *p.mutable_labels() = e.labels();
  *p.mutable_created_at() = ctx.event.occurred_at();
  p.set_version(ctx.event.sequence());
  RowIndex index;
  index.sort_key = ctx.at_ms();
  save(ctx.rows, Table::kProjects, e.project_id(), index, p);
  return ok_status();
}

Status on(Ctx& ctx, const v1::GraphPublished& e) {
  const v1::GraphVersion& g = e.graph();
  RowIndex index;
  index.project_id = g.project_id();
  index.sort_key = static_cast<std::int64_t>(g.version());
  save(ctx.rows, Table::kGraphVersions, numbered_key(g.project_id(), g.version()), index, g);
  auto project = load<v1::Project>(ctx.rows, Table::kProjects, g.project_id());
  if (!project.ok()) return project.status();
  if (project->has_value() && g.version() > (*project)->latest_graph_version()) {
    (*project)->set_latest_graph_version(g.version());
    RowIndex pindex;
    pindex.sort_key = TimeUtil::TimestampToMilliseconds((*project)->created_at());
    save(ctx.rows, Table::kProjects, g.project_id(), pindex, **project);
  }
  return ok_status();
}

Status on(Ctx& ctx, const v1::RollbackRequested& e) {
  save(ctx.rows, Table::kInternal, rollback_key(e.deployment_id()), {}, e);
  return ok_status();
}

Status on(Ctx& ctx, const v1::DeploymentRequested& e) {
  auto existing = load<v1::Deployment>(ctx.rows, Table::kDeployments, e.deployment_id());
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return ok_status();  // requested once; a duplicate fact is ignored
  v1::Deployment d;
  d.set_deployment_id(e.deployment_id());
  d.set_project_id(e.project_id());
  d.set_environment(e.environment());
  d.set_graph_version(e.graph_version());
  d.set_status(v1::DEPLOYMENT_STATUS_PENDING);
  *d.mutable_strategy() = e.strategy();
  *d.mutable_options() = e.options();
  d.set_total_steps(planned_steps(e.strategy()));
  d.set_requested_by(e.requested_by().empty() ? ctx.event.actor() : e.requested_by());
  *d.mutable_created_at() = ctx.event.occurred_at();
  *d.mutable_updated_at() = ctx.event.occurred_at();
  d.set_version(ctx.event.sequence());
  auto rollback = load<v1::RollbackRequested>(ctx.rows, Table::kInternal,
                                              rollback_key(e.deployment_id()));
  if (!rollback.ok()) return rollback.status();
  if (rollback->has_value()) {
    d.set_rollback_of((*rollback)->rollback_of());
    d.set_rollback_target((*rollback)->target_deployment_id());
    ctx.rows.erase(Table::kInternal, rollback_key(e.deployment_id()));
  }
  save(ctx.rows, Table::kDeployments, e.deployment_id(), deployment_index(d), d);
  return ok_status();
}

Status on(Ctx& ctx, const v1::DeploymentSuperseded& e) {
  return update_deployment(ctx, e.deployment_id(),
                           [&](v1::Deployment& d) { d.set_superseded_by(e.superseded_by()); });
}

Status on(Ctx& ctx, const v1::DeploymentStatusChanged& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    if (commands::is_terminal(e.to_status())) {
      finish(d, e.to_status(), ctx);
    } else if (!commands::is_terminal(d.status())) {
      d.set_status(e.to_status());
    }
  });
}

Status on(Ctx& ctx, const v1::DeploymentConfigGenerated& e) {
  return update_deployment(ctx, e.deployment_id(),
                           [&](v1::Deployment& d) { *d.mutable_config() = e.config(); });
}

Status on(Ctx& ctx, const v1::DeploymentServersAssigned& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    d.set_cluster_id(e.cluster_id());
    *d.mutable_placement() = e.placement();
  });
}

Status on(Ctx& ctx, const v1::DeploymentStepStarted& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    d.set_current_step(e.step_index());
    d.set_total_steps(std::max(d.total_steps(), e.step_index() + 1));
  });
}

Status on(Ctx& ctx, const v1::DeploymentStepCompleted& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    d.set_current_step(e.step_index());
    d.set_total_steps(std::max(d.total_steps(), e.step_index() + 1));
    if (e.outcome() == v1::STEP_OUTCOME_SUCCEEDED && e.weight() > 0) d.set_weight(e.weight());
  });
}

Status on(Ctx& ctx, const v1::ServiceStatusChanged& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    v1::ServiceState* state = nullptr;
    for (auto& s : *d.mutable_services()) {
      if (s.service() == e.service()) state = &s;
    }
    if (!state) {
      state = d.add_services();
      state->set_service(e.service());
    }
    state->set_status(e.to_status());
    state->set_detail(e.detail());
    if (!e.server_id().empty() &&
        std::find(state->server_ids().begin(), state->server_ids().end(), e.server_id()) ==
            state->server_ids().end()) {
      state->add_server_ids(e.server_id());
    }
  });
}

Status on(Ctx& ctx, const v1::DeploymentSucceeded& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    finish(d, v1::DEPLOYMENT_STATUS_SUCCESS, ctx);
  });
}

Status on(Ctx& ctx, const v1::DeploymentFailed& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    if (commands::is_terminal(d.status())) return;
    finish(d, v1::DEPLOYMENT_STATUS_FAILED, ctx);
    *d.mutable_failure() = e;
  });
}

Status on(Ctx& ctx, const v1::DeploymentCancelRequested& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    if (d.cancel_reason().empty()) d.set_cancel_reason(e.reason());
  });
}

Status on(Ctx& ctx, const v1::DeploymentCancelled& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    if (commands::is_terminal(d.status())) return;
    finish(d, v1::DEPLOYMENT_STATUS_CANCELLED, ctx);
    if (!e.reason().empty()) d.set_cancel_reason(e.reason());
  });
}

Status on(Ctx& ctx, const v1::DeploymentPaused& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    if (commands::is_terminal(d.status())) return;
    d.set_paused(true);
    d.set_current_step(e.step_index());
  });
}

Status on(Ctx& ctx, const v1::DeploymentPromoted& e) {
  return update_deployment(ctx, e.deployment_id(),
                           [&](v1::Deployment& d) { d.set_paused(false); });
}

// The history of successes a rollback can return to, rotated per project.
Status on(Ctx& ctx, const v1::DeploymentSnapshotted& e) {
  const v1::DeploymentSnapshot& snap = e.snapshot();
  RowIndex index;
  index.project_id = snap.project_id();
  index.environment = snap.environment();
  index.sort_key = ctx.at_ms();
  save(ctx.rows, Table::kDeploymentHistory, snap.deployment_id(), index, snap);
  auto list = load<v1::ProjectSnapshot::Successes>(ctx.rows, Table::kInternal,
                                                   history_key(snap.project_id()));
  if (!list.ok()) return list.status();
  v1::ProjectSnapshot::Successes ids = list->value_or(v1::ProjectSnapshot::Successes());
  if (std::find(ids.deployment_ids().begin(), ids.deployment_ids().end(),
                snap.deployment_id()) == ids.deployment_ids().end()) {
    ids.add_deployment_ids(snap.deployment_id());
  }
  const auto max = static_cast<int>(std::max<std::size_t>(ctx.options.max_history_per_project, 1));
  if (ids.deployment_ids_size() > max) {
    const int drop = ids.deployment_ids_size() - max;
    for (int i = 0; i < drop; ++i) ctx.rows.erase(Table::kDeploymentHistory, ids.deployment_ids(i));
    ids.mutable_deployment_ids()->DeleteSubrange(0, drop);
  }
  save(ctx.rows, Table::kInternal, history_key(snap.project_id()), {}, ids);
  return ok_status();
}

template <typename Event>
Result<bool> dispatch(Ctx& ctx, const google::protobuf::Any& payload) {
  if (!payload.Is<Event>()) return false;
  Event event;
  if (!payload.UnpackTo(&event)) {
    return data_loss("event " + ctx.event.event_id() + " at " + ctx.at.tp.to_string() + "@" +
                     std::to_string(ctx.at.offset) + " does not parse as " +
                     Event::descriptor()->full_name());
  }
  AXION_RETURN_IF_ERROR(on(ctx, event));
  return true;
}

template <typename... Events>
Status dispatch_any(Ctx& ctx, const google::protobuf::Any& payload) {
  Status status;
  bool done = false;
  auto one = [&](auto tag) {
    if (done || !status.ok()) return;
    auto r = dispatch<typename decltype(tag)::type>(ctx, payload);
    if (!r.ok()) status = r.status();
    else done = *r;
  };
  (one(std::type_identity<Events>{}), ...);
  return status;
}

Status project_event(Ctx& ctx) {
  AXION_RETURN_IF_ERROR((dispatch_any<
      v1::ProjectRegistered, v1::GraphPublished, v1::RollbackRequested, v1::DeploymentRequested,
      v1::DeploymentSuperseded, v1::DeploymentStatusChanged, v1::DeploymentConfigGenerated,
      v1::DeploymentServersAssigned, v1::DeploymentStepStarted, v1::DeploymentStepCompleted,
      v1::ServiceStatusChanged, v1::DeploymentSucceeded, v1::DeploymentFailed,
      v1::DeploymentCancelRequested, v1::DeploymentCancelled, v1::DeploymentPaused,
      v1::DeploymentPromoted, v1::DeploymentSnapshotted>(ctx, ctx.event.payload())));
  // The project's own version follows its stream.
  const std::string& project = ctx.event.aggregate_id();
  auto p = load<v1::Project>(ctx.rows, Table::kProjects, project);
  if (!p.ok()) return p.status();
  if (p->has_value() && (*p)->version() < ctx.event.sequence()) {
    (*p)->set_version(ctx.event.sequence());
    RowIndex index;
    index.sort_key = TimeUtil::TimestampToMilliseconds((*p)->created_at());
    save(ctx.rows, Table::kProjects, project, index, **p);
  }
  return ok_status();
}

// --- infrastructure: the cluster aggregate's own fold, kept per cluster, renders the rows.

v1::Server server_row(const commands::ServerState& s, const std::string& cluster_id) {
  v1::Server out;
  out.set_server_id(s.server_id);
  out.set_cluster_id(cluster_id);
  out.set_name(s.name);
  out.set_host(s.host);
  out.set_port(s.port);
  out.set_ssh_user(s.ssh_user);
  out.set_auth_kind(s.auth_kind);
  // credential: never in a view
  out.set_host_key_fingerprint(s.host_key_fingerprint);
  out.set_status(s.status);
  *out.mutable_labels() = google::protobuf::Map<std::string, std::string>(s.labels.begin(),
                                                                          s.labels.end());
  out.mutable_capacity()->set_cpu_millis(s.capacity.cpu_millis);
  out.mutable_capacity()->set_memory_mb(s.capacity.memory_mb);
  out.mutable_capacity()->set_disk_mb(s.capacity.disk_mb);
  out.set_agent_status(s.agent_status);
  out.set_agent_version(s.agent_version);
  out.set_agent_id(s.agent_id);
  out.set_agent_status_reason(s.agent_status_reason);
  out.set_install_id(s.install.install_id);
  out.set_last_install_step(s.install.last_step);
  for (const auto& runtime : s.agent_runtimes) out.add_agent_runtimes(runtime);
  *out.mutable_last_report() = s.last_report;
  out.set_version(s.version);
  return out;
}

Status infrastructure_event(Ctx& ctx) {
  const v1::EventEnvelope& e = ctx.event;
  const std::string cluster_id = e.aggregate_type() == events::aggregate_type::kCluster
                                     ? e.aggregate_id()
                                     : (e.partition_key().empty() ? e.aggregate_id()
                                                                  : e.partition_key());
  auto stored = load<v1::ClusterSnapshot>(ctx.rows, Table::kInternal, cluster_state_key(cluster_id));
  if (!stored.ok()) return stored.status();
  commands::ClusterState state;
  if (stored->has_value()) {
    auto restored = commands::from_snapshot(**stored);
    if (!restored.ok()) return restored.status();
    state = std::move(restored).value();
  }
  const auto before = state.servers;
  commands::apply_event(state, e);
  if (state.deleted) {
    ctx.rows.erase(Table::kClusters, cluster_id);
    for (const auto& [id, s] : state.servers) ctx.rows.erase(Table::kServers, id);
  } else if (state.exists) {
    auto old = load<v1::Cluster>(ctx.rows, Table::kClusters, cluster_id);
    if (!old.ok()) return old.status();
    v1::Cluster c;
    c.set_cluster_id(cluster_id);
    c.set_name(state.name);
    c.set_description(state.description);
    *c.mutable_labels() = google::protobuf::Map<std::string, std::string>(state.labels.begin(),
                                                                          state.labels.end());
    c.set_kind(state.kind);
    c.set_server_count(static_cast<std::uint32_t>(state.servers.size()));
    *c.mutable_created_at() = old->has_value() ? (*old)->created_at() : e.occurred_at();
    *c.mutable_updated_at() = e.occurred_at();
    c.set_version(state.version);
    RowIndex index;
    index.sort_key = TimeUtil::TimestampToMilliseconds(c.created_at());
    save(ctx.rows, Table::kClusters, cluster_id, index, c);
    for (const auto& [id, s] : state.servers) {
      const auto was = before.find(id);
      if (was != before.end() && was->second == s) continue;  // unchanged by this event
      auto old_row = load<v1::Server>(ctx.rows, Table::kServers, id);
      if (!old_row.ok()) return old_row.status();
      v1::Server row = server_row(s, cluster_id);
      *row.mutable_created_at() = old_row->has_value() ? (*old_row)->created_at() : e.occurred_at();
      *row.mutable_updated_at() = e.occurred_at();
      if (old_row->has_value()) *row.mutable_last_seen_at() = (*old_row)->last_seen_at();
      if (e.payload().Is<v1::AgentRegistered>() || e.payload().Is<v1::AgentStatusChanged>()) {
        *row.mutable_last_seen_at() = e.occurred_at();
      }
      RowIndex sindex;
      sindex.cluster_id = cluster_id;
      sindex.sort_key = TimeUtil::TimestampToMilliseconds(row.created_at());
      save(ctx.rows, Table::kServers, id, sindex, row);
    }
  }
  save(ctx.rows, Table::kInternal, cluster_state_key(cluster_id), {}, commands::to_snapshot(state));
  return ok_status();
}

// --- audit

std::string type_tail(const std::string& type) {
  const auto dot = type.rfind('.');
  return dot == std::string::npos ? type : type.substr(dot + 1);
}

std::string summary(const v1::EventEnvelope& e) {
  const auto& p = e.payload();
  v1::DeploymentRequested requested;
  if (p.Is<v1::DeploymentRequested>() && p.UnpackTo(&requested)) {
    return "deployment " + requested.deployment_id() + " of graph version " +
           std::to_string(requested.graph_version()) + " to " + requested.environment() +
           " requested by " + requested.requested_by();
  }
  v1::DeploymentStatusChanged changed;
  if (p.Is<v1::DeploymentStatusChanged>() && p.UnpackTo(&changed)) {
    return "deployment " + changed.deployment_id() + " " +
           commands::status_name(changed.from_status()) + " -> " +
           commands::status_name(changed.to_status());
  }
  v1::DeploymentFailed failed;
  if (p.Is<v1::DeploymentFailed>() && p.UnpackTo(&failed)) {
    return "deployment " + failed.deployment_id() + " failed: " + failed.reason();
  }
  v1::GraphPublished graph;
  if (p.Is<v1::GraphPublished>() && p.UnpackTo(&graph)) {
    return "graph version " + std::to_string(graph.graph().version()) + " published (" +
           std::to_string(graph.graph().services_size()) + " services)";
  }
  return type_tail(e.type()) + " by " + (e.actor().empty() ? "system" : e.actor());
}

void audit(Ctx& ctx) {
  const v1::EventEnvelope& e = ctx.event;
  v1::AuditEntry entry;
  entry.set_project_id(e.aggregate_id());
  entry.set_event_id(e.event_id());
  entry.set_type(e.type());
  entry.set_aggregate_type(e.aggregate_type());
  entry.set_aggregate_id(e.aggregate_id());
  entry.set_sequence(e.sequence());
  *entry.mutable_occurred_at() = e.occurred_at();
  entry.set_actor(e.actor());
  entry.set_correlation_id(e.correlation_id());
  entry.set_causation_id(e.causation_id());
  entry.mutable_position()->set_topic(ctx.at.tp.topic);
  entry.mutable_position()->set_partition(ctx.at.tp.partition);
  entry.mutable_position()->set_offset(ctx.at.offset);
  entry.set_summary(summary(e));
  RowIndex index;
  index.project_id = e.aggregate_id();
  index.sort_key = static_cast<std::int64_t>(e.sequence());
  save(ctx.rows, Table::kAudit, numbered_key(e.aggregate_id(), e.sequence()), index, entry);
}

}  // namespace

std::string numbered_key(const std::string& prefix, std::uint64_t number) {
  char digits[24];
  std::snprintf(digits, sizeof digits, "%020llu", static_cast<unsigned long long>(number));
  return prefix + "/" + digits;
}

Status project(const v1::EventEnvelope& event, const events::LogPosition& at, RowAccess& rows,
               const ProjectorOptions& options) {
  Ctx ctx{event, at, rows, options};
  const std::string& type = event.aggregate_type();
  if (type == events::aggregate_type::kProject) {
    AXION_RETURN_IF_ERROR(project_event(ctx));
    audit(ctx);
    return ok_status();
  }
  if (type == events::aggregate_type::kCluster || type == events::aggregate_type::kServer) {
    return infrastructure_event(ctx);
  }
  return ok_status();  // another writer's aggregate: no view of ours
}

}  // namespace axion::projections
