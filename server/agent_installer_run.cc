// One install or removal job of the AgentInstaller (server/agent_installer.h): the steps in
// order on one SSH session, each recorded before the next.
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>
#include <sys/utsname.h>

#include <fstream>
#include <sstream>

#include "commands/command_bus.h"
#include "commands/content_hash.h"
#include "infra/grpc/agent_secrets.h"
#include "infra/grpc/command_gateway.h"
#include "infra/grpc/infrastructure_service.h"
#include "infra/ssh/server_probe.h"
#include "server/agent_installer.h"

namespace axion::server {

namespace {

namespace v1 = axion::v1;
namespace ssh = infra::ssh;

constexpr int kRecordAttempts = 4;
constexpr auto kRecordPause = std::chrono::seconds(1);
constexpr auto kTokenSlack = std::chrono::minutes(15);

std::string local_arch() {
  struct utsname u {};
  return uname(&u) == 0 ? u.machine : "unknown";
}

Result<std::string> read_binary(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return failed_precondition("cannot read the axion-agent binary " + path +
                               " (AXION_AGENT_BINARY)");
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

bool wildcard_host(const std::string& addr) {
  const auto colon = addr.rfind(':');
  const std::string host = colon == std::string::npos ? addr : addr.substr(0, colon);
  return host.empty() || host == "0.0.0.0" || host == "[::]" || host == "::";
}

ssh::StepReport succeeded(std::string detail) {
  ssh::StepReport r;
  r.detail = std::move(detail);
  return r;
}

}  // namespace

void AgentInstaller::run_job(Job& job) {
  if (job.uninstall) {
    run_uninstall(job);
  } else {
    run_install(job);
  }
}

Status AgentInstaller::record(const Job& job, const std::string& key,
                              const google::protobuf::Message& command) {
  Status last;
  for (int attempt = 0; attempt < kRecordAttempts; ++attempt) {
    auto result = options_.submit(job.cluster_id, key, command);
    if (result.ok()) return ok_status();
    last = result.status();
    if (last.code() != StatusCode::kUnavailable && last.code() != StatusCode::kDeadlineExceeded)
      break;
    std::this_thread::sleep_for(kRecordPause);
  }
  spdlog::warn("agent installer: server {}: {} not recorded: {}", job.server.server_id,
               command.GetDescriptor()->name(), last.message());
  return last;
}

Status AgentInstaller::record_step(Job& job, v1::AgentInstallStep step,
                                   const ssh::StepReport& out) {
  v1::RecordAgentInstallStep command;
  command.set_server_id(job.server.server_id);
  command.set_install_id(job.server.install.install_id);
  command.set_step(step);
  command.set_outcome(out.outcome);
  command.set_detail(out.detail.substr(0, 4000));
  command.set_reason(out.reason.substr(0, 4000));
  command.set_output(out.output);
  if (step == v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION && out.ok()) {
    std::lock_guard lock(job.mu);
    command.set_agent_version(job.agent_version);
  }
  const std::string key =
      "install-step:" + job.server.install.install_id + ":" + v1::AgentInstallStep_Name(step);
  Status s = record(job, key, command);
  if (s.ok()) {
    spdlog::info("agent install {} on server {}: {} {}: {}", job.server.install.install_id,
                 job.server.server_id, v1::AgentInstallStep_Name(step),
                 v1::InstallStepOutcome_Name(out.outcome), out.ok() ? out.detail : out.reason);
  }
  return s;
}

void AgentInstaller::run_install(Job& job) {
  const commands::ServerState& server = job.server;
  auto step = static_cast<v1::AgentInstallStep>(static_cast<int>(server.install.last_step) + 1);
  const auto live = [&] {
    std::lock_guard lock(job.mu);
    return job.live;
  };
  const auto fail = [&](std::string reason, std::string output = "") {
    if (live())
      (void)record_step(job, step, ssh::step_failed(std::move(reason), std::move(output)));
  };
  auto binary = read_binary(options_.binary_path);
  if (!binary.ok()) return fail(binary.status().message());
  const std::string sha256 = commands::sha256_hex(*binary);

  auto auth =
      infra::gateway::open_ssh_auth(sealer_, server.credential, server.server_id, server.name);
  if (!auth.ok()) return fail(auth.status().message());
  ssh::SshOptions options;
  options.connect_timeout = options_.connect_timeout;
  options.io_timeout = options_.io_timeout;
  const ssh::SshTarget target{server.host, static_cast<std::uint16_t>(server.port),
                              server.ssh_user};
  std::string pinned = server.host_key_fingerprint;
  if (pinned.empty()) {
    // Trust on first use, recorded like a connection test that pins (HostKeyPinned).
    bool refused = false;
    v1::ServerReport report = ssh::probe_server(target, *auth, "", options, &refused);
    if (!report.authenticated()) {
      infra::gateway::wipe_ssh_auth(*auth);
      return fail(report.errors_size() ? report.errors(0) : "cannot connect to " + target.where());
    }
    v1::TestServerConnection test;
    test.set_server_id(server.server_id);
    test.set_pin_host_key(true);
    *test.mutable_report() = report;
    if (Status s = record(job, "install-pin:" + server.install.install_id, test); !s.ok()) {
      infra::gateway::wipe_ssh_auth(*auth);
      return fail("pinning the host key failed: " + s.message());
    }
    pinned = report.host_key_fingerprint();
  }
  auto session = ssh::SshSession::connect(target, *auth, pinned, options);
  infra::gateway::wipe_ssh_auth(*auth);
  if (!session.ok()) return fail(session.status().message());
  if (step == v1::AGENT_INSTALL_STEP_CONNECT) {
    const auto& key = (*session)->host_key();
    if (!record_step(
             job, step,
             succeeded(target.where() + ", host key " + key.algorithm + " " + key.fingerprint))
             .ok())
      return;
    step = v1::AGENT_INSTALL_STEP_CHECK_REQUIREMENTS;
  }
  auto layout = ssh::detect_layout(**session, options.io_timeout);
  if (!layout.ok()) return fail(layout.status().message());

  for (; step <= v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION;
       step = static_cast<v1::AgentInstallStep>(step + 1)) {
    if (!live() || !running_) return;
    ssh::StepReport r;
    switch (step) {
      case v1::AGENT_INSTALL_STEP_CHECK_REQUIREMENTS:
        r = ssh::check_requirements(*layout, local_arch(), binary->size());
        break;
      case v1::AGENT_INSTALL_STEP_UPLOAD_BINARY:
        r = ssh::upload_binary(**session, *layout, *binary, sha256, options.io_timeout);
        break;
      case v1::AGENT_INSTALL_STEP_WRITE_CONFIG:
        r = write_config(job, **session, *layout);
        break;
      case v1::AGENT_INSTALL_STEP_INSTALL_SERVICE:
        r = ssh::install_service(**session, *layout, options.io_timeout);
        break;
      case v1::AGENT_INSTALL_STEP_START_SERVICE:
        r = ssh::start_service(**session, *layout, options.io_timeout);
        break;
      default:
        r = wait_registration(job, **session, *layout);
        break;
    }
    if (!live() || !running_) return;  // cancelled meanwhile: its record would be refused
    if (!record_step(job, step, r).ok() || !r.ok()) return;
  }
}

ssh::StepReport AgentInstaller::write_config(Job& job, ssh::SshSession& session,
                                             const ssh::AgentLayout& layout) {
  if (wildcard_host(options_.agent_server_addr)) {
    return ssh::step_failed("installed agents cannot dial '" + options_.agent_server_addr +
                            "': set AXION_AGENT_PUBLIC_ADDR to the host:port of this "
                            "axion-server's agent listener as the servers reach it");
  }
  auto token = infra::gateway::new_agent_secret(infra::gateway::kRegistrationTokenPrefix);
  if (!token.ok()) return ssh::step_failed(token.status().message());
  v1::IssueAgentToken issue;
  issue.set_server_id(job.server.server_id);
  issue.set_cluster_id(job.cluster_id);
  issue.set_token_hash(infra::gateway::secret_hash(*token));
  issue.mutable_ttl()->set_seconds(
      std::chrono::duration_cast<std::chrono::seconds>(options_.registration_timeout + kTokenSlack)
          .count());
  // A new token each time the step runs: IssueAgentToken replaces the previous one.
  const std::string key =
      "install-token:" + job.server.install.install_id + ":" + infra::gateway::new_uuid();
  if (Status s = record(job, key, issue); !s.ok()) {
    OPENSSL_cleanse(token->data(), token->size());
    return ssh::step_failed("issuing the registration token failed: " + s.message());
  }
  ssh::AgentSettings settings{options_.agent_server_addr, job.server.server_id,
                              !options_.tls_ca_pem.empty()};
  ssh::StepReport r = ssh::write_config(session, layout, settings, *token, options_.tls_ca_pem,
                                        options_.io_timeout);
  OPENSSL_cleanse(token->data(), token->size());
  return r;
}

ssh::StepReport AgentInstaller::wait_registration(Job& job, ssh::SshSession& session,
                                                  const ssh::AgentLayout& layout) {
  std::string version;
  bool online = false;
  {
    std::unique_lock lock(job.mu);
    job.cv.wait_for(lock, options_.registration_timeout,
                    [&] { return !job.live || job.online || !running_; });
    if (!job.live || !running_) return ssh::step_failed("stopped");  // not recorded
    online = job.online;
    version = job.agent_version;
  }
  const std::string& wanted = job.server.install.agent_version;
  if (online && !wanted.empty() && version != wanted) {
    return ssh::step_failed("the agent registered with version " + version + ", not the " + wanted +
                            " requested (AXION_AGENT_BINARY is " + version + ")");
  }
  if (online) return succeeded("the agent registered (version " + version + ")");
  return ssh::step_failed("the agent did not register within " +
                              std::to_string(options_.registration_timeout.count() / 1000) +
                              " s (it dials " + options_.agent_server_addr +
                              "); the end of its log is in the output",
                          ssh::agent_log_tail(session, layout, options_.connect_timeout));
}

void AgentInstaller::run_uninstall(Job& job) {
  const commands::ServerState& server = job.server;
  v1::RecordAgentUninstall done;
  done.set_server_id(server.server_id);
  done.set_uninstall_id(server.install.uninstall_id);
  const auto finish = [&](const ssh::StepReport& r) {
    done.set_succeeded(r.ok());
    done.set_detail((r.ok() ? r.detail : r.reason).substr(0, 4000));
    done.set_output(r.output);
    if (record(job, "uninstall:" + server.install.uninstall_id, done).ok()) {
      spdlog::info("agent removal {} on server {}: {}", server.install.uninstall_id,
                   server.server_id, done.detail());
    }
  };
  auto auth =
      infra::gateway::open_ssh_auth(sealer_, server.credential, server.server_id, server.name);
  if (!auth.ok()) return finish(ssh::step_failed(auth.status().message()));
  ssh::SshOptions options;
  options.connect_timeout = options_.connect_timeout;
  options.io_timeout = options_.io_timeout;
  auto session = ssh::SshSession::connect(
      {server.host, static_cast<std::uint16_t>(server.port), server.ssh_user}, *auth,
      server.host_key_fingerprint, options);
  infra::gateway::wipe_ssh_auth(*auth);
  if (!session.ok()) return finish(ssh::step_failed(session.status().message()));
  auto layout = ssh::detect_layout(**session, options.io_timeout);
  if (!layout.ok()) return finish(ssh::step_failed(layout.status().message()));
  finish(ssh::remove_agent(**session, *layout, options.io_timeout));
}

}  // namespace axion::server
