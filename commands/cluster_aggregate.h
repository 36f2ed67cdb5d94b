// The Cluster aggregate: a cluster and the servers in it (with their SSH settings and agent),
// decided and folded as pure functions (commands/decision.h). One ClusterState is the
// consistency boundary for everything keyed by cluster_id on axion.infrastructure.events.v1:
// unique host:port and names per cluster, "no delete while servers exist" and the per-user
// server count all need the whole cluster in view.
//
// Envelopes (docs/SCHEMAS.md): cluster events belong to aggregate "cluster" (id cluster_id),
// server and agent events to aggregate "server" (id server_id, partition key cluster_id); each
// has its own sequence. `event_target` tells the processor which one an event belongs to, and
// ClusterState::version / ServerState::version are each stream's last sequence.
//
// TestServerConnection is run over SSH by the gateway and recorded with its report
// (ServerConnectionTested, HostKeyPinned). InstallAgent and UninstallAgent record their intent
// (AgentInstallRequested, AgentUninstallRequested) because the installer must resume them from
// the log; it reports with RecordAgentInstallStep / RecordAgentUninstall (cluster_install.cc).
//
// Agent reports: AgentRegistered and AgentStatusChanged double as the payloads of the internal
// commands that record them ("RecordAgentRegistered", "RecordAgentStatus"); only the actors
// "system" and "agent:<id>" (for its own agent id) may send them.
//
// Limits of one aggregate, and where the rest belongs:
// - MAX_SERVERS_PER_USER is counted per creator (ServerCreated.created_by) within this cluster
//   only; the global count needs a per-user quota aggregate or a read-model check in the gateway
//   (see check_server_limit in cluster_servers.cc).
// - Cluster names are unique per the proto, across clusters: a gateway/read-model check.
// - infrastructure.proto has no command or event that removes a server, so once a cluster has
//   had a server it cannot be deleted; a RemoveServer/ServerRemoved pair would fix that.
#pragma once

#include <google/protobuf/any.pb.h>

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "axion/v1/envelope.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "commands/decision.h"
#include "common/status.h"

namespace axion::commands {

// Resources of a server, from the last agent registration or successful connection test.
struct Capacity {
  std::uint32_t cpu_millis = 0;
  std::uint64_t memory_mb = 0;
  std::uint64_t disk_mb = 0;
  bool operator==(const Capacity&) const = default;
};

// The latest agent installation attempt on a server.
struct InstallState {
  std::string install_id;  // empty = never attempted
  bool running = false;    // requested and neither installed nor failed yet
  std::string agent_version;
  std::string requested_by;
  axion::v1::AgentInstallStep last_step = axion::v1::AGENT_INSTALL_STEP_UNSPECIFIED;
  axion::v1::InstallStepOutcome last_outcome = axion::v1::INSTALL_STEP_OUTCOME_UNSPECIFIED;
  axion::v1::AgentInstallStep failed_step = axion::v1::AGENT_INSTALL_STEP_UNSPECIFIED;
  std::string failure_reason;
  std::string uninstall_id;        // the latest removal attempt ("" = none)
  bool uninstall_running = false;  // AgentUninstallRequested, neither uninstalled nor failed yet
  bool operator==(const InstallState&) const = default;
};

// One credential of a server's agent, as far as the aggregate knows it: only its SHA-256.
struct AgentCredentialState {
  std::string hash;              // lowercase hex SHA-256; empty = none issued
  std::int64_t expires_at_ms = 0;  // 0 = never
  bool used = false;             // a registration token exchanged for a long-lived credential
  bool revoked = false;          // RevokeAgentCredentials
  bool operator==(const AgentCredentialState&) const = default;
};

struct ServerState {
  std::string server_id;
  std::string name;
  std::string host;
  std::uint32_t port = 22;  // effective port (a command's 0 was stored as 22)
  std::string ssh_user;
  axion::v1::SshAuthKind auth_kind = axion::v1::SSH_AUTH_KIND_UNSPECIFIED;
  // Sealed by the gateway (AEAD ciphertext + key id); plaintext never reaches the aggregate.
  axion::v1::SealedSecret credential;
  std::string host_key_fingerprint;  // empty = not pinned yet
  std::string host_key_algorithm;
  axion::v1::ServerStatus status = axion::v1::SERVER_STATUS_NEW;
  std::map<std::string, std::string> labels;
  Capacity capacity;
  bool tested = false;                  // a connection test ran with the current settings
  axion::v1::ServerReport last_report;  // what it found
  std::string created_by;               // actor of CreateServer ("" for pre-created_by events)

