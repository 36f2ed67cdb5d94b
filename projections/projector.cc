// The projector (projections/projector.h): project and deployment events -> project, graph,
// deployment, history and audit rows; infrastructure events -> cluster and server rows.
#include "projections/projector.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "axion/v1/audit.pb.h"
#include "axion/v1/deployment.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "axion/v1/project.pb.h"
#include "axion/v1/snapshot.pb.h"
#include "commands/cluster_aggregate.h"
#include "commands/project_aggregate.h"
#include "commands/state_snapshots.h"
#include "events/envelope.h"
#include "projections/event_tail.h"

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

Status unreadable(const Row& row, const std::string& what) {
  return data_loss("view row " + std::string(table_name(row.table)) + "/" + row.key +
                   " does not parse as " + what);
}

// A row whose doc is a protobuf message of type M.
template <typename M>
struct ProtoDoc final : Doc {
  M message;
  std::string encode() const override { return serialize(message); }
};

template <typename M>
Result<std::unique_ptr<Doc>> decode_proto(const Row& row) {
  auto doc = std::make_unique<ProtoDoc<M>>();
  if (!doc->message.ParseFromString(row.doc)) return unreadable(row, M::descriptor()->full_name());
  return std::unique_ptr<Doc>(std::move(doc));
}

// The row's message to change in place (then RowAccess::changed), or nullptr if there is none.
template <typename M>
Result<M*> find(RowAccess& rows, Table table, const std::string& key) {
  auto doc = rows.find(table, key, &decode_proto<M>);
  if (!doc.ok()) return doc.status();
  if (*doc == nullptr) return static_cast<M*>(nullptr);
  auto* typed = dynamic_cast<ProtoDoc<M>*>(*doc);
  if (typed == nullptr) {
    return internal_error("view row " + std::string(table_name(table)) + "/" + key +
                          " was read as another type than " + M::descriptor()->full_name());
  }
  return &typed->message;
}

template <typename M>
void put(RowAccess& rows, Table table, const std::string& key, RowIndex index, M message) {
  auto doc = std::make_unique<ProtoDoc<M>>();
  doc->message = std::move(message);
  rows.put(table, key, std::move(index), std::move(doc));
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
  auto found = find<v1::Deployment>(ctx.rows, Table::kDeployments, id);
  if (!found.ok()) return found.status();
  if (*found == nullptr) return ok_status();
  v1::Deployment& d = **found;
  change(d);
  *d.mutable_updated_at() = ctx.event.occurred_at();
  d.set_version(ctx.event.sequence());
  ctx.rows.changed(Table::kDeployments, id, deployment_index(d));
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
  put(ctx.rows, Table::kProjects, e.project_id(), index, std::move(p));
  return ok_status();
}

RowIndex project_index(const v1::Project& p) {
  RowIndex index;
  index.sort_key = TimeUtil::TimestampToMilliseconds(p.created_at());
  return index;
}

Status on(Ctx& ctx, v1::GraphPublished& e) {
  const std::string project_id = e.graph().project_id();
  const std::uint64_t version = e.graph().version();
  RowIndex index;
  index.project_id = project_id;
  index.sort_key = static_cast<std::int64_t>(version);
  put(ctx.rows, Table::kGraphVersions, numbered_key(project_id, version), index,
      std::move(*e.mutable_graph()));
  auto project = find<v1::Project>(ctx.rows, Table::kProjects, project_id);
  if (!project.ok()) return project.status();
  if (*project != nullptr && version > (*project)->latest_graph_version()) {
    (*project)->set_latest_graph_version(version);
    ctx.rows.changed(Table::kProjects, project_id, project_index(**project));
  }
  return ok_status();
}

Status on(Ctx& ctx, const v1::RollbackRequested& e) {
  put(ctx.rows, Table::kInternal, rollback_key(e.deployment_id()), {}, e);
  return ok_status();
}

