#include "infra/ssh/agent_install.h"

#include <sstream>

#include "infra/ssh/ssh_argv.h"

namespace axion::infra::ssh {

namespace v1 = axion::v1;

namespace {

constexpr std::uint64_t kHeadroomMb = 64;  // logs, state, the journal of tasks
constexpr std::size_t kMaxOutput = 16 * 1024;

// clang-format off
constexpr char kLayoutScript[] = R"SH(echo "UID=$(id -u)"
echo "HOME=$HOME"
echo "ARCH=$(uname -m)"
echo "KERNEL=$(uname -s)"
if [ "$(cat /proc/1/comm 2>/dev/null)" = systemd ] && [ -d /run/systemd/system ]; then echo SYSTEMD=1; else echo SYSTEMD=0; fi
d="$HOME"; [ "$(id -u)" = 0 ] && d=/opt; [ -d "$d" ] || d=/
echo "DISK_KB=$(df -Pk "$d" 2>/dev/null | awk 'NR==2 {print $4}')"
)SH";
// Stops a supervised agent (its own --stop reads the pid file), then the unit if there is one.
constexpr char kStopScript[] = R"SH(if [ -x "$1" ] && [ -f "$2" ]; then "$1" --stop --pid-file "$2" || exit 1; fi
if [ "$3" = 1 ]; then systemctl disable --now "$4" >/dev/null 2>&1; rm -f "$5" && systemctl daemon-reload; fi
exit 0
)SH";
// clang-format on

std::string tail(const std::string& s, std::size_t n = kMaxOutput) {
  return s.size() <= n ? s : s.substr(s.size() - n);
}

std::string output_of(const RemoteResult& r) { return tail(r.out + r.err); }

// Runs argv; a transport error or a non-zero exit is a failed step naming `what`.
Result<RemoteResult> run_checked(SshSession& session, const std::vector<std::string>& argv,
                                 std::chrono::milliseconds timeout, const std::string& what,
                                 StepReport* failure) {
  auto r = session.run(argv, timeout);
  if (!r.ok()) {
    *failure = step_failed(what + ": " + r.status().message());
    return r.status();
  }
  if (r->exit_code != 0) {
    *failure = step_failed(what + " exited with " + std::to_string(r->exit_code), output_of(*r));
    return Status(StatusCode::kInternal, what);
  }
  return r;
}

// CLI11's config reader strips the quotes but decodes no escapes, and '#' starts a comment even
// inside them: a value with one of these cannot be written faithfully, so it is refused.
Status check_config_value(const std::string& key, const std::string& v) {
  if (v.find_first_of("\"\\#\n\r") == std::string::npos) return ok_status();
  return invalid_argument("the agent's " + key + " '" + v +
                          "' holds a character its config file cannot carry (quote, backslash, "
                          "'#' or a line break)");
}

// The agent's directories, private to the SSH user (their bin/ and state/ included).
bool make_directories(SshSession& session, const AgentLayout& layout,
                      std::chrono::milliseconds timeout, StepReport* failure) {
  const std::vector<std::string> mkdir = {
      "sh", "-c", "umask 077 && mkdir -p \"$1/bin\" \"$1/state\"", "sh", layout.base};
  return run_checked(session, mkdir, timeout, "creating " + layout.base, failure).ok();
}

// The hex digest sha256sum prints first, or "" when the file is not there.
std::string remote_sha256(SshSession& session, const std::string& path,
                          std::chrono::milliseconds timeout) {
  auto r = session.run({"sha256sum", path}, timeout);
  if (!r.ok() || r->exit_code != 0) return "";
  return r->out.substr(0, r->out.find(' '));
}

}  // namespace

std::string AgentLayout::describe() const {
  return (systemd ? std::string("systemd unit ") + kAgentUnitName
                  : std::string("supervised process (pid file ") + pid_file() +
                        "; not restarted at boot)") +
         ", files in " + base;
}

StepReport step_failed(std::string reason, std::string output) {
  StepReport r;
  r.outcome = v1::INSTALL_STEP_OUTCOME_FAILED;
  r.reason = std::move(reason);
  r.output = std::move(output);
  return r;
}

