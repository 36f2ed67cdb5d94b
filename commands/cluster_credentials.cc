// Agent credentials of the Cluster aggregate: one-time registration tokens (IssueAgentToken),
// their exchange for a long-lived credential when an agent first connects (RegisterAgent), the
// check of that credential when it reconnects (ConnectAgent), and revocation. Only SHA-256
// hashes reach the aggregate: the gateway and the agent hub generate the secrets, hash them and
// hand the secret to the one party that must hold it, once.
#include <google/protobuf/util/time_util.h>

#include "commands/cluster_aggregate.h"
#include "commands/cluster_internal.h"
#include "commands/validators.h"

namespace axion::commands {

namespace v1 = axion::v1;
using namespace cluster_detail;

namespace {

constexpr std::int64_t kMaxTokenTtlMs = 7LL * 24 * 3600 * 1000;

Status unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }
Status permission_denied(std::string m) { return {StatusCode::kPermissionDenied, std::move(m)}; }

// Tokens and credentials are presented by the agent hub, which speaks for the agent; a user may
// not register or connect an agent on its behalf.
Status check_hub(const CommandContext& ctx) {
  if (ctx.actor == "system") return ok_status();
  return permission_denied("agent registration is recorded for the agent hub only, not for " +
                           in_quotes(ctx.actor));
}

Status validate_hash(std::string_view field, std::string_view hash) {
  bool ok = hash.size() == 64;
  for (char c : hash) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (ok) return ok_status();
  return invalid_field(std::string(field), "must be a SHA-256 digest: 64 lowercase hex characters");
}

std::string format_ms(std::int64_t ms) {
  return google::protobuf::util::TimeUtil::ToString(
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(ms));
}

v1::AgentRegistered report_of(const ServerState& s, const std::string& cluster_id,
                              const std::string& agent_id, const std::string& version,
                              const google::protobuf::RepeatedPtrField<std::string>& runtimes,
                              const v1::HostFacts& host) {
  v1::AgentRegistered report;
  report.set_server_id(s.server_id);
  report.set_cluster_id(cluster_id);
  report.set_agent_id(agent_id);
  report.set_version(version);
  *report.mutable_runtimes() = runtimes;
  *report.mutable_host() = host;
  return report;
}

// The ONLINE transition that accompanies a registration or reconnection. Already ONLINE on
// another stream (it replaced that one, maybe through another axion-server): ONLINE -> ONLINE
// records the new stream, so the old one's OFFLINE is known to be stale.
void append_online(Decision& d, const ServerState& s, const std::string& cluster_id,
                   const std::string& agent_id, std::string reason, const std::string& session) {
  if (s.agent_status == v1::AGENT_STATUS_ONLINE &&
      (session.empty() || session == s.agent_session)) {
    return;
  }
  if (s.agent_status == v1::AGENT_STATUS_ONLINE) reason += " on a new stream";
  v1::AgentStatusChanged ev;
  ev.set_server_id(s.server_id);
  ev.set_cluster_id(cluster_id);
  ev.set_agent_id(agent_id);
  ev.set_from_status(s.agent_status);
  ev.set_to_status(v1::AGENT_STATUS_ONLINE);
  ev.set_reason(reason);
  ev.set_session_id(session);
  d.events.emplace_back().PackFrom(ev);
}

// What RegisterAgent and ConnectAgent check first: sent by the hub, about a server of this
// cluster, with a well-formed session id.
template <typename Command>
Result<const ServerState*> hub_command_server(const ClusterState& state, const Command& cmd,
                                              const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(check_hub(ctx));
  if (!cmd.cluster_id().empty()) AXION_RETURN_IF_ERROR(require_cluster(state, cmd.cluster_id()));
  if (!cmd.session_id().empty()) AXION_RETURN_IF_ERROR(validate_id("session_id", cmd.session_id()));
  return require_server(state, cmd.server_id());
}

}  // namespace