  axion::v1::AgentStatus agent_status = axion::v1::AGENT_STATUS_UNKNOWN;
  std::string agent_id;  // empty until an agent registers or an install completes
  std::string agent_version;
  std::vector<std::string> agent_runtimes;
  std::string agent_status_reason;  // reason of the last AgentStatusChanged
  InstallState install;
  // The outstanding one-time registration token (a newer one replaces it) and the long-lived
  // credential it was exchanged for; the agent hub authenticates Hello against these hashes.
  AgentCredentialState registration_token;
  AgentCredentialState agent_credential;
  // The agent stream (hub session) that last brought the agent ONLINE: an OFFLINE report from
  // an older stream — possibly relayed by another axion-server — is stale and ignored.
  std::string agent_session;

  std::uint64_t version = 0;  // events of this server's stream folded so far

  // Protobuf members compare by their deterministic serialization.
  bool operator==(const ServerState& other) const;
};

struct ClusterState {
  bool exists = false;   // a ClusterCreated was folded
  bool deleted = false;  // a ClusterDeleted was folded (the id is never reused)
  std::string cluster_id;
  std::string name;
  std::string description;
  std::map<std::string, std::string> labels;
  axion::v1::ClusterKind kind = axion::v1::CLUSTER_KIND_SERVERS;
  std::map<std::string, ServerState> servers;  // by server_id
  // Deployments placed on this cluster. NOT folded from this aggregate's events: deployments
  // live on axion.deployment.events.v1 under project_id, so no infrastructure event records
  // them. The processor fills it from the deployments read model before deciding DeleteCluster
  // (empty = none known). Kept here so decide stays a function of its inputs.
  std::set<std::string> deployments;
  std::uint64_t version = 0;  // events of the cluster's own stream folded so far