Result<AgentLayout> parse_layout(const std::string& text) {
  AgentLayout l;
  std::istringstream in(text);
  std::string line;
  std::string uid;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq), value = line.substr(eq + 1, 256);
    if (key == "UID") uid = value;
    if (key == "HOME") l.home = value;
    if (key == "ARCH") l.arch = value;
    if (key == "KERNEL") l.kernel = value;
    if (key == "SYSTEMD") l.systemd = value == "1";
    if (key == "DISK_KB") {
      try {
        l.disk_free_mb = value.empty() ? 0 : std::stoull(value) / 1024;
      } catch (...) {
        l.disk_free_mb = 0;
      }
    }
  }
  if (uid.empty() || l.arch.empty()) {
    return Status(StatusCode::kInternal, "the host did not say who and what it is (id, uname)");
  }
  l.root = uid == "0";
  l.systemd = l.systemd && l.root;
  if (l.root) {
    l.base = "/opt/axion-agent";
  } else {
    AXION_RETURN_IF_ERROR(validate_remote_path(l.home, "the SSH user's home directory"));
    l.base = (l.home == "/" ? "" : l.home) + "/.axion-agent";
  }
  AXION_RETURN_IF_ERROR(validate_remote_path(l.base, "the agent's directory"));
  return l;
}

Result<AgentLayout> detect_layout(SshSession& session, std::chrono::milliseconds timeout) {
  auto r = session.run({"sh", "-c", kLayoutScript}, timeout);
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return Status(
        StatusCode::kInternal,
        "the layout probe exited with " + std::to_string(r->exit_code) + ": " + tail(r->err, 500));
  }
  return parse_layout(r->out);
}

StepReport check_requirements(const AgentLayout& layout, const std::string& local_arch,
                              std::uint64_t binary_bytes) {
  std::vector<std::string> problems;
  if (layout.kernel != "Linux")
    problems.push_back("the host runs " + layout.kernel + ", not Linux");
  if (layout.arch != local_arch) {
    problems.push_back("the host is " + layout.arch + " and this axion-agent binary is built for " +
                       local_arch + " (set AXION_AGENT_BINARY to a " + layout.arch + " build)");
  }
  const std::uint64_t need_mb = binary_bytes / (1024 * 1024) + kHeadroomMb;
  if (layout.disk_free_mb < need_mb) {
    problems.push_back(std::to_string(layout.disk_free_mb) + " MiB free where the agent goes, " +
                       std::to_string(need_mb) + " MiB needed");
  }
  if (!problems.empty()) {
    std::string reason = "the host cannot run the agent: ";
    for (std::size_t i = 0; i < problems.size(); ++i) reason += (i ? "; " : "") + problems[i];
    return step_failed(reason);
  }
  StepReport ok;
  ok.detail = layout.kernel + " " + layout.arch + ", " + std::to_string(layout.disk_free_mb) +
              " MiB free; " + layout.describe();
  return ok;
}

StepReport upload_binary(SshSession& session, const AgentLayout& layout, const std::string& bytes,
                         const std::string& sha256_hex, std::chrono::milliseconds timeout) {
  StepReport failure;
  if (remote_sha256(session, layout.binary(), timeout) == sha256_hex) {
    StepReport skipped;
    skipped.outcome = v1::INSTALL_STEP_OUTCOME_SKIPPED;
    skipped.detail = layout.binary() + " already has these bytes (sha256 " + sha256_hex + ")";
    return skipped;
  }
  if (!make_directories(session, layout, timeout, &failure)) return failure;
  if (Status s = session.upload(bytes, layout.binary(), 0755); !s.ok()) {
    return step_failed("uploading " + layout.binary() + ": " + s.message());
  }
  const std::string seen = remote_sha256(session, layout.binary(), timeout);
  if (seen != sha256_hex) {
    return step_failed("the uploaded " + layout.binary() + " has sha256 " +
                       (seen.empty() ? "(unreadable)" : seen) + ", not " + sha256_hex);
  }
  StepReport ok;
  ok.detail = std::to_string(bytes.size()) + " bytes to " + layout.binary() + " (sha256 " +
              sha256_hex + ")";
  return ok;
}

Result<std::string> render_agent_config(const AgentLayout& layout, const AgentSettings& settings) {
  std::vector<std::pair<std::string, std::string>> entries = {{"server", settings.server_addr},
                                                              {"server-id", settings.server_id},
                                                              {"token-file", layout.token_file()},
                                                              {"state-dir", layout.state_dir()}};
  if (settings.tls) entries.emplace_back("tls-ca", layout.ca_file());
  std::string out = "# Written by the Axion installer; axion-agent reads it with --config.\n";
  for (const auto& [key, value] : entries) {
    AXION_RETURN_IF_ERROR(check_config_value(key, value));
    out += key + " = \"" + value + "\"\n";
  }
  return out;
}

std::string render_systemd_unit(const AgentLayout& layout) {
  return "# Written by the Axion installer.\n"
         "[Unit]\n"
         "Description=Axion agent\n"
         "Wants=network-online.target\n"
         "After=network-online.target\n\n"
         "[Service]\n"
         "ExecStart=" +
         layout.binary() + " --config " + layout.config() +
         "\n"
         "Restart=always\n"
         "RestartSec=2\n"
         "TimeoutStopSec=30\n\n"
         "[Install]\n"
         "WantedBy=multi-user.target\n";
}