Result<Decision> decide(const ClusterState& state, const v1::IssueAgentToken& cmd,
                        const CommandContext& ctx) {
  if (!cmd.cluster_id().empty()) AXION_RETURN_IF_ERROR(require_cluster(state, cmd.cluster_id()));
  auto found = require_server(state, cmd.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  AXION_RETURN_IF_ERROR(validate_hash("token_hash", cmd.token_hash()));
  const std::int64_t ttl_ms = cmd.ttl().seconds() * 1000 + cmd.ttl().nanos() / 1000000;
  if (ttl_ms <= 0 || ttl_ms > kMaxTokenTtlMs) {
    return invalid_field("ttl", "a registration token lives more than 0 s and at most 7 days");
  }
  if (cmd.token_hash() == s.registration_token.hash) {
    return already_exists("this registration token was already issued for server " +
                          describe(s) + "; generate a new one");
  }
  const std::int64_t expires_at_ms = ctx.now_ms + ttl_ms;
  v1::AgentCredentialIssued ev;
  ev.set_server_id(s.server_id);
  ev.set_cluster_id(state.cluster_id);
  ev.set_kind(v1::AGENT_CREDENTIAL_KIND_REGISTRATION_TOKEN);
  ev.set_credential_hash(cmd.token_hash());
  *ev.mutable_expires_at() =
      google::protobuf::util::TimeUtil::MillisecondsToTimestamp(expires_at_ms);
  return emit(ev, {{"expires_at_ms", std::to_string(expires_at_ms)}});
}

Result<Decision> decide(const ClusterState& state, const v1::RegisterAgent& cmd,
                        const CommandContext& ctx) {
  auto found = hub_command_server(state, cmd, ctx);
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  AXION_RETURN_IF_ERROR(validate_hash("token_hash", cmd.token_hash()));
  AXION_RETURN_IF_ERROR(validate_hash("credential_hash", cmd.credential_hash()));
  const AgentCredentialState& token = s.registration_token;
  const std::string mint = "; mint a new one with CreateAgentRegistrationToken";
  if (token.hash.empty()) {
    return unauthenticated("no registration token was issued for server " + describe(s) +
                           mint.substr(1));
  }
  if (token.hash != cmd.token_hash()) {
    return unauthenticated("the registration token is not valid for server " + describe(s) +
                           " (wrong token, or a newer token replaced it)" + mint);
  }
  if (token.revoked) {
    return permission_denied("the registration token for server " + describe(s) +
                             " was revoked" + mint);
  }
  if (token.used) {
    return unauthenticated("the registration token for server " + describe(s) +
                           " was already used; a registered agent reconnects with its "
                           "credential" + mint);
  }
  if (token.expires_at_ms != 0 && ctx.now_ms >= token.expires_at_ms) {
    return unauthenticated("the registration token for server " + describe(s) + " expired at " +
                           format_ms(token.expires_at_ms) + mint);
  }
  auto agent_id = new_id("agent_id", cmd.agent_id(), "agt", ctx);
  if (!agent_id.ok()) return agent_id.status();
  // Validates the facts and refuses a second agent while another is online on this server.
  auto registered = decide(state, report_of(s, state.cluster_id, *agent_id, cmd.version(),
                                            cmd.runtimes(), cmd.host()),
                           ctx);
  if (!registered.ok()) return registered.status();

  v1::AgentCredentialIssued issued;
  issued.set_server_id(s.server_id);
  issued.set_cluster_id(state.cluster_id);
  issued.set_agent_id(*agent_id);
  issued.set_kind(v1::AGENT_CREDENTIAL_KIND_LONG_LIVED);
  issued.set_credential_hash(cmd.credential_hash());
  Decision d = emit(issued, {{"agent_id", *agent_id}});
  for (auto& e : registered->events) d.events.push_back(std::move(e));
  append_online(d, s, state.cluster_id, *agent_id, "agent registered", cmd.session_id());
  return d;
}

Result<Decision> decide(const ClusterState& state, const v1::ConnectAgent& cmd,
                        const CommandContext& ctx) {
  auto found = hub_command_server(state, cmd, ctx);
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  AXION_RETURN_IF_ERROR(validate_id("agent_id", cmd.agent_id()));
  AXION_RETURN_IF_ERROR(validate_hash("credential_hash", cmd.credential_hash()));
  const AgentCredentialState& credential = s.agent_credential;
  const std::string again = "; register it again with a new registration token";
  if (credential.hash.empty() || s.agent_id != cmd.agent_id()) {
    return unauthenticated("agent " + in_quotes(cmd.agent_id()) +
                           " is not registered on server " + describe(s) + again);
  }
  if (credential.hash != cmd.credential_hash()) {
    return unauthenticated("the credential of agent " + cmd.agent_id() + " on server " +
                           describe(s) + " is wrong (a newer registration replaced it?)" + again);
  }
  if (credential.revoked) {
    return permission_denied("the credential of agent " + cmd.agent_id() + " on server " +
                             describe(s) + " was revoked" + again);
  }
  if (s.agent_status == v1::AGENT_STATUS_UNINSTALLED) {
    return permission_denied("the agent on server " + describe(s) + " was uninstalled" + again);
  }
  auto registered = decide(state, report_of(s, state.cluster_id, cmd.agent_id(), cmd.version(),
                                            cmd.runtimes(), cmd.host()),
                           ctx);
  if (!registered.ok()) return registered.status();
  const std::vector<std::string> runtimes(cmd.runtimes().begin(), cmd.runtimes().end());
  const bool same_host = cmd.host().cpus() == 0 ||
                         (cmd.host().cpus() * 1000u == s.capacity.cpu_millis &&
                          cmd.host().memory_mb() == s.capacity.memory_mb &&
                          cmd.host().disk_mb() == s.capacity.disk_mb);
  const bool facts_changed =
      cmd.version() != s.agent_version || runtimes != s.agent_runtimes || !same_host;
  Decision d;
  if (facts_changed) d.events = std::move(registered->events);
  append_online(d, s, state.cluster_id, cmd.agent_id(), "agent reconnected", cmd.session_id());
  return d;
}

Result<Decision> decide(const ClusterState& state, const v1::RevokeAgentCredentials& cmd,
                        const CommandContext& ctx) {
  if (!cmd.cluster_id().empty()) AXION_RETURN_IF_ERROR(require_cluster(state, cmd.cluster_id()));
  auto found = require_server(state, cmd.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  AXION_RETURN_IF_ERROR(validate_text("reason", cmd.reason(), kMaxText));
  const auto& token = s.registration_token;
  const auto& credential = s.agent_credential;
  const bool token_live = !token.hash.empty() && !token.used && !token.revoked;
  const bool credential_live = !credential.hash.empty() && !credential.revoked;
  if (!token_live && !credential_live) {
    return failed_precondition("server " + describe(s) +
                               " has no agent credential or unused registration token to revoke");
  }
  v1::AgentCredentialRevoked ev;
  ev.set_server_id(s.server_id);
  ev.set_cluster_id(state.cluster_id);
  ev.set_agent_id(s.agent_id);
  ev.set_reason(cmd.reason());
  ev.set_revoked_by(ctx.actor);
  return emit(ev);
}

}  // namespace axion::commands