  bool operator==(const ClusterState&) const = default;
};

// Decides any command of this aggregate, dispatching on the Any's type: CreateCluster,
// UpdateCluster, DeleteCluster, CreateServer, ConfigureServer, TestServerConnection,
// InstallAgent, UninstallAgent, and the agent reports AgentRegistered / AgentStatusChanged.
// Another type is UNIMPLEMENTED; a payload that does not parse is INVALID_ARGUMENT.
Result<Decision> decide_cluster_command(const ClusterState& state,
                                        const google::protobuf::Any& command,
                                        const CommandContext& ctx);
// True if `type` ("axion.v1.CreateServer") is a command decide_cluster_command handles.
bool is_cluster_command(const std::string& type);

// The same, typed. Refusals return no events. OK with no events means: nothing changes (same
// values, a status the agent already has, an install of the agent version already online — the
// ids still name the install) or, for TestServerConnection and UninstallAgent, "accepted".
Result<Decision> decide(const ClusterState& state, const axion::v1::CreateCluster& cmd,
                        const CommandContext& ctx);
Result<Decision> decide(const ClusterState& state, const axion::v1::UpdateCluster& cmd,
                        const CommandContext& ctx);
Result<Decision> decide(const ClusterState& state, const axion::v1::DeleteCluster& cmd,
                        const CommandContext& ctx);
Result<Decision> decide(const ClusterState& state, const axion::v1::CreateServer& cmd,
                        const CommandContext& ctx);
Result<Decision> decide(const ClusterState& state, const axion::v1::ConfigureServer& cmd,
                        const CommandContext& ctx);
Result<Decision> decide(const ClusterState& state, const axion::v1::TestServerConnection& cmd,
                        const CommandContext& ctx);
Result<Decision> decide(const ClusterState& state, const axion::v1::InstallAgent& cmd,
                        const CommandContext& ctx);
// AgentUninstallRequested (created_ids["uninstall_id"]); a removal already running is answered
// with its id and no event.
Result<Decision> decide(const ClusterState& state, const axion::v1::UninstallAgent& cmd,
                        const CommandContext& ctx);
// AgentInstallFailed (cancelled) at the step in progress; the installer stops before its next.
Result<Decision> decide(const ClusterState& state, const axion::v1::CancelAgentInstall& cmd,
                        const CommandContext& ctx);
// The installer ("system" only): AgentInstallStepCompleted, plus AgentInstallFailed for a
// FAILED step or AgentInstalled once WAIT_REGISTRATION succeeded (the agent must be ONLINE).
// Steps only go forward; the same report again is a no-op.
Result<Decision> decide(const ClusterState& state, const axion::v1::RecordAgentInstallStep& cmd,
                        const CommandContext& ctx);
// The installer ("system" only): AgentUninstalled or AgentUninstallFailed.
Result<Decision> decide(const ClusterState& state, const axion::v1::RecordAgentUninstall& cmd,
                        const CommandContext& ctx);
// RecordAgentRegistered: an agent connected with its registration token.
Result<Decision> decide(const ClusterState& state, const axion::v1::AgentRegistered& report,
                        const CommandContext& ctx);
// RecordAgentStatus: to_status ONLINE or OFFLINE with a reason; from_status is ignored (the
// aggregate knows it). Only a real transition produces an event, and an OFFLINE naming another
// session_id than the agent's current stream is stale: OK without events.
Result<Decision> decide(const ClusterState& state, const axion::v1::AgentStatusChanged& report,
                        const CommandContext& ctx);
// Mints nothing itself: records the SHA-256 of a registration token the gateway generated
// (AgentCredentialIssued REGISTRATION_TOKEN, expiring ctx.now_ms + ttl); replaces any earlier one.
Result<Decision> decide(const ClusterState& state, const axion::v1::IssueAgentToken& cmd,
                        const CommandContext& ctx);
// The agent hub ("system" only) exchanges a registration token for a long-lived credential:
// UNAUTHENTICATED for a wrong, used or expired token, PERMISSION_DENIED for a revoked one;
// else AgentCredentialIssued LONG_LIVED + AgentRegistered (+ AgentStatusChanged ONLINE).
// The agent id is created_ids["agent_id"].
Result<Decision> decide(const ClusterState& state, const axion::v1::RegisterAgent& cmd,
                        const CommandContext& ctx);
// The agent hub ("system" only) authenticates a reconnecting agent by its credential's hash:
// UNAUTHENTICATED for a wrong agent or credential, PERMISSION_DENIED for a revoked one; else
// AgentRegistered if its version, runtimes or host changed, and AgentStatusChanged ONLINE if
// it was not online.
Result<Decision> decide(const ClusterState& state, const axion::v1::ConnectAgent& cmd,
                        const CommandContext& ctx);
// AgentCredentialRevoked; FAILED_PRECONDITION if nothing is left to revoke.
Result<Decision> decide(const ClusterState& state, const axion::v1::RevokeAgentCredentials& cmd,
                        const CommandContext& ctx);

// Folds one event payload, in place (replaying a long history must not copy the state per
// event). Every infrastructure event is understood. Unknown types are ignored for forward
// compatibility (docs/SCHEMAS.md) — a newer writer may add events this build has never heard
// of, and replay must not fail on them. Events for another cluster or an unknown server are
// ignored. From a bare payload, versions are counted; see the envelope overload.
void apply_event(ClusterState& state, const google::protobuf::Any& event);
ClusterState evolve(ClusterState state, const google::protobuf::Any& event);
// The envelope's payload, then the version of the envelope's stream set to its sequence — which
// also counts events of types this build does not know, so expected_version stays exact.
void apply_event(ClusterState& state, const axion::v1::EventEnvelope& envelope);
ClusterState evolve(ClusterState state, const axion::v1::EventEnvelope& envelope);
// Left fold of evolve over payloads: what replay does.
ClusterState fold(ClusterState state, const std::vector<google::protobuf::Any>& events);

// Which envelope stream an event of this aggregate belongs to.
struct EventTarget {
  std::string aggregate_type;  // "cluster" or "server"
  std::string aggregate_id;
  std::string partition_key;  // empty for cluster events (= aggregate_id); cluster_id else
};
// INVALID_ARGUMENT for a payload that is not an infrastructure event.
Result<EventTarget> event_target(const google::protobuf::Any& event);
// The current sequence of a stream, for expected_version checks: the cluster's version for
// ("cluster", cluster_id), a server's for ("server", server_id); 0 if unknown.
std::uint64_t aggregate_version(const ClusterState& state, std::string_view aggregate_type,
                                std::string_view aggregate_id);

}  // namespace axion::commands