StepReport write_config(SshSession& session, const AgentLayout& layout,
                        const AgentSettings& settings, const std::string& token,
                        const std::string& ca_pem, std::chrono::milliseconds timeout) {
  StepReport failure;
  if (!make_directories(session, layout, timeout, &failure)) return failure;
  if (settings.tls) {
    if (Status s = session.upload(ca_pem, layout.ca_file(), 0644); !s.ok()) {
      return step_failed("writing " + layout.ca_file() + ": " + s.message());
    }
  }
  if (Status s = session.upload(token, layout.token_file(), 0600); !s.ok()) {
    return step_failed("writing " + layout.token_file() + ": " + s.message());
  }
  auto config = render_agent_config(layout, settings);
  if (!config.ok()) return step_failed(config.status().message());
  if (Status s = session.upload(*config, layout.config(), 0600); !s.ok()) {
    return step_failed("writing " + layout.config() + ": " + s.message());
  }
  StepReport ok;
  ok.detail = layout.config() + " (axion-server at " + settings.server_addr +
              (settings.tls ? ", TLS" : "") + ") and a one-time registration token";
  return ok;
}

StepReport install_service(SshSession& session, const AgentLayout& layout,
                           std::chrono::milliseconds timeout) {
  if (!layout.systemd) {
    StepReport skipped;
    skipped.outcome = v1::INSTALL_STEP_OUTCOME_SKIPPED;
    skipped.detail = std::string("no systemd unit: ") +
                     (layout.root ? "systemd is not running" : "the SSH user is not root") +
                     "; the agent runs as a " + layout.describe();
    return skipped;
  }
  if (Status s = session.upload(render_systemd_unit(layout), kAgentUnitPath, 0644); !s.ok()) {
    return step_failed(std::string("writing ") + kAgentUnitPath + ": " + s.message());
  }
  StepReport failure;
  if (!run_checked(session, {"systemctl", "daemon-reload"}, timeout, "systemctl daemon-reload",
                   &failure)
           .ok() ||
      !run_checked(session, {"systemctl", "enable", kAgentUnitName}, timeout, "systemctl enable",
                   &failure)
           .ok()) {
    return failure;
  }
  StepReport ok;
  ok.detail = std::string(kAgentUnitPath) + ", enabled";
  return ok;
}

StepReport start_service(SshSession& session, const AgentLayout& layout,
                         std::chrono::milliseconds timeout) {
  StepReport failure;
  if (layout.systemd) {
    if (!run_checked(session, {"systemctl", "restart", kAgentUnitName}, timeout,
                     "systemctl restart", &failure)
             .ok()) {
      return failure;
    }
    StepReport ok;
    ok.detail = std::string("systemctl restart ") + kAgentUnitName;
    return ok;
  }
  auto r = run_checked(session,
                       {layout.binary(), "--config", layout.config(), "--daemonize", "--pid-file",
                        layout.pid_file(), "--log-file", layout.log_file()},
                       timeout, "axion-agent --daemonize", &failure);
  if (!r.ok()) return failure;
  StepReport ok;
  ok.detail = "supervised process started (pid file " + layout.pid_file() + ", log " +
              layout.log_file() + ")";
  return ok;
}

std::string agent_log_tail(SshSession& session, const AgentLayout& layout,
                           std::chrono::milliseconds timeout) {
  auto r =
      layout.systemd
          ? session.run({"journalctl", "-u", kAgentUnitName, "-n", "40", "--no-pager"}, timeout)
          : session.run({"tail", "-c", "4096", layout.log_file()}, timeout);
  if (!r.ok()) return "(the agent's log could not be read: " + r.status().message() + ")";
  return tail(r->out + r->err, 4096);
}

StepReport remove_agent(SshSession& session, const AgentLayout& layout,
                        std::chrono::milliseconds timeout) {
  StepReport failure;
  // systemd may run even when the layout is supervised (a non-root user): only root has a unit.
  const std::vector<std::string> stop = {"sh",
                                         "-c",
                                         kStopScript,
                                         "sh",
                                         layout.binary(),
                                         layout.pid_file(),
                                         layout.systemd ? "1" : "0",
                                         kAgentUnitName,
                                         kAgentUnitPath};
  if (!run_checked(session, stop, timeout, "stopping the agent", &failure).ok()) return failure;
  if (!run_checked(session, {"rm", "-rf", "--", layout.base}, timeout, "removing " + layout.base,
                   &failure)
           .ok()) {
    return failure;
  }
  StepReport ok;
  ok.detail =
      "agent stopped; " + layout.base + (layout.systemd ? " and its unit" : "") + " removed";
  return ok;
}

}  // namespace axion::infra::ssh
