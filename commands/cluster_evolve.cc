// The Cluster aggregate's fold: evolve() for every infrastructure event, including those the
// SSH saga (issue 8) emits — connection tests, host keys, install steps — so the state is right
// whichever processor wrote them. Events are facts: evolve never refuses, it only skips what is
// not about this cluster (see the header).
#include <unordered_map>

#include "commands/cluster_aggregate.h"
#include "commands/cluster_internal.h"
#include "commands/validators.h"

namespace axion::commands {

namespace v1 = axion::v1;
using namespace cluster_detail;

namespace {

bool ours(const ClusterState& st, const std::string& cluster_id) {
  return st.exists && cluster_id == st.cluster_id;
}

// The server a server event is about, with its stream's version advanced (each such event is
// one sequence of aggregate "server"); nullptr if the event is not about a server of ours.
template <typename E>
ServerState* touch(ClusterState& st, const E& e) {
  if (!ours(st, e.cluster_id())) return nullptr;
  const auto it = st.servers.find(e.server_id());
  if (it == st.servers.end()) return nullptr;
  ++it->second.version;
  return &it->second;
}

bool report_ok(const v1::ServerReport& r) { return r.reachable() && r.authenticated(); }

// What SSH alone says about a server (used when the agent stops being the judge).
v1::ServerStatus ssh_status(const ServerState& s) {
  if (!s.tested) return v1::SERVER_STATUS_NEW;
  if (report_ok(s.last_report)) return v1::SERVER_STATUS_REACHABLE;
  return s.last_report.reachable() ? v1::SERVER_STATUS_ERROR : v1::SERVER_STATUS_UNREACHABLE;
}

void apply(ClusterState& st, const v1::ClusterCreated& e) {
  if (st.exists) return;  // ids are never reused; a second create cannot be decided
  st.exists = true;
  st.cluster_id = e.cluster_id();
  st.name = e.name();
  st.description = e.description();
  st.labels = to_std_map(e.labels());
  st.kind = e.kind() == v1::CLUSTER_KIND_UNSPECIFIED ? v1::CLUSTER_KIND_SERVERS : e.kind();
  ++st.version;
}

void apply(ClusterState& st, const v1::ClusterUpdated& e) {
  if (!ours(st, e.cluster_id())) return;
  st.name = e.name();
  st.description = e.description();
  st.labels = to_std_map(e.labels());
  ++st.version;
}

void apply(ClusterState& st, const v1::ClusterDeleted& e) {
  if (!ours(st, e.cluster_id())) return;
  st.deleted = true;
  ++st.version;
}

void apply(ClusterState& st, const v1::ServerCreated& e) {
  if (!ours(st, e.cluster_id()) || st.servers.count(e.server_id())) return;
  ServerState s;
  s.server_id = e.server_id();
  s.name = e.name();
  s.host = e.host();
  s.port = e.port() == 0 ? 22 : e.port();
  s.ssh_user = e.ssh_user();
  s.auth_kind = e.auth_kind();
  s.credential = e.credential();
  s.labels = to_std_map(e.labels());
  s.created_by = e.created_by();
  s.version = 1;
  st.servers.emplace(s.server_id, std::move(s));
}

void apply(ClusterState& st, const v1::ServerConfigured& e) {
  ServerState* s = touch(st, e);
  if (!s) return;
  const std::uint32_t port = e.port() == 0 ? 22 : e.port();
  const bool connection_changed = canonical_host(e.host()) != canonical_host(s->host) ||
                                  port != s->port ||
                                  e.ssh_user() != s->ssh_user || e.auth_kind() != s->auth_kind ||
                                  !same_message(e.credential(), s->credential);
  s->name = e.name();
  s->host = e.host();
  s->port = port;
  s->ssh_user = e.ssh_user();
  s->auth_kind = e.auth_kind();
  s->credential = e.credential();
  s->labels = to_std_map(e.labels());
  if (e.host_key_reset()) {
    s->host_key_fingerprint.clear();
    s->host_key_algorithm.clear();
  }
  // New settings are untested (the last report was about the old ones); an online agent still
  // vouches for the server itself.
  if (connection_changed) {
    s->tested = false;
    s->last_report.Clear();
    if (s->agent_status != v1::AGENT_STATUS_ONLINE) s->status = v1::SERVER_STATUS_NEW;
  }
}

void apply(ClusterState& st, const v1::ServerConnectionTested& e) {
  ServerState* s = touch(st, e);
  if (!s) return;
  s->tested = true;
  s->last_report = e.report();
  const v1::ServerReport& r = e.report();
  if (report_ok(r) && r.cpu_count() > 0) {
    s->capacity = {r.cpu_count() * 1000u, r.memory_mb(), r.disk_mb()};
  }
  s->status = s->agent_status == v1::AGENT_STATUS_ONLINE ? v1::SERVER_STATUS_READY : ssh_status(*s);
}

void apply(ClusterState& st, const v1::HostKeyPinned& e) {
  ServerState* s = touch(st, e);
  if (!s) return;
  s->host_key_fingerprint = e.fingerprint();
  s->host_key_algorithm = e.algorithm();
}

void apply(ClusterState& st, const v1::AgentInstallRequested& e) {
  ServerState* s = touch(st, e);
  if (!s) return;
  s->install = InstallState{};
  s->install.install_id = e.install_id();
  s->install.running = true;
  s->install.agent_version = e.agent_version();
  s->install.requested_by = e.requested_by();
  s->agent_status = v1::AGENT_STATUS_INSTALLING;
}

void apply(ClusterState& st, const v1::AgentInstallStepCompleted& e) {
  ServerState* s = touch(st, e);
  if (!s || e.install_id() != s->install.install_id) return;  // a stale attempt's report
  s->install.last_step = e.step();
  s->install.last_outcome = e.outcome();
}

void apply(ClusterState& st, const v1::AgentInstalled& e) {
  ServerState* s = touch(st, e);
  if (!s || e.install_id() != s->install.install_id) return;
  s->install.running = false;
  s->agent_status = v1::AGENT_STATUS_ONLINE;
  s->agent_version = e.agent_version();
  if (!e.agent_id().empty()) s->agent_id = e.agent_id();
  s->status = v1::SERVER_STATUS_READY;
}

void apply(ClusterState& st, const v1::AgentInstallFailed& e) {
  ServerState* s = touch(st, e);
  if (!s || e.install_id() != s->install.install_id) return;
  s->install.running = false;
  s->install.failed_step = e.step();
  s->install.failure_reason = e.reason();
  s->agent_status = v1::AGENT_STATUS_FAILED;
  // What GetAgentStatus and the servers view say: where the install stopped and why.
  s->agent_status_reason = (e.cancelled() ? "install stopped at " : "install failed at ") +
                           v1::AgentInstallStep_Name(e.step()) + ": " + e.reason();
  s->status = v1::SERVER_STATUS_ERROR;
}

void apply(ClusterState& st, const v1::AgentUninstallRequested& e) {
  ServerState* s = touch(st, e);
  if (!s) return;
  s->install.uninstall_id = e.uninstall_id();
  s->install.uninstall_running = true;
}

void apply(ClusterState& st, const v1::AgentUninstallFailed& e) {
  ServerState* s = touch(st, e);
  if (!s || e.uninstall_id() != s->install.uninstall_id) return;
  s->install.uninstall_running = false;
  s->agent_status_reason = "uninstall failed: " + e.reason();
}

void apply(ClusterState& st, const v1::AgentUninstalled& e) {
  ServerState* s = touch(st, e);
  if (!s) return;
  s->install.uninstall_running = false;
  // The removed agent's secrets are void: a copy of its state directory cannot bring it back.
  if (!s->registration_token.hash.empty()) s->registration_token.revoked = true;
  if (!s->agent_credential.hash.empty()) s->agent_credential.revoked = true;
  s->agent_status = v1::AGENT_STATUS_UNINSTALLED;
  s->agent_version.clear();
  s->agent_runtimes.clear();
  s->agent_status_reason = e.reason();
  s->status = ssh_status(*s);
}

void apply(ClusterState& st, const v1::AgentRegistered& e) {
  ServerState* s = touch(st, e);
  if (!s) return;
  s->agent_id = e.agent_id();
  s->agent_version = e.version();
  s->agent_runtimes.assign(e.runtimes().begin(), e.runtimes().end());
  s->agent_status = v1::AGENT_STATUS_ONLINE;
  if (e.host().cpus() > 0) {
    s->capacity = {e.host().cpus() * 1000u, e.host().memory_mb(), e.host().disk_mb()};
  }
  s->status = v1::SERVER_STATUS_READY;
}

void apply(ClusterState& st, const v1::AgentStatusChanged& e) {
  ServerState* s = touch(st, e);
  if (!s) return;
  s->agent_status = e.to_status();
  s->agent_status_reason = e.reason();
  if (e.to_status() == v1::AGENT_STATUS_ONLINE && !e.session_id().empty()) {
    s->agent_session = e.session_id();
  }
  if (e.to_status() == v1::AGENT_STATUS_ONLINE) s->status = v1::SERVER_STATUS_READY;
  if (e.to_status() == v1::AGENT_STATUS_OFFLINE) s->status = v1::SERVER_STATUS_UNREACHABLE;
}

// A registration token replaces any earlier one; a long-lived credential consumes the
// registration token it was exchanged for and replaces any earlier credential.
void apply(ClusterState& st, const v1::AgentCredentialIssued& e) {
  ServerState* s = touch(st, e);
  if (!s) return;
  AgentCredentialState issued;
  issued.hash = e.credential_hash();
  if (e.has_expires_at()) {
    issued.expires_at_ms = e.expires_at().seconds() * 1000 + e.expires_at().nanos() / 1000000;
  }
  switch (e.kind()) {
    case v1::AGENT_CREDENTIAL_KIND_REGISTRATION_TOKEN:
      s->registration_token = issued;
      break;
    case v1::AGENT_CREDENTIAL_KIND_LONG_LIVED:
      s->agent_credential = issued;
      s->registration_token.used = true;
      break;
    default:
      break;  // a kind this build does not know: nothing to authenticate against
  }
}

void apply(ClusterState& st, const v1::AgentCredentialRevoked& e) {
  ServerState* s = touch(st, e);
  if (!s) return;
  if (!s->registration_token.hash.empty()) s->registration_token.revoked = true;
  if (!s->agent_credential.hash.empty()) s->agent_credential.revoked = true;
}

// A server envelope belongs to this cluster if its log key (partition_key) is our cluster id.
bool record_key_matches(const ClusterState& st, const v1::EventEnvelope& envelope) {
  return envelope.partition_key().empty() || envelope.partition_key() == st.cluster_id;
}

using Applier = void (*)(ClusterState&, const google::protobuf::Any&);

template <typename E>
std::pair<std::string, Applier> on() {
  return {E::descriptor()->full_name(), [](ClusterState& st, const google::protobuf::Any& any) {
            E e;
            // Payloads were checked when the envelope was read (events::payload_as); one that
            // does not parse here is skipped rather than half-applied.
            if (any.UnpackTo(&e)) apply(st, e);
          }};
}

}  // namespace

void apply_event(ClusterState& state, const google::protobuf::Any& event) {
  static const std::unordered_map<std::string, Applier> appliers = {
      on<v1::ClusterCreated>(),         on<v1::ClusterUpdated>(),
      on<v1::ClusterDeleted>(),         on<v1::ServerCreated>(),
      on<v1::ServerConfigured>(),       on<v1::ServerConnectionTested>(),
      on<v1::HostKeyPinned>(),          on<v1::AgentInstallRequested>(),
      on<v1::AgentInstallStepCompleted>(), on<v1::AgentInstalled>(),
      on<v1::AgentInstallFailed>(),     on<v1::AgentUninstalled>(),
      on<v1::AgentUninstallRequested>(), on<v1::AgentUninstallFailed>(),
      on<v1::AgentRegistered>(),        on<v1::AgentStatusChanged>(),
      on<v1::AgentCredentialIssued>(),     on<v1::AgentCredentialRevoked>(),
  };
  const std::string_view url = event.type_url();
  const auto slash = url.rfind('/');
  const std::string type(slash == std::string_view::npos ? url : url.substr(slash + 1));
  // Unknown event types are ignored: forward compatibility (docs/SCHEMAS.md) — a newer writer
  // may add events this build has never heard of, and replay must not fail on them.
  if (const auto it = appliers.find(type); it != appliers.end()) it->second(state, event);
}

ClusterState evolve(ClusterState state, const google::protobuf::Any& event) {
  apply_event(state, event);
  return state;
}

void apply_event(ClusterState& state, const v1::EventEnvelope& envelope) {
  apply_event(state, envelope.payload());
  // The envelope knows the stream and its sequence even when the payload type is unknown here.
  if (envelope.aggregate_type() == "cluster" && state.exists &&
      envelope.aggregate_id() == state.cluster_id) {
    state.version = envelope.sequence();
  } else if (envelope.aggregate_type() == "server" && record_key_matches(state, envelope)) {
    const auto it = state.servers.find(envelope.aggregate_id());
    if (it != state.servers.end()) it->second.version = envelope.sequence();
  }
}

ClusterState evolve(ClusterState state, const v1::EventEnvelope& envelope) {
  apply_event(state, envelope);
  return state;
}

}  // namespace axion::commands
