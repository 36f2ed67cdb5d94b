#include "commands/state_snapshots.h"

namespace axion::commands {

namespace v1 = axion::v1;

v1::ProjectSnapshot to_snapshot(const ProjectState& s) {
  v1::ProjectSnapshot out;
  out.set_exists(s.exists);
  out.set_project_id(s.project_id);
  out.set_name(s.name);
  out.set_owner(s.owner);
  out.set_version(s.version);
  out.set_latest_graph_version(s.latest_graph_version);
  for (const auto& [version, info] : s.graphs) {
    auto* g = out.add_graphs();
    g->set_version(version);
    g->set_content_hash(info.content_hash);
    g->set_commit_hash(info.commit_hash);
  }
  for (const auto& [id, d] : s.deployments) {
    auto* o = out.add_deployments();
    o->set_deployment_id(d.deployment_id);
    o->set_environment(d.environment);
    o->set_status(d.status);
    o->set_graph_version(d.graph_version);
    *o->mutable_strategy() = d.strategy;
    *o->mutable_options() = d.options;
    o->set_strategy_kind(static_cast<std::uint32_t>(d.strategy_kind));
    o->set_rollback_of(d.rollback_of);
    o->set_rollback_target(d.rollback_target);
    o->set_superseded_by(d.superseded_by);
    o->set_requested_by(d.requested_by);
    o->set_created_at_ms(d.created_at_ms);
    o->set_ordinal(d.ordinal);
    o->set_current_step(d.current_step);
    o->set_paused(d.paused);
    o->set_cancel_requested(d.cancel_requested);
    o->set_has_snapshot(d.has_snapshot);
    o->set_terminal(d.terminal);
  }
  for (const auto& [env, id] : s.active_by_environment) {
    (*out.mutable_active_by_environment())[env] = id;
  }
  for (const auto& [env, ids] : s.successes_by_environment) {
    auto& list = (*out.mutable_successes_by_environment())[env];
    for (const auto& id : ids) list.add_deployment_ids(id);
  }
  out.set_deployments_requested(s.deployments_requested);
  return out;
}

Result<ProjectState> from_snapshot(const v1::ProjectSnapshot& in) {
  ProjectState s;
  s.exists = in.exists();
  s.project_id = in.project_id();
  s.name = in.name();
  s.owner = in.owner();
  s.version = in.version();
  s.latest_graph_version = in.latest_graph_version();
  for (const auto& g : in.graphs()) {
    if (!s.graphs.try_emplace(g.version(), GraphInfo{g.content_hash(), g.commit_hash()}).second) {
      return data_loss("project snapshot lists graph version " + std::to_string(g.version()) +
                       " twice");
    }
  }
  for (const auto& o : in.deployments()) {
    if (o.strategy_kind() > static_cast<std::uint32_t>(StrategyKind::kBlueGreen)) {
      return data_loss("project snapshot has an unknown strategy kind " +
                       std::to_string(o.strategy_kind()));
    }
    DeploymentInfo d;
    d.deployment_id = o.deployment_id();
    d.environment = o.environment();
    d.status = o.status();
    d.graph_version = o.graph_version();
    d.strategy = o.strategy();
    d.options = o.options();
    d.strategy_kind = static_cast<StrategyKind>(o.strategy_kind());
    d.rollback_of = o.rollback_of();
    d.rollback_target = o.rollback_target();
    d.superseded_by = o.superseded_by();
    d.requested_by = o.requested_by();
    d.created_at_ms = o.created_at_ms();
    d.ordinal = o.ordinal();
    d.current_step = o.current_step();
    d.paused = o.paused();
    d.cancel_requested = o.cancel_requested();
    d.has_snapshot = o.has_snapshot();
    d.terminal = o.terminal();
    if (!s.deployments.try_emplace(o.deployment_id(), std::move(d)).second) {
      return data_loss("project snapshot lists deployment '" + o.deployment_id() + "' twice");
    }
  }
  for (const auto& [env, id] : in.active_by_environment()) s.active_by_environment[env] = id;
  for (const auto& [env, list] : in.successes_by_environment()) {
    s.successes_by_environment[env].assign(list.deployment_ids().begin(),
                                           list.deployment_ids().end());
  }
  s.deployments_requested = in.deployments_requested();
  return s;
}

namespace {

v1::ClusterSnapshot::AgentCredential credential_to_snapshot(const AgentCredentialState& c) {
  v1::ClusterSnapshot::AgentCredential out;
  out.set_hash(c.hash);
  out.set_expires_at_ms(c.expires_at_ms);
  out.set_used(c.used);
  out.set_revoked(c.revoked);
  return out;
}

AgentCredentialState credential_from_snapshot(const v1::ClusterSnapshot::AgentCredential& in) {
  return {in.hash(), in.expires_at_ms(), in.used(), in.revoked()};
}

}  // namespace

v1::ClusterSnapshot to_snapshot(const ClusterState& s) {
  v1::ClusterSnapshot out;
  out.set_exists(s.exists);
  out.set_deleted(s.deleted);
  out.set_cluster_id(s.cluster_id);
  out.set_name(s.name);
  out.set_description(s.description);
  for (const auto& [k, v] : s.labels) (*out.mutable_labels())[k] = v;
  out.set_kind(s.kind);
  for (const auto& [id, srv] : s.servers) {
    auto* o = out.add_servers();
    o->set_server_id(srv.server_id);
    o->set_name(srv.name);
    o->set_host(srv.host);
    o->set_port(srv.port);
    o->set_ssh_user(srv.ssh_user);
    o->set_auth_kind(srv.auth_kind);
    *o->mutable_credential() = srv.credential;
    o->set_host_key_fingerprint(srv.host_key_fingerprint);
    o->set_host_key_algorithm(srv.host_key_algorithm);
    o->set_status(srv.status);
    for (const auto& [k, v] : srv.labels) (*o->mutable_labels())[k] = v;
    o->set_cpu_millis(srv.capacity.cpu_millis);
    o->set_memory_mb(srv.capacity.memory_mb);
    o->set_disk_mb(srv.capacity.disk_mb);
    o->set_tested(srv.tested);
    *o->mutable_last_report() = srv.last_report;
    o->set_created_by(srv.created_by);
    o->set_agent_status(srv.agent_status);
    o->set_agent_id(srv.agent_id);
    o->set_agent_version(srv.agent_version);
    for (const auto& r : srv.agent_runtimes) o->add_agent_runtimes(r);
    o->set_agent_status_reason(srv.agent_status_reason);
    auto* install = o->mutable_install();
    install->set_install_id(srv.install.install_id);
    install->set_running(srv.install.running);
    install->set_agent_version(srv.install.agent_version);
    install->set_requested_by(srv.install.requested_by);
    install->set_last_step(srv.install.last_step);
    install->set_last_outcome(srv.install.last_outcome);
    install->set_failed_step(srv.install.failed_step);
    install->set_failure_reason(srv.install.failure_reason);
    install->set_uninstall_id(srv.install.uninstall_id);
    install->set_uninstall_running(srv.install.uninstall_running);
    o->set_version(srv.version);
    *o->mutable_registration_token() = credential_to_snapshot(srv.registration_token);
    *o->mutable_agent_credential() = credential_to_snapshot(srv.agent_credential);
    o->set_agent_session(srv.agent_session);
  }
  out.set_version(s.version);
  return out;
}

Result<ClusterState> from_snapshot(const v1::ClusterSnapshot& in) {
  ClusterState s;
  s.exists = in.exists();
  s.deleted = in.deleted();
  s.cluster_id = in.cluster_id();
  s.name = in.name();
  s.description = in.description();
  for (const auto& [k, v] : in.labels()) s.labels[k] = v;
  s.kind = in.kind();
  for (const auto& o : in.servers()) {
    ServerState srv;
    srv.server_id = o.server_id();
    srv.name = o.name();
    srv.host = o.host();
    srv.port = o.port();
    srv.ssh_user = o.ssh_user();
    srv.auth_kind = o.auth_kind();
    srv.credential = o.credential();
    srv.host_key_fingerprint = o.host_key_fingerprint();
    srv.host_key_algorithm = o.host_key_algorithm();
    srv.status = o.status();
    for (const auto& [k, v] : o.labels()) srv.labels[k] = v;
    srv.capacity = {o.cpu_millis(), o.memory_mb(), o.disk_mb()};
    srv.tested = o.tested();
    srv.last_report = o.last_report();
    srv.created_by = o.created_by();
    srv.agent_status = o.agent_status();
    srv.agent_id = o.agent_id();
    srv.agent_version = o.agent_version();
    srv.agent_runtimes.assign(o.agent_runtimes().begin(), o.agent_runtimes().end());
    srv.agent_status_reason = o.agent_status_reason();
    const auto& install = o.install();
    srv.install.install_id = install.install_id();
    srv.install.running = install.running();
    srv.install.agent_version = install.agent_version();
    srv.install.requested_by = install.requested_by();
    srv.install.last_step = install.last_step();
    srv.install.last_outcome = install.last_outcome();
    srv.install.failed_step = install.failed_step();
    srv.install.failure_reason = install.failure_reason();
    srv.install.uninstall_id = install.uninstall_id();
    srv.install.uninstall_running = install.uninstall_running();
    srv.version = o.version();
    srv.registration_token = credential_from_snapshot(o.registration_token());
    srv.agent_credential = credential_from_snapshot(o.agent_credential());
    srv.agent_session = o.agent_session();
    if (!s.servers.try_emplace(o.server_id(), std::move(srv)).second) {
      return data_loss("cluster snapshot lists server '" + o.server_id() + "' twice");
    }
  }
  s.version = in.version();
  return s;
}

}  // namespace axion::commands
