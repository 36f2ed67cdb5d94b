// The AgentHub's commands: the per-server lanes that keep one server's commands in order,
// submission to the Cluster aggregate as "system" (retrying a lost answer under the same
// idempotency key), and the OFFLINE report.
#include <spdlog/spdlog.h>

#include "infra/grpc/agent_hub.h"
#include "infra/grpc/command_gateway.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;

namespace {

constexpr int kMaxAttempts = 3;

}  // namespace

void AgentHub::report_offline(const std::string& session_id, const std::string& server_id,
                              const std::string& cluster_id, const std::string& agent_id,
                              const std::string& reason) {
  v1::AgentStatusChanged report;
  report.set_server_id(server_id);
  report.set_cluster_id(cluster_id);
  report.set_agent_id(agent_id);
  report.set_to_status(v1::AGENT_STATUS_OFFLINE);
  report.set_reason(reason);
  report.set_session_id(session_id);
  spdlog::info("agent {} of server {} offline: {}", agent_id, server_id, reason);
  submit(cluster_id, "agent-offline:" + session_id, report,
         [server_id](Result<v1::CommandResult> result) {
           if (!result.ok()) {
             spdlog::warn("agent of server {}: OFFLINE not recorded: {}", server_id,
                          result.status().to_string());
           }
         });
}

void AgentHub::enqueue(const std::string& server_id, Op op) {
  {
    std::lock_guard lock(mu_);
    Lane& lane = lanes_[server_id];
    if (lane.busy) {
      lane.pending.push_back(std::move(op));
      return;
    }
    lane.busy = true;
  }
  op([this, server_id] { lane_done(server_id); });
}

void AgentHub::lane_done(const std::string& server_id) {
  Op next;
  {
    std::lock_guard lock(mu_);
    Lane& lane = lanes_[server_id];
    if (lane.pending.empty()) {
      lanes_.erase(server_id);
      return;
    }
    next = std::move(lane.pending.front());
    lane.pending.pop_front();
  }
  next([this, server_id] { lane_done(server_id); });
}

void AgentHub::submit(const std::string& cluster_id, const std::string& key,
                      const google::protobuf::Message& payload, commands::CommandBus::Done done,
                      int attempt) {
  v1::CommandEnvelope envelope =
      system_cluster_command(cluster_id, key, payload, options_.command_timeout);
  {
    std::lock_guard lock(mu_);
    ++in_flight_;
  }
  // The payload is copied into the envelope; a retry needs it again.
  std::shared_ptr<google::protobuf::Message> copy(payload.New());
  copy->CopyFrom(payload);
  bus_.submit_async(std::move(envelope), options_.command_timeout,
                    [this, cluster_id, key, copy, attempt,
                     done = std::move(done)](Result<v1::CommandResult> result) mutable {
                      result = commands::refusal_as_status(std::move(result));
                      const bool retry = !result.ok() && attempt < kMaxAttempts &&
                                         (result.status().code() == StatusCode::kDeadlineExceeded ||
                                          result.status().code() == StatusCode::kUnavailable);
                      if (retry) {
                        submit(cluster_id, key, *copy, std::move(done), attempt + 1);
                      } else {
                        done(std::move(result));
                      }
                      std::lock_guard lock(mu_);
                      --in_flight_;
                      cv_.notify_all();
                    });
}

bool AgentHub::sweep_orphans() {
  auto online = options_.online_agents();
  if (!online.ok()) {
    spdlog::warn("cannot list the agents shown ONLINE (retrying later): {}",
                 online.status().message());
    return false;
  }
  std::size_t swept = 0;
  for (const auto& [cluster_id, server_id] : *online) {
    if (holds(server_id)) continue;
    v1::AgentStatusChanged report;
    report.set_server_id(server_id);
    report.set_cluster_id(cluster_id);
    report.set_to_status(v1::AGENT_STATUS_OFFLINE);
    report.set_reason("its stream ended when axion-server instance " + instance_ +
                      " stopped without closing it, and it did not reconnect within " +
                      std::to_string(options_.offline_after.count()) + " ms");
    report.set_hub_instance(instance_);
    report.set_hub_boot(boot_);
    // The aggregate records it only if the agent's current stream is one of an earlier run
    // of this instance; for streams held by other instances it records nothing.
    enqueue(server_id, [this, report, key = "agent-orphan:" + server_id + ":" + boot_](
                           std::function<void()> next) {
      submit(report.cluster_id(), key, report,
             [next = std::move(next),
              server_id = report.server_id()](Result<v1::CommandResult> result) {
               if (!result.ok()) {
                 spdlog::warn("agent of server {}: orphaned stream not closed: {}", server_id,
                              result.status().to_string());
               }
               next();
             });
    });
    ++swept;
  }
  if (swept > 0) {
    spdlog::info(
        "checked {} agents shown ONLINE that no stream here holds (left by an earlier "
        "run of this instance, or held by another)",
        swept);
  }
  return true;
}

}  // namespace axion::infra::gateway
