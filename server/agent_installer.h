// AgentInstaller: executes InstallAgent and UninstallAgent over SSH (infra/ssh/agent_install.h).
//
// A consumer-group member ("axion-agent-installer") of axion.infrastructure.events.v1 that never
// commits offsets: on assignment it folds each partition from offset 0 with the Cluster
// aggregate's own fold (commands::apply_event), so it knows every server's SSH settings, sealed
// credential, pinned key, agent status and its running install or removal. Once a partition is
// caught up, each running install gets one job thread (at most `max_parallel` at once) that
// resumes at the step after the last one recorded:
//
//   CONNECT -> CHECK_REQUIREMENTS -> UPLOAD_BINARY -> WRITE_CONFIG -> INSTALL_SERVICE ->
//   START_SERVICE -> WAIT_REGISTRATION
//
// Each step runs on the host, then is recorded with RecordAgentInstallStep (actor "system", key
// install-step:<install>:<step>) before the next starts; a FAILED step ends the install with the
// reason and the output tail. WAIT_REGISTRATION waits for the fold to show the agent ONLINE
// (AgentRegistered through the agent hub), at most `registration_timeout`, then fails with the
// agent's log tail. A cancelled or replaced install is noticed between steps and at the
// WAIT (and its late records are refused by the aggregate).
//
// Exactly once, explained: the host's side effects cannot commit with the log, so every step is
// idempotent on the host (uploads by temp + rename and skipped when the bytes are there, the
// config rewritten whole, the service (re)started) and its record is keyed by the step; a crash
// between a step and its record repeats that step once. WRITE_CONFIG mints a new one-time token
// when it runs again (IssueAgentToken replaces the previous one).
#pragma once

#include <google/protobuf/message.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "axion/v1/envelope.pb.h"
#include "commands/cluster_aggregate.h"
#include "common/status.h"
#include "events/event_log.h"
#include "infra/crypto/secret_sealer.h"
#include "infra/ssh/agent_install.h"

namespace axion::server {

struct AgentInstallerOptions {
  std::string group = "axion-agent-installer";
  std::string binary_path;        // the axion-agent uploaded (AXION_AGENT_BINARY)
  std::string agent_server_addr;  // host:port installed agents dial (AXION_AGENT_PUBLIC_ADDR)
  std::string tls_ca_pem;         // the agent listener's certificate; "" = plaintext
  std::chrono::milliseconds registration_timeout{120000};  // AXION_AGENT_INSTALL_TIMEOUT_MS
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds io_timeout{300000};  // one remote command or upload
  std::size_t max_parallel = 8;
  // Submits an internal command (actor "system") to the cluster's aggregate under `key` and
  // waits for its result; a refusal is its Status.
  std::function<Result<axion::v1::CommandResult>(const std::string& cluster_id,
                                                 const std::string& key,
                                                 const google::protobuf::Message& command)>
      submit;
};

class AgentInstaller {
 public:
  AgentInstaller(events::EventLog& log, const infra::crypto::SecretSealer& sealer,
                 AgentInstallerOptions options);
  ~AgentInstaller();
  AgentInstaller(const AgentInstaller&) = delete;
  AgentInstaller& operator=(const AgentInstaller&) = delete;

  Status start();
  void stop();  // idempotent; waits for the jobs (each stops at its next step boundary)

 private:
  // One install or removal being executed; shared between the polling thread and its thread.
  struct Job {
    bool uninstall = false;
    std::string cluster_id;
    commands::ServerState server;  // as of the job's start
    std::mutex mu;
    std::condition_variable cv;
    bool live = true;     // still the attempt the fold shows running (guarded by mu)
    bool online = false;  // the fold shows the agent ONLINE (guarded by mu)
    std::string agent_version;
    std::atomic<bool> finished{false};
    std::thread thread;
    const std::string& attempt() const {
      return uninstall ? server.install.uninstall_id : server.install.install_id;
    }
  };
  // One job's execution on its thread (agent_installer_run.cc).
  void run_job(Job& job);
  void run_install(Job& job);
  void run_uninstall(Job& job);
  // Submits `command` for the job's cluster; retries a lost answer under the same key.
  Status record(const Job& job, const std::string& key, const google::protobuf::Message& command);
  infra::ssh::StepReport write_config(Job& job, infra::ssh::SshSession& session,
                                      const infra::ssh::AgentLayout& layout);
  infra::ssh::StepReport wait_registration(Job& job, infra::ssh::SshSession& session,
                                           const infra::ssh::AgentLayout& layout);
  Status record_step(Job& job, axion::v1::AgentInstallStep step, const infra::ssh::StepReport& out);

  void loop();
  void fold(std::int32_t partition, const events::StoredRecord& record);
  void schedule();  // starts jobs for running attempts without one; reaps finished ones
  void notify_job(Job& job, const commands::ServerState& now);
  bool caught_up(std::int32_t partition) const;

  events::EventLog& log_;
  const infra::crypto::SecretSealer& sealer_;
  AgentInstallerOptions options_;
  std::unique_ptr<events::Consumer> consumer_;
  std::thread thread_;
  std::atomic<bool> running_{false};

  // Owned by the polling thread.
  std::map<std::int32_t, std::map<std::string, commands::ClusterState>> clusters_;
  std::map<std::int32_t, std::int64_t> catch_up_;     // end offset at assignment
  std::map<std::int32_t, std::int64_t> next_;         // next offset to fold
  std::map<std::string, std::shared_ptr<Job>> jobs_;  // by server id
  std::map<std::string, std::chrono::steady_clock::time_point> retry_at_;
};

}  // namespace axion::server
