// The remote half of installing axion-agent over SSH: where it goes on a host, and each step
// the installer (server/agent_installer.*) runs in order. Every step is idempotent — running it
// again after a crash leaves the host as one run would — and every remote command is a fixed
// argv or a fixed script whose only inputs are positional arguments ("$1"), never text spliced
// into a shell string.
//
// Layout: root installs into /opt/axion-agent with a systemd unit when systemd is PID 1; any
// other user (or a host without systemd) into ~/.axion-agent, run as a supervised background
// process (axion-agent --daemonize, pid file, restarts on crash; not started again at boot).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "axion/v1/infrastructure.pb.h"
#include "infra/ssh/ssh_session.h"

namespace axion::infra::ssh {

inline constexpr char kAgentUnitName[] = "axion-agent.service";
inline constexpr char kAgentUnitPath[] = "/etc/systemd/system/axion-agent.service";

struct AgentLayout {
  bool root = false;     // the SSH user is uid 0
  bool systemd = false;  // a system unit: root and systemd is PID 1
  std::string home;
  std::string base;                // everything the agent owns on the host
  std::string arch;                // uname -m
  std::string kernel;              // uname -s
  std::uint64_t disk_free_mb = 0;  // where `base` goes

  std::string binary() const { return base + "/bin/axion-agent"; }
  std::string config() const { return base + "/agent.conf"; }
  std::string token_file() const { return base + "/registration-token"; }
  std::string ca_file() const { return base + "/ca.pem"; }
  std::string state_dir() const { return base + "/state"; }
  std::string log_file() const { return base + "/agent.log"; }
  std::string pid_file() const { return base + "/agent.pid"; }
  std::string describe() const;  // "systemd unit axion-agent.service, files in /opt/axion-agent"
};

// What a step did: its outcome, a line for people, and on failure why plus the output tail.
struct StepReport {
  axion::v1::InstallStepOutcome outcome = axion::v1::INSTALL_STEP_OUTCOME_SUCCEEDED;
  std::string detail;
  std::string reason;
  std::string output;
  bool ok() const { return outcome != axion::v1::INSTALL_STEP_OUTCOME_FAILED; }
};

StepReport step_failed(std::string reason, std::string output = "");

// What the agent's config file says (CLI11 config: long option names as keys).
struct AgentSettings {
  std::string server_addr;  // host:port the agent dials
  std::string server_id;
  bool tls = false;  // the CA file is written beside it and named
};

// Reads the layout from the host (one fixed script). INVALID_ARGUMENT when its home directory
// is not a path this installer can use.
Result<AgentLayout> detect_layout(SshSession& session, std::chrono::milliseconds timeout);
// Parses that script's output (KEY=VALUE lines). Pure, for tests.
Result<AgentLayout> parse_layout(const std::string& text);

// CHECK_REQUIREMENTS: a Linux host of `local_arch` (the binary's), room for the binary.
StepReport check_requirements(const AgentLayout& layout, const std::string& local_arch,
                              std::uint64_t binary_bytes);
// UPLOAD_BINARY: SKIPPED when the host has these bytes already (sha256sum), else uploaded
// (temp + rename, 0755) and verified.
StepReport upload_binary(SshSession& session, const AgentLayout& layout, const std::string& bytes,
                         const std::string& sha256_hex, std::chrono::milliseconds timeout);
// WRITE_CONFIG: the config file, the one-time token (0600) and the CA when TLS is on.
StepReport write_config(SshSession& session, const AgentLayout& layout,
                        const AgentSettings& settings, const std::string& token,
                        const std::string& ca_pem, std::chrono::milliseconds timeout);
// INSTALL_SERVICE: the systemd unit, enabled; SKIPPED (with why) for a supervised process.
StepReport install_service(SshSession& session, const AgentLayout& layout,
                           std::chrono::milliseconds timeout);
// START_SERVICE: (re)starts the agent — systemctl restart, or axion-agent --daemonize.
StepReport start_service(SshSession& session, const AgentLayout& layout,
                         std::chrono::milliseconds timeout);
// The end of the agent's log (journal or log file), for a failed registration.
std::string agent_log_tail(SshSession& session, const AgentLayout& layout,
                           std::chrono::milliseconds timeout);
// UninstallAgent: stops the agent and removes its unit and files.
StepReport remove_agent(SshSession& session, const AgentLayout& layout,
                        std::chrono::milliseconds timeout);

// The texts written to the host. Pure, for tests.
// INVALID_ARGUMENT for a value the agent's config reader would misread.
Result<std::string> render_agent_config(const AgentLayout& layout, const AgentSettings& settings);
std::string render_systemd_unit(const AgentLayout& layout);

}  // namespace axion::infra::ssh