Status on(Ctx& ctx, const v1::DeploymentRequested& e) {
  auto existing = find<v1::Deployment>(ctx.rows, Table::kDeployments, e.deployment_id());
  if (!existing.ok()) return existing.status();
  if (*existing != nullptr) return ok_status();  // requested once; a duplicate fact is ignored
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
  auto rollback =
      find<v1::RollbackRequested>(ctx.rows, Table::kInternal, rollback_key(e.deployment_id()));
  if (!rollback.ok()) return rollback.status();
  if (*rollback != nullptr) {
    d.set_rollback_of((*rollback)->rollback_of());
    d.set_rollback_target((*rollback)->target_deployment_id());
    ctx.rows.erase(Table::kInternal, rollback_key(e.deployment_id()));
  }
  RowIndex index = deployment_index(d);
  put(ctx.rows, Table::kDeployments, e.deployment_id(), std::move(index), std::move(d));
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

// Replicas wanted come from the placement (one entry per replica); a replica is healthy when
// the last status its server reported for the service is HEALTHY.
void count_replicas(v1::Deployment& d, v1::ServiceState& state) {
  std::uint32_t desired = 0;
  std::uint32_t healthy = 0;
  if (auto placed = d.placement().find(state.service()); placed != d.placement().end()) {
    for (const auto& server : placed->second.server_ids()) {
      ++desired;
      auto reported = state.server_status().find(server);
      if (reported != state.server_status().end() &&
          reported->second == v1::SERVICE_STATUS_HEALTHY) {
        ++healthy;
      }
    }
  }
  state.set_desired_replicas(desired);
  state.set_healthy_replicas(healthy);
}

Status on(Ctx& ctx, const v1::DeploymentServersAssigned& e) {
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) {
    d.set_cluster_id(e.cluster_id());
    *d.mutable_placement() = e.placement();
    for (auto& s : *d.mutable_services()) count_replicas(d, s);
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
    if (!e.server_id().empty() && std::find(state->server_ids().begin(), state->server_ids().end(),
                                            e.server_id()) == state->server_ids().end()) {
      state->add_server_ids(e.server_id());
    }
    if (!e.server_id().empty()) (*state->mutable_server_status())[e.server_id()] = e.to_status();
    count_replicas(d, *state);
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
  return update_deployment(ctx, e.deployment_id(), [&](v1::Deployment& d) { d.set_paused(false); });
}

// The history of successes a rollback can return to, rotated per project.
Status on(Ctx& ctx, v1::DeploymentSnapshotted& e) {
  const std::string project_id = e.snapshot().project_id();
  const std::string deployment_id = e.snapshot().deployment_id();
  RowIndex index;
  index.project_id = project_id;
  index.environment = e.snapshot().environment();
  index.sort_key = ctx.at_ms();
  put(ctx.rows, Table::kDeploymentHistory, deployment_id, std::move(index),
      std::move(*e.mutable_snapshot()));
  const std::string list_key = history_key(project_id);
  auto list = find<v1::ProjectSnapshot::Successes>(ctx.rows, Table::kInternal, list_key);
  if (!list.ok()) return list.status();
  if (*list == nullptr) {
    put(ctx.rows, Table::kInternal, list_key, {}, v1::ProjectSnapshot::Successes());
    list = find<v1::ProjectSnapshot::Successes>(ctx.rows, Table::kInternal, list_key);
    if (!list.ok()) return list.status();
  } else {
    ctx.rows.changed(Table::kInternal, list_key, {});
  }
  v1::ProjectSnapshot::Successes& ids = **list;
  if (std::find(ids.deployment_ids().begin(), ids.deployment_ids().end(), deployment_id) ==
      ids.deployment_ids().end()) {
    ids.add_deployment_ids(deployment_id);
  }
  const auto max = static_cast<int>(std::max<std::size_t>(ctx.options.max_history_per_project, 1));
  if (ids.deployment_ids_size() > max) {
    const int drop = ids.deployment_ids_size() - max;
    for (int i = 0; i < drop; ++i) ctx.rows.erase(Table::kDeploymentHistory, ids.deployment_ids(i));
    ids.mutable_deployment_ids()->DeleteSubrange(0, drop);
  }
  return ok_status();
}

// --- audit summaries: the line a person reads in the audit view.

std::string type_tail(const std::string& type) {
  const auto dot = type.rfind('.');
  return dot == std::string::npos ? type : type.substr(dot + 1);
}

template <typename Event>
std::string summarize(const Ctx& ctx, const Event&) {
  return type_tail(ctx.event.type()) + " by " +
         (ctx.event.actor().empty() ? "system" : ctx.event.actor());
}

std::string summarize(const Ctx&, const v1::DeploymentRequested& e) {
  return "deployment " + e.deployment_id() + " of graph version " +
         std::to_string(e.graph_version()) + " to " + e.environment() + " requested by " +
         e.requested_by();
}

std::string summarize(const Ctx&, const v1::DeploymentStatusChanged& e) {
  return "deployment " + e.deployment_id() + " " + commands::status_name(e.from_status()) + " -> " +
         commands::status_name(e.to_status());
}

std::string summarize(const Ctx&, const v1::DeploymentFailed& e) {
  return "deployment " + e.deployment_id() + " failed: " + e.reason();
}

std::string summarize(const Ctx&, const v1::GraphPublished& e) {
  return "graph version " + std::to_string(e.graph().version()) + " published (" +
         std::to_string(e.graph().services_size()) + " services)";
}

// One handler per project event type: unpack, summarize (before `on` may move from the event),
// fold into the rows.
using Handler = Status (*)(Ctx&, const google::protobuf::Any&, std::string& summary);

template <typename Event>
std::pair<std::string_view, Handler> handler() {
  return {Event::descriptor()->full_name(),
          [](Ctx& ctx, const google::protobuf::Any& payload, std::string& summary) -> Status {
            Event event;
            if (!payload.UnpackTo(&event)) {
              return data_loss("event " + ctx.event.event_id() + " at " + ctx.at.tp.to_string() +
                               "@" + std::to_string(ctx.at.offset) + " does not parse as " +
                               Event::descriptor()->full_name());
            }
            summary = summarize(ctx, event);
            return on(ctx, event);
          }};
}

Status project_event(Ctx& ctx, std::string& summary) {
  // Keys are the descriptors' own names, which live as long as the program.
  static const std::unordered_map<std::string_view, Handler> handlers = {
      handler<v1::ProjectRegistered>(),         handler<v1::GraphPublished>(),
      handler<v1::RollbackRequested>(),         handler<v1::DeploymentRequested>(),
      handler<v1::DeploymentSuperseded>(),      handler<v1::DeploymentStatusChanged>(),
      handler<v1::DeploymentConfigGenerated>(), handler<v1::DeploymentServersAssigned>(),
      handler<v1::DeploymentStepStarted>(),     handler<v1::DeploymentStepCompleted>(),
      handler<v1::ServiceStatusChanged>(),      handler<v1::DeploymentSucceeded>(),
      handler<v1::DeploymentFailed>(),          handler<v1::DeploymentCancelRequested>(),
      handler<v1::DeploymentCancelled>(),       handler<v1::DeploymentPaused>(),
      handler<v1::DeploymentPromoted>(),        handler<v1::DeploymentSnapshotted>(),
  };
  const std::string_view url = ctx.event.payload().type_url();
  const auto slash = url.rfind('/');
  const auto it = handlers.find(slash == std::string_view::npos ? url : url.substr(slash + 1));
  if (it != handlers.end()) {
    AXION_RETURN_IF_ERROR(it->second(ctx, ctx.event.payload(), summary));
  } else {
    summary = summarize(ctx, ctx.event);  // a type this build does not know: changes nothing
  }
  // The project's own version follows its stream.
  const std::string& project = ctx.event.aggregate_id();
  auto p = find<v1::Project>(ctx.rows, Table::kProjects, project);
  if (!p.ok()) return p.status();
  if (*p != nullptr && (*p)->version() < ctx.event.sequence()) {
    (*p)->set_version(ctx.event.sequence());
    ctx.rows.changed(Table::kProjects, project, project_index(**p));
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
  // The sealed credential (ciphertext only) is kept for the gateway's SSH work; query answers
  // clear it (ViewQueries).
  *out.mutable_credential() = s.credential;
  out.set_host_key_fingerprint(s.host_key_fingerprint);
  out.set_status(s.status);
  *out.mutable_labels() =
      google::protobuf::Map<std::string, std::string>(s.labels.begin(), s.labels.end());
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

// The cluster aggregate's folded state, kept per cluster in Table::kInternal.
struct ClusterDoc final : Doc {
  commands::ClusterState state;
  std::string encode() const override { return serialize(commands::to_snapshot(state)); }
};

Result<std::unique_ptr<Doc>> decode_cluster(const Row& row) {
  v1::ClusterSnapshot snapshot;
  if (!snapshot.ParseFromString(row.doc)) {
    return unreadable(row, v1::ClusterSnapshot::descriptor()->full_name());
  }
  auto restored = commands::from_snapshot(snapshot);
  if (!restored.ok()) return restored.status();
  auto doc = std::make_unique<ClusterDoc>();
  doc->state = std::move(restored).value();
  return std::unique_ptr<Doc>(std::move(doc));
}

Result<commands::ClusterState*> cluster_state(RowAccess& rows, const std::string& cluster_id) {
  const std::string key = cluster_state_key(cluster_id);
  auto found = rows.find(Table::kInternal, key, &decode_cluster);
  if (!found.ok()) return found.status();
  if (*found == nullptr) {
    return &static_cast<ClusterDoc*>(
                rows.put(Table::kInternal, key, {}, std::make_unique<ClusterDoc>()))
                ->state;
  }
  auto* doc = dynamic_cast<ClusterDoc*>(*found);
  if (doc == nullptr) return internal_error("view row internal/" + key + " is not a cluster");
  rows.changed(Table::kInternal, key, {});
  return &doc->state;
}

Status render_cluster(Ctx& ctx, const commands::ClusterState& state, const std::string& id) {
  auto old = find<v1::Cluster>(ctx.rows, Table::kClusters, id);
  if (!old.ok()) return old.status();
  v1::Cluster c;
  c.set_cluster_id(id);
  c.set_name(state.name);
  c.set_description(state.description);
  *c.mutable_labels() =
      google::protobuf::Map<std::string, std::string>(state.labels.begin(), state.labels.end());
  c.set_kind(state.kind);
  c.set_server_count(static_cast<std::uint32_t>(state.servers.size()));
  *c.mutable_created_at() = *old != nullptr ? (*old)->created_at() : ctx.event.occurred_at();
  *c.mutable_updated_at() = ctx.event.occurred_at();
  c.set_version(state.version);
  RowIndex index;
  index.sort_key = TimeUtil::TimestampToMilliseconds(c.created_at());
  put(ctx.rows, Table::kClusters, id, std::move(index), std::move(c));
  return ok_status();
}

Status render_server(Ctx& ctx, const commands::ServerState& s, const std::string& cluster_id) {
  auto old = find<v1::Server>(ctx.rows, Table::kServers, s.server_id);
  if (!old.ok()) return old.status();
  v1::Server row = server_row(s, cluster_id);
  if (*old != nullptr) {
    *row.mutable_created_at() = (*old)->created_at();
    *row.mutable_last_seen_at() = (*old)->last_seen_at();
  } else {
    *row.mutable_created_at() = ctx.event.occurred_at();
  }
  *row.mutable_updated_at() = ctx.event.occurred_at();
  const auto& payload = ctx.event.payload();
  if (payload.Is<v1::AgentRegistered>() || payload.Is<v1::AgentStatusChanged>()) {
    *row.mutable_last_seen_at() = ctx.event.occurred_at();
  }
  RowIndex index;
  index.cluster_id = cluster_id;
  index.sort_key = TimeUtil::TimestampToMilliseconds(row.created_at());
  put(ctx.rows, Table::kServers, s.server_id, std::move(index), std::move(row));
  return ok_status();
}

// Folds the event into its cluster's state and renders what it changed: the cluster row (its
// version moves with every event of its servers too) and, for a server's event, that server's
// row only — so an event costs the same whatever the size of the cluster. Which server is the
// payload's to say (commands::event_target): the envelope's stream may be the cluster's.
Status infrastructure_event(Ctx& ctx) {
  const v1::EventEnvelope& e = ctx.event;
  const std::string& cluster_id =
      e.aggregate_type() == events::aggregate_type::kCluster || e.partition_key().empty()
          ? e.aggregate_id()
          : e.partition_key();
  auto found = cluster_state(ctx.rows, cluster_id);
  if (!found.ok()) return found.status();
  commands::ClusterState& state = **found;
  commands::apply_event(state, e);
  if (state.deleted) {
    ctx.rows.erase(Table::kClusters, cluster_id);
    for (const auto& [id, s] : state.servers) ctx.rows.erase(Table::kServers, id);
    return ok_status();
  }
  if (!state.exists) return ok_status();
  AXION_RETURN_IF_ERROR(render_cluster(ctx, state, cluster_id));
  const auto target = commands::event_target(e.payload());
  if (!target.ok() || target->aggregate_type != events::aggregate_type::kServer) {
    return ok_status();  // the cluster's own event, or a type this build does not know
  }
  const auto server = state.servers.find(target->aggregate_id);
  return server == state.servers.end() ? ok_status()
                                       : render_server(ctx, server->second, cluster_id);
}

// --- audit

void audit(Ctx& ctx, std::string summary) {
  const v1::EventEnvelope& e = ctx.event;
  v1::AuditEntry entry = audit_entry_of(ctx.at.tp, ctx.at.offset, e);
  entry.set_summary(std::move(summary));
  RowIndex index;
  index.project_id = e.aggregate_id();
  index.sort_key = static_cast<std::int64_t>(e.sequence());
  put(ctx.rows, Table::kAudit, numbered_key(e.aggregate_id(), e.sequence()), std::move(index),
      std::move(entry));
}

}  // namespace

namespace {

// A RowAccess over an empty store that records every row asked for and not written before.
class ReadRecorder final : public RowAccess {
 public:
  Result<Doc*> find(Table table, const std::string& key, Decoder) override {
    auto id = std::make_pair(table, key);
    if (auto it = written_.find(id); it != written_.end()) return it->second.get();
    if (asked_.insert(id).second) reads_.push_back(std::move(id));
    return static_cast<Doc*>(nullptr);
  }
  Doc* put(Table table, const std::string& key, RowIndex, std::unique_ptr<Doc> doc) override {
    auto& slot = written_[std::make_pair(table, key)];
    slot = std::move(doc);
    return slot.get();
  }
  void changed(Table, const std::string&, RowIndex) override {}
  void erase(Table table, const std::string& key) override {
    written_[std::make_pair(table, key)].reset();
  }
  std::vector<RowId> take() { return std::move(reads_); }

 private:
  std::map<RowId, std::unique_ptr<Doc>> written_;
  std::set<RowId> asked_;
  std::vector<RowId> reads_;
};

}  // namespace

std::vector<RowId> rows_read(const std::vector<EventAt>& events, const ProjectorOptions& options) {
  ReadRecorder recorder;
  for (const auto& e : events) (void)project(*e.event, e.at, recorder, options);
  return recorder.take();
}

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
    std::string summary;
    AXION_RETURN_IF_ERROR(project_event(ctx, summary));
    audit(ctx, std::move(summary));
    return ok_status();
  }
  if (type == events::aggregate_type::kCluster || type == events::aggregate_type::kServer) {
    return infrastructure_event(ctx);
  }
  return ok_status();  // another writer's aggregate: no view of ours
}

}  // namespace axion::projections
