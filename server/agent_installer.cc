#include "server/agent_installer.h"

#include <spdlog/spdlog.h>

#include "events/envelope.h"
#include "events/topics.h"

namespace axion::server {

namespace {

namespace v1 = axion::v1;

constexpr auto kPollTimeout = std::chrono::milliseconds(200);
constexpr auto kRetryPause = std::chrono::milliseconds(500);
// A job that ended without the fold moving on (an append failed, the host was briefly
// unreachable before anything was recorded) is started again after this pause.
constexpr auto kJobRetry = std::chrono::seconds(5);

bool install_running(const commands::ServerState& s) { return s.install.running; }
bool uninstall_running(const commands::ServerState& s) { return s.install.uninstall_running; }

}  // namespace

AgentInstaller::AgentInstaller(events::EventLog& log, const infra::crypto::SecretSealer& sealer,
                               AgentInstallerOptions options)
    : log_(log), sealer_(sealer), options_(std::move(options)) {}

AgentInstaller::~AgentInstaller() { stop(); }

Status AgentInstaller::start() {
  if (!options_.submit) return failed_precondition("the agent installer needs a command bus");
  events::RebalanceCallbacks callbacks;
  callbacks.on_assigned = [this](const std::vector<events::TopicPartition>& tps) {
    for (const auto& tp : tps) {
      clusters_.erase(tp.partition);
      next_[tp.partition] = 0;
      auto end = log_.end_offset(tp);
      catch_up_[tp.partition] = end.ok() ? *end : 0;
      // Read from the beginning whatever the group remembers: the fold is the whole truth.
      (void)consumer_->seek(tp, 0);
    }
  };
  callbacks.on_revoked = [this](const std::vector<events::TopicPartition>& tps) {
    for (const auto& tp : tps) {
      for (const auto& [cluster_id, state] : clusters_[tp.partition]) {
        for (const auto& [server_id, server] : state.servers) {
          const auto job = jobs_.find(server_id);
          if (job == jobs_.end()) continue;
          std::lock_guard lock(job->second->mu);
          job->second->live = false;  // another member takes it from the next step boundary
          job->second->cv.notify_all();
        }
      }
      clusters_.erase(tp.partition);
      catch_up_.erase(tp.partition);
      next_.erase(tp.partition);
    }
  };
  auto consumer = log_.subscribe(options_.group, {std::string(events::kInfrastructureEventsTopic)},
                                 std::move(callbacks));
  if (!consumer.ok()) return consumer.status();
  consumer_ = std::move(consumer).value();
  running_ = true;
  thread_ = std::thread([this] { loop(); });
  return ok_status();
}

void AgentInstaller::stop() {
  if (!running_.exchange(false)) return;
  if (thread_.joinable()) thread_.join();
  for (auto& [server_id, job] : jobs_) {
    {
      std::lock_guard lock(job->mu);
      job->live = false;
      job->cv.notify_all();
    }
    if (job->thread.joinable()) job->thread.join();
  }
  jobs_.clear();
  if (consumer_) consumer_->close();
}

void AgentInstaller::loop() {
  while (running_) {
    auto records = consumer_->poll(kPollTimeout);
    if (!records.ok()) {
      spdlog::warn("agent installer: {} (retrying)", records.status().message());
      std::this_thread::sleep_for(kRetryPause);
      continue;
    }
    for (const auto& r : *records) fold(r.tp.partition, r);
    // Nothing more to read right now and one offset short: that offset is a transaction's
    // commit marker on Kafka, not a record, so the partition is caught up.
    if (records->empty()) {
      for (auto& [partition, end] : catch_up_)
        if (end == next_[partition] + 1) end = next_[partition];
    }
    schedule();
  }
}

bool AgentInstaller::caught_up(std::int32_t partition) const {
  const auto end = catch_up_.find(partition);
  const auto next = next_.find(partition);
  return end != catch_up_.end() && next != next_.end() && next->second >= end->second;
}

void AgentInstaller::fold(std::int32_t partition, const events::StoredRecord& record) {
  next_[partition] = record.offset + 1;
  auto envelope = events::parse_envelope(record);
  if (!envelope.ok()) return;  // refused as DATA_LOSS where it was written
  commands::ClusterState& state = clusters_[partition][events::record_key(*envelope)];
  commands::apply_event(state, *envelope);
  const auto target = commands::event_target(envelope->payload());
  if (!target.ok() || target->aggregate_type != "server") return;
  const auto server = state.servers.find(target->aggregate_id);
  const auto job = jobs_.find(target->aggregate_id);
  if (server != state.servers.end() && job != jobs_.end()) notify_job(*job->second, server->second);
}

// Tells a job what the fold now says about its server.
void AgentInstaller::notify_job(Job& job, const commands::ServerState& now) {
  std::lock_guard lock(job.mu);
  job.live =
      job.uninstall
          ? uninstall_running(now) && now.install.uninstall_id == job.server.install.uninstall_id
          : install_running(now) && now.install.install_id == job.server.install.install_id;
  job.online = now.agent_status == v1::AGENT_STATUS_ONLINE && !now.agent_id.empty();
  job.agent_version = now.agent_version;
  job.cv.notify_all();
}

void AgentInstaller::schedule() {
  const auto now = std::chrono::steady_clock::now();
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (!it->second->finished) {
      ++it;
      continue;
    }
    it->second->thread.join();
    retry_at_[it->first] = now + kJobRetry;
    it = jobs_.erase(it);
  }
  for (const auto& [partition, clusters] : clusters_) {
    if (!caught_up(partition)) continue;  // never act on a state the log has moved past
    for (const auto& [cluster_id, state] : clusters) {
      for (const auto& [server_id, server] : state.servers) {
        const bool install = install_running(server);
        if (!install && !uninstall_running(server)) continue;
        if (jobs_.count(server_id) || jobs_.size() >= options_.max_parallel) continue;
        const auto retry = retry_at_.find(server_id);
        if (retry != retry_at_.end() && retry->second > now) continue;
        auto job = std::make_shared<Job>();
        job->uninstall = !install;
        job->cluster_id = cluster_id;
        job->server = server;
        notify_job(*job, server);
        spdlog::info("agent installer: {} {} on server {} (resuming after {})",
                     job->uninstall ? "removal" : "install", job->attempt(), server_id,
                     v1::AgentInstallStep_Name(server.install.last_step));
        job->thread = std::thread([this, job] {
          run_job(*job);
          job->finished = true;
        });
        jobs_[server_id] = job;
      }
    }
  }
}

}  // namespace axion::server
