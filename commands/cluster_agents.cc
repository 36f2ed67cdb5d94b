// Agent commands of the Cluster aggregate: TestServerConnection (run over SSH by the gateway,
// recorded here) and the agent reports AgentRegistered / AgentStatusChanged sent by the agent
// gateway. Installs and removals are in cluster_install.cc.
#include "commands/cluster_aggregate.h"
#include "commands/cluster_internal.h"
#include "commands/validators.h"

namespace axion::commands {

namespace v1 = axion::v1;
using namespace cluster_detail;

namespace {

Status permission_denied(std::string m) {
  return {StatusCode::kPermissionDenied, std::move(m)};
}

// Agent reports come from the agent gateway ("system") or from an agent about itself
// ("agent:<id>"); a user may not claim that an agent registered or went offline.
Status check_reporter(const CommandContext& ctx) {
  if (ctx.actor == "system" || ctx.actor.rfind("agent:", 0) == 0) return ok_status();
  return permission_denied("agent reports are recorded for the agent gateway only, not for " +
                           in_quotes(ctx.actor));
}

Status check_reporter_is(const CommandContext& ctx, std::string_view agent_id) {
  if (ctx.actor == "system" || ctx.actor == "agent:" + std::string(agent_id)) return ok_status();
  return permission_denied(in_quotes(ctx.actor) +
                           " may only report about itself, not about agent " + in_quotes(agent_id));
}

Status validate_host_facts(const v1::HostFacts& h) {
  AXION_RETURN_IF_ERROR(validate_text("host.hostname", h.hostname(), 253));
  AXION_RETURN_IF_ERROR(validate_text("host.os", h.os(), 128));
  AXION_RETURN_IF_ERROR(validate_text("host.arch", h.arch(), 32));
  return validate_text("host.kernel", h.kernel(), 128);
}

}  // namespace

// TestServerConnection and InstallAgent need SSH; a server created without SSH settings is
// reached only through an agent installed by hand.
Status cluster_detail::require_ssh(const ServerState& s) {
  if (s.auth_kind != v1::SSH_AUTH_KIND_UNSPECIFIED) return ok_status();
  return failed_precondition("server " + describe(s) +
                             " has no SSH settings: set them with ConfigureServer, or install "
                             "the agent by hand with a registration token "
                             "(CreateAgentRegistrationToken)");
}

// The gateway runs the test over SSH and records what it found with this command:
// ServerConnectionTested, and HostKeyPinned when pin_host_key is set, none is pinned yet and the
// test saw a key (trust on first use). A report of another key than the pinned one is refused:
// the pin changes only by clearing it (ConfigureServer of the connection settings).
Result<Decision> decide(const ClusterState& state, const v1::TestServerConnection& cmd,
                        const CommandContext&) {
  auto found = require_server(state, cmd.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  AXION_RETURN_IF_ERROR(require_ssh(s));
  if (!cmd.has_report()) return Decision{};
  const v1::ServerReport& r = cmd.report();
  if (r.ByteSizeLong() > 64 * 1024) return invalid_field("report", "a report is at most 64 KiB");
  const std::string& seen = r.host_key_fingerprint();
  if (!seen.empty() && !s.host_key_fingerprint.empty() && seen != s.host_key_fingerprint) {
    return failed_precondition("server " + describe(s) + " presented host key " + seen +
                               ", not the pinned " + s.host_key_fingerprint);
  }
  v1::ServerConnectionTested tested;
  tested.set_server_id(s.server_id);
  tested.set_cluster_id(state.cluster_id);
  *tested.mutable_report() = r;
  Decision d = emit(tested);
  if (cmd.pin_host_key() && s.host_key_fingerprint.empty() && !seen.empty()) {
    v1::HostKeyPinned pinned;
    pinned.set_server_id(s.server_id);
    pinned.set_cluster_id(state.cluster_id);
    pinned.set_fingerprint(seen);
    pinned.set_algorithm(r.host_key_algorithm());
    d.events.emplace_back().PackFrom(pinned);
  }
  return d;
}

Result<Decision> decide(const ClusterState& state, const v1::AgentRegistered& report,
                        const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(check_reporter(ctx));
  AXION_RETURN_IF_ERROR(validate_id("agent_id", report.agent_id()));
  AXION_RETURN_IF_ERROR(check_reporter_is(ctx, report.agent_id()));
  if (!report.cluster_id().empty()) {
    AXION_RETURN_IF_ERROR(require_cluster(state, report.cluster_id()));
  }
  auto found = require_server(state, report.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  if (!report.version().empty()) {
    AXION_RETURN_IF_ERROR(validate_version("version", report.version()));
  }
  if (report.runtimes_size() > 16) {
    return invalid_field("runtimes", "at most 16 runtimes, got " +
                                         std::to_string(report.runtimes_size()));
  }
  for (int i = 0; i < report.runtimes_size(); ++i) {
    AXION_RETURN_IF_ERROR(validate_dns_label("runtimes[" + std::to_string(i) + "]", "runtime",
                                             report.runtimes(i)));
  }
  AXION_RETURN_IF_ERROR(validate_host_facts(report.host()));
  // Two agents claiming one server (a cloned VM, a stale token) must not silently swap places.
  if (s.agent_status == v1::AGENT_STATUS_ONLINE && !s.agent_id.empty() &&
      s.agent_id != report.agent_id()) {
    return failed_precondition("server " + describe(s) + " already has agent " + s.agent_id +
                               " online; agent " + report.agent_id() +
                               " can register once it is offline or uninstalled");
  }
  const std::vector<std::string> runtimes(report.runtimes().begin(), report.runtimes().end());
  // Capacity is all the state keeps of the host facts (and only when cpus are reported).
  const bool same_host = report.host().cpus() == 0 ||
                         (report.host().cpus() * 1000u == s.capacity.cpu_millis &&
                          report.host().memory_mb() == s.capacity.memory_mb &&
                          report.host().disk_mb() == s.capacity.disk_mb);
  if (s.agent_status == v1::AGENT_STATUS_ONLINE && s.agent_id == report.agent_id() &&
      s.agent_version == report.version() && s.agent_runtimes == runtimes && same_host) {
    return Decision{};  // a repeated registration changes nothing
  }
  v1::AgentRegistered ev = report;
  ev.set_cluster_id(state.cluster_id);
  ev.DiscardUnknownFields();  // record only what was checked
  return emit(ev);
}

Result<Decision> decide(const ClusterState& state, const v1::AgentStatusChanged& report,
                        const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(check_reporter(ctx));
  if (!report.cluster_id().empty()) {
    AXION_RETURN_IF_ERROR(require_cluster(state, report.cluster_id()));
  }
  auto found = require_server(state, report.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  if (report.to_status() != v1::AGENT_STATUS_ONLINE &&
      report.to_status() != v1::AGENT_STATUS_OFFLINE) {
    // INSTALLING, FAILED and UNINSTALLED follow from the install saga's own events.
    return invalid_field("to_status", "agent status reports move an agent to "
                                      "AGENT_STATUS_ONLINE or AGENT_STATUS_OFFLINE only");
  }
  AXION_RETURN_IF_ERROR(validate_text("reason", report.reason(), kMaxText, /*required=*/true));
  if (!report.session_id().empty()) {
    AXION_RETURN_IF_ERROR(validate_id("session_id", report.session_id()));
  }
  if (s.agent_id.empty()) {
    return failed_precondition("no agent is registered on server " + describe(s));
  }
  if (!report.agent_id().empty() && report.agent_id() != s.agent_id) {
    return failed_precondition("agent " + in_quotes(report.agent_id()) +
                               " is not the agent registered on server " + describe(s) + " (" +
                               s.agent_id + ")");
  }
  AXION_RETURN_IF_ERROR(check_reporter_is(ctx, s.agent_id));
  if (s.agent_status == v1::AGENT_STATUS_UNINSTALLED) {
    return failed_precondition("the agent on server " + describe(s) +
                               " was uninstalled; it must register again");
  }
  // A stream that a newer one replaced (here or on another axion-server) reports too late.
  if (report.to_status() == v1::AGENT_STATUS_OFFLINE && !report.session_id().empty() &&
      report.session_id() != s.agent_session) {
    return Decision{};
  }
  std::string session = report.session_id();
  if (!report.hub_instance().empty()) {
    // A restarted hub closes what its crashed run left open: only sessions of that instance,
    // and not those of its current run (the agent may have reconnected a moment ago).
    AXION_RETURN_IF_ERROR(validate_id("hub_instance", report.hub_instance()));
    AXION_RETURN_IF_ERROR(validate_id("hub_boot", report.hub_boot()));
    if (report.to_status() != v1::AGENT_STATUS_OFFLINE) {
      return invalid_field("hub_instance", "only an OFFLINE report may name a hub instance");
    }
    const std::string mine = report.hub_instance() + ":";
    const std::string live = mine + report.hub_boot() + ":";
    if (s.agent_session.rfind(mine, 0) != 0 || s.agent_session.rfind(live, 0) == 0) {
      return Decision{};
    }
    session = s.agent_session;
  }
  if (s.agent_status == report.to_status()) return Decision{};  // not a transition
  v1::AgentStatusChanged ev;
  ev.set_server_id(s.server_id);
  ev.set_cluster_id(state.cluster_id);
  ev.set_agent_id(s.agent_id);
  ev.set_from_status(s.agent_status);
  ev.set_to_status(report.to_status());
  ev.set_reason(report.reason());
  ev.set_session_id(session);
  return emit(ev);
}

}  // namespace axion::commands
