// Agent installs and removals of the Cluster aggregate. InstallAgent and UninstallAgent record
// the intent (AgentInstallRequested, AgentUninstallRequested) so the installer (server/
// agent_installer.*) can resume them from the log; the installer reports each step with the
// internal commands RecordAgentInstallStep and RecordAgentUninstall (actor "system"), and
// CancelAgentInstall ends an install between two steps.
#include "commands/cluster_aggregate.h"
#include "commands/cluster_internal.h"
#include "commands/validators.h"

namespace axion::commands {

namespace v1 = axion::v1;
using namespace cluster_detail;

namespace {

constexpr std::size_t kMaxDetail = 4 * 1024;
constexpr std::size_t kMaxOutput = 64 * 1024;

Status require_system(const CommandContext& ctx, std::string_view what) {
  if (ctx.actor == "system") return ok_status();
  return {StatusCode::kPermissionDenied, std::string(what) +
                                             " is recorded by the agent installer only, not by " +
                                             in_quotes(ctx.actor)};
}

// The step an install is at: the one after the last it reported.
v1::AgentInstallStep step_in_progress(const InstallState& install) {
  const int next = static_cast<int>(install.last_step) + 1;
  return v1::AgentInstallStep_IsValid(next) ? static_cast<v1::AgentInstallStep>(next)
                                            : v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION;
}

// The running install the installer's report is about.
Status require_running_install(const ServerState& s, const std::string& install_id) {
  AXION_RETURN_IF_ERROR(validate_id("install_id", install_id));
  if (s.install.install_id != install_id || !s.install.running) {
    return failed_precondition("agent installation " + install_id + " on server " + describe(s) +
                               " is not running (it ended, was cancelled or was replaced)");
  }
  return ok_status();
}

Status validate_report_texts(std::string_view detail, std::string_view reason,
                             std::string_view output) {
  AXION_RETURN_IF_ERROR(validate_text("detail", detail, kMaxDetail));
  AXION_RETURN_IF_ERROR(validate_text("reason", reason, kMaxDetail));
  if (output.size() > kMaxOutput) return invalid_field("output", "at most 64 KiB of output");
  return ok_status();
}

}  // namespace

Result<Decision> decide(const ClusterState& state, const v1::InstallAgent& cmd,
                        const CommandContext& ctx) {
  auto found = require_server(state, cmd.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  AXION_RETURN_IF_ERROR(require_ssh(s));
  if (!cmd.agent_version().empty()) {
    AXION_RETURN_IF_ERROR(validate_version("agent_version", cmd.agent_version()));
  }
  if (s.install.running) {
    return failed_precondition("agent installation " + s.install.install_id +
                               " is already running on server " + describe(s) +
                               "; wait for it to finish or cancel it (CancelAgentInstall)");
  }
  if (s.install.uninstall_running) {
    return failed_precondition("the agent of server " + describe(s) +
                               " is being removed; install again once that has finished");
  }
  // Installing what already runs is a no-op (issue 8: "a second install of the same server is a
  // no-op"); the caller gets the id of the install that put it there. An empty version means
  // "the control plane's own", which only the installer can resolve, so it counts as the same.
  if (s.agent_status == v1::AGENT_STATUS_ONLINE &&
      (cmd.agent_version().empty() || cmd.agent_version() == s.agent_version)) {
    Decision none;
    none.ids["install_id"] = s.install.install_id;
    return none;
  }
  auto install_id = new_id("install_id", cmd.install_id(), "inst", ctx);
  if (!install_id.ok()) return install_id.status();
  if (*install_id == s.install.install_id) {
    return already_exists("agent installation " + *install_id + " already ran on server " +
                          s.server_id + "; a new attempt needs a new install_id");
  }
  v1::AgentInstallRequested ev;
  ev.set_server_id(s.server_id);
  ev.set_cluster_id(state.cluster_id);
  ev.set_install_id(*install_id);
  ev.set_agent_version(cmd.agent_version());
  ev.set_requested_by(ctx.actor);
  return emit(ev, {{"install_id", *install_id}});
}

Result<Decision> decide(const ClusterState& state, const v1::CancelAgentInstall& cmd,
                        const CommandContext& ctx) {
  auto found = require_server(state, cmd.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  AXION_RETURN_IF_ERROR(validate_text("reason", cmd.reason(), kMaxText));
  if (!cmd.install_id().empty()) {
    AXION_RETURN_IF_ERROR(validate_id("install_id", cmd.install_id()));
  }
  if (!s.install.running) {
    return failed_precondition("no agent installation is running on server " + describe(s));
  }
  if (!cmd.install_id().empty() && cmd.install_id() != s.install.install_id) {
    return failed_precondition("agent installation " + cmd.install_id() +
                               " is not the one running on server " + describe(s) + " (" +
                               s.install.install_id + ")");
  }
  v1::AgentInstallFailed ev;
  ev.set_server_id(s.server_id);
  ev.set_cluster_id(state.cluster_id);
  ev.set_install_id(s.install.install_id);
  ev.set_step(step_in_progress(s.install));
  ev.set_reason("cancelled by " + ctx.actor + (cmd.reason().empty() ? "" : ": " + cmd.reason()));
  ev.set_cancelled(true);
  return emit(ev, {{"install_id", s.install.install_id}});
}

Result<Decision> decide(const ClusterState& state, const v1::RecordAgentInstallStep& cmd,
                        const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(require_system(ctx, "an install step"));
  auto found = require_server(state, cmd.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  if (cmd.step() == v1::AGENT_INSTALL_STEP_UNSPECIFIED || !v1::AgentInstallStep_IsValid(cmd.step()))
    return invalid_field("step", "name an install step");
  if (cmd.outcome() == v1::INSTALL_STEP_OUTCOME_UNSPECIFIED ||
      !v1::InstallStepOutcome_IsValid(cmd.outcome()))
    return invalid_field("outcome", "name the step's outcome");
  AXION_RETURN_IF_ERROR(validate_report_texts(cmd.detail(), cmd.reason(), cmd.output()));
  if (!cmd.agent_version().empty()) {
    AXION_RETURN_IF_ERROR(validate_version("agent_version", cmd.agent_version()));
  }
  AXION_RETURN_IF_ERROR(require_running_install(s, cmd.install_id()));
  // Steps go forward only; the same step again (a retry after a lost answer) changes nothing.
  if (cmd.step() <= s.install.last_step) {
    if (cmd.step() == s.install.last_step && cmd.outcome() == s.install.last_outcome) {
      return Decision{};
    }
    return failed_precondition("agent installation " + cmd.install_id() + " is past step " +
                               v1::AgentInstallStep_Name(cmd.step()));
  }
  const bool failed = cmd.outcome() == v1::INSTALL_STEP_OUTCOME_FAILED;
  const bool done = !failed && cmd.step() == v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION;
  if (done && (s.agent_status != v1::AGENT_STATUS_ONLINE || s.agent_id.empty())) {
    return failed_precondition("the agent of server " + describe(s) + " has not registered");
  }
  v1::AgentInstallStepCompleted step;
  step.set_server_id(s.server_id);
  step.set_cluster_id(state.cluster_id);
  step.set_install_id(cmd.install_id());
  step.set_step(cmd.step());
  step.set_outcome(cmd.outcome());
  step.set_detail(failed ? cmd.reason() : cmd.detail());
  Decision d = emit(step, {{"install_id", cmd.install_id()}});
  if (failed) {
    v1::AgentInstallFailed ev;
    ev.set_server_id(s.server_id);
    ev.set_cluster_id(state.cluster_id);
    ev.set_install_id(cmd.install_id());
    ev.set_step(cmd.step());
    ev.set_reason(cmd.reason().empty() ? "step " + v1::AgentInstallStep_Name(cmd.step()) + " failed"
                                       : cmd.reason());
    ev.set_output(cmd.output());
    d.events.emplace_back().PackFrom(ev);
  } else if (done) {
    v1::AgentInstalled ev;
    ev.set_server_id(s.server_id);
    ev.set_cluster_id(state.cluster_id);
    ev.set_install_id(cmd.install_id());
    ev.set_agent_version(cmd.agent_version().empty() ? s.agent_version : cmd.agent_version());
    ev.set_agent_id(s.agent_id);
    d.events.emplace_back().PackFrom(ev);
  }
  return d;
}

Result<Decision> decide(const ClusterState& state, const v1::UninstallAgent& cmd,
                        const CommandContext& ctx) {
  auto found = require_server(state, cmd.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  AXION_RETURN_IF_ERROR(validate_text("reason", cmd.reason(), kMaxText));
  AXION_RETURN_IF_ERROR(require_ssh(s));
  if (s.install.running) {
    return failed_precondition("agent installation " + s.install.install_id +
                               " is running on server " + describe(s) +
                               "; cancel it (CancelAgentInstall) or wait for it to finish");
  }
  if (s.install.uninstall_running) {
    Decision none;  // already being removed: the caller gets that attempt
    none.ids["uninstall_id"] = s.install.uninstall_id;
    return none;
  }
  switch (s.agent_status) {
    case v1::AGENT_STATUS_ONLINE:
    case v1::AGENT_STATUS_OFFLINE:
    case v1::AGENT_STATUS_FAILED:  // a failed install may have left files and a unit behind
      break;
    default:
      return failed_precondition("no agent is installed on server " + describe(s) +
                                 " (agent status " + v1::AgentStatus_Name(s.agent_status) + ")");
  }
  auto uninstall_id = new_id("uninstall_id", cmd.uninstall_id(), "uninst", ctx);
  if (!uninstall_id.ok()) return uninstall_id.status();
  v1::AgentUninstallRequested ev;
  ev.set_server_id(s.server_id);
  ev.set_cluster_id(state.cluster_id);
  ev.set_uninstall_id(*uninstall_id);
  ev.set_reason(cmd.reason());
  ev.set_requested_by(ctx.actor);
  return emit(ev, {{"uninstall_id", *uninstall_id}});
}

Result<Decision> decide(const ClusterState& state, const v1::RecordAgentUninstall& cmd,
                        const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(require_system(ctx, "an agent removal"));
  auto found = require_server(state, cmd.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  AXION_RETURN_IF_ERROR(validate_id("uninstall_id", cmd.uninstall_id()));
  AXION_RETURN_IF_ERROR(validate_report_texts(cmd.detail(), "", cmd.output()));
  if (!s.install.uninstall_running || s.install.uninstall_id != cmd.uninstall_id()) {
    return failed_precondition("agent removal " + cmd.uninstall_id() + " on server " + describe(s) +
                               " is not running");
  }
  if (cmd.succeeded()) {
    v1::AgentUninstalled ev;
    ev.set_server_id(s.server_id);
    ev.set_cluster_id(state.cluster_id);
    ev.set_uninstall_id(cmd.uninstall_id());
    ev.set_reason("uninstalled");
    ev.set_detail(cmd.detail());
    return emit(ev);
  }
  v1::AgentUninstallFailed ev;
  ev.set_server_id(s.server_id);
  ev.set_cluster_id(state.cluster_id);
  ev.set_uninstall_id(cmd.uninstall_id());
  ev.set_reason(cmd.detail().empty() ? "the removal failed" : cmd.detail());
  ev.set_output(cmd.output());
  return emit(ev);
}

}  // namespace axion::commands
