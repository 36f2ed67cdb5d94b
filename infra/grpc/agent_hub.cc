#include "infra/grpc/agent_hub.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "commands/validators.h"
#include "common/wall_clock.h"
#include "infra/grpc/agent_secrets.h"
#include "infra/grpc/command_gateway.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;

namespace {

constexpr std::size_t kMaxToken = 4096;

Status unauthenticated(std::string m) { return {StatusCode::kUnauthenticated, std::move(m)}; }

// Hello checks that need no state: the refusal names what to fix on the agent's side.
Status check_hello(const v1::AgentHello& hello) {
  if (hello.server_id().empty()) {
    return invalid_field("server_id", "the Hello names no server: set AXION_AGENT_SERVER_ID");
  }
  AXION_RETURN_IF_ERROR(commands::validate_id("server_id", hello.server_id()));
  if (!hello.agent_id().empty()) {
    AXION_RETURN_IF_ERROR(commands::validate_id("agent_id", hello.agent_id()));
  }
  if (!hello.cluster_id().empty()) {
    AXION_RETURN_IF_ERROR(commands::validate_id("cluster_id", hello.cluster_id()));
  }
  if (hello.token().empty() || hello.token().size() > kMaxToken) {
    return unauthenticated("the Hello carries no token: give the agent a registration token "
                           "(CreateAgentRegistrationToken) or its stored credential");
  }
  return ok_status();
}

}  // namespace

namespace {

// The instance id as a session id part: [A-Za-z0-9._-] only, at most 60 characters.
std::string session_part(const std::string& instance_id) {
  std::string out;
  for (char c : instance_id.substr(0, 60)) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    out.push_back(ok ? c : '-');
  }
  if (out.empty() || out.front() == '-') out.insert(out.begin(), 'i');
  return out;
}

}  // namespace

AgentHub::AgentHub(commands::CommandBus& bus, ClusterOfServer cluster_of, AgentHubOptions options)
    : bus_(bus), cluster_of_(std::move(cluster_of)), options_(std::move(options)),
      instance_(session_part(options_.instance_id)), boot_(new_uuid().substr(0, 8)) {}

AgentHub::~AgentHub() { stop(std::chrono::milliseconds(0)); }

void AgentHub::start() {
  std::lock_guard lock(mu_);
  if (running_ || stopping_) return;
  running_ = true;
  started_at_ = Clock::now();
  reaper_ = std::thread([this] { reap_loop(); });
}

void AgentHub::stop(std::chrono::milliseconds drain) {
  std::vector<std::shared_ptr<StreamHandle>> handles;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    running_ = false;
    for (auto& [id, s] : sessions_) {
      if (s.close_reason.empty()) s.close_reason = "axion-server stopped";
      handles.push_back(s.handle);
    }
  }
  cv_.notify_all();
  if (reaper_.joinable()) reaper_.join();
  for (auto& h : handles) h->close(unavailable("axion-server is stopping; reconnect"));
  // The streams end on gRPC's threads and report OFFLINE through the lanes; give those a
  // bounded time to be recorded while the bus still runs.
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, drain, [&] { return sessions_.empty() && in_flight_ == 0; });
}

std::string AgentHub::open(std::shared_ptr<StreamHandle> handle) {
  const std::string id = instance_ + ":" + boot_ + ":" + new_uuid();
  bool refuse = false;
  {
    std::lock_guard lock(mu_);
    refuse = stopping_;
    Session& s = sessions_[id];
    s.handle = handle;
    s.last_sign = Clock::now();
    if (refuse) s.close_reason = "axion-server stopped";
  }
  if (refuse) handle->close(unavailable("axion-server is stopping; reconnect"));
  return id;
}

void AgentHub::hello(const std::string& session_id, const v1::AgentHello& hello, Admitted done) {
  if (auto s = check_hello(hello); !s.ok()) return done(s);
  {
    std::lock_guard lock(mu_);
    const auto it = sessions_.find(session_id);
    if (it == sessions_.end() || stopping_) {
      return done(unavailable("axion-server is stopping; reconnect"));
    }
    if (!it->second.server_id.empty()) {
      return done(invalid_argument("a stream sends one Hello, first"));
    }
    it->second.server_id = hello.server_id();
    it->second.last_sign = Clock::now();
  }
  std::string cluster_id = hello.cluster_id();
  if (cluster_id.empty()) {
    auto found = cluster_of_(hello.server_id());
    if (!found.ok()) {
      {
        std::lock_guard lock(mu_);
        ++totals_.refused;
      }
      if (found.status().code() == StatusCode::kNotFound) {
        return done(unauthenticated("server " + hello.server_id() +
                                    " is not known to this control plane: check "
                                    "AXION_AGENT_SERVER_ID (a server created a moment ago may "
                                    "not be visible yet; the agent retries)"));
      }
      return done(found.status());
    }
    cluster_id = *found;
  }
  // A registration token (first connect, or a new token after revocation) or the credential.
  const bool registering = hello.agent_id().empty() ||
                           hello.token().rfind(kRegistrationTokenPrefix, 0) == 0;
  std::string credential;
  std::unique_ptr<google::protobuf::Message> command;
  std::string key;
  if (registering) {
    auto minted = new_agent_secret(kAgentCredentialPrefix);
    if (!minted.ok()) return done(minted.status());
    credential = *minted;
    auto reg = std::make_unique<v1::RegisterAgent>();
    reg->set_server_id(hello.server_id());
    reg->set_cluster_id(cluster_id);
    reg->set_agent_id(hello.agent_id());
    reg->set_token_hash(secret_hash(hello.token()));
    reg->set_credential_hash(secret_hash(credential));
    reg->set_session_id(session_id);
    reg->set_version(hello.version());
    *reg->mutable_runtimes() = hello.runtimes();
    *reg->mutable_host() = hello.host();
    command = std::move(reg);
    key = "agent-register:" + session_id;
  } else {
    auto conn = std::make_unique<v1::ConnectAgent>();
    conn->set_server_id(hello.server_id());
    conn->set_cluster_id(cluster_id);
    conn->set_agent_id(hello.agent_id());
    conn->set_credential_hash(secret_hash(hello.token()));
    conn->set_session_id(session_id);
    conn->set_version(hello.version());
    *conn->mutable_runtimes() = hello.runtimes();
    *conn->mutable_host() = hello.host();
    command = std::move(conn);
    key = "agent-connect:" + session_id;
  }
  std::shared_ptr<google::protobuf::Message> payload(std::move(command));
  enqueue(hello.server_id(), [this, session_id, cluster_id, key, payload, credential,
                              server_id = hello.server_id(), version = hello.version(),
                              agent_id = hello.agent_id(),
                              done = std::move(done)](std::function<void()> next) mutable {
    submit(cluster_id, key, *payload,
           [this, session_id, cluster_id, server_id, version, credential, agent_id,
            done = std::move(done),
            next = std::move(next)](Result<v1::CommandResult> result) mutable {
             if (!result.ok()) {
               {
                 std::lock_guard lock(mu_);
                 ++totals_.refused;
               }
               spdlog::warn("agent of server {} refused: {}", server_id,
                            result.status().to_string());
               done(result.status());
               return next();
             }
             Admission admission;
             admission.cluster_id = cluster_id;
             admission.server_id = server_id;
             admission.credential = credential;
             std::shared_ptr<StreamHandle> replaced;
             {
               std::lock_guard lock(mu_);
               ++totals_.admitted;
               auto it = sessions_.find(session_id);
               if (it != sessions_.end()) {
                 Session& s = it->second;
                 // Registration names the agent (created_ids); a reconnect is who it said.
                 const auto created = result->created_ids().find("agent_id");
                 s.agent_id = created != result->created_ids().end() ? created->second : agent_id;
                 admission.agent_id = s.agent_id;
                 s.admitted = true;
                 s.cluster_id = cluster_id;
                 s.version = version;
                 s.connected_at_ms = wall_clock_ms();
                 s.last_sign = Clock::now();
                 // A newer stream of the same server replaces the older one.
                 auto& current = current_[server_id];
                 if (!current.empty() && current != session_id) {
                   const auto old = sessions_.find(current);
                   if (old != sessions_.end()) {
                     old->second.close_reason = "replaced by a newer connection";
                     replaced = old->second.handle;
                   }
                 }
                 current = session_id;
               }
             }
             if (replaced) {
               replaced->close(Status(StatusCode::kAborted,
                                      "a newer connection of this agent replaced this one"));
             }
             spdlog::info("agent {} of server {} admitted ({})", admission.agent_id, server_id,
                          credential.empty() ? "credential" : "registered");
             const std::string admitted_agent = admission.agent_id;
             done(std::move(admission));
             if (listener_) listener_->agent_admitted(server_id, admitted_agent);
             next();
           });
  });
}

void AgentHub::heartbeat(const std::string& session_id, const v1::AgentHeartbeat& hb) {
  std::lock_guard lock(mu_);
  const auto it = sessions_.find(session_id);
  if (it == sessions_.end() || !it->second.admitted) return;
  Session& s = it->second;
  s.last_sign = Clock::now();
  s.last_heartbeat_ms = wall_clock_ms();
  ++s.heartbeats;
  ++totals_.heartbeats;
  s.load.set_cpu_percent(hb.cpu_percent());
  s.load.set_memory_used_mb(hb.memory_used_mb());
  s.load.set_memory_total_mb(hb.memory_total_mb());
  s.load.set_disk_used_mb(hb.disk_used_mb());
  s.load.set_disk_total_mb(hb.disk_total_mb());
}

void AgentHub::closed(const std::string& session_id) {
  std::string server_id;
  {
    std::lock_guard lock(mu_);
    const auto it = sessions_.find(session_id);
    if (it == sessions_.end()) return;
    server_id = it->second.server_id;
    if (server_id.empty()) {  // never said Hello: nothing was recorded about it
      sessions_.erase(it);
      cv_.notify_all();
      return;
    }
  }
  // After any admission queued before it: only then is "still current?" the right question.
  enqueue(server_id, [this, session_id, server_id](std::function<void()> next) {
    std::string cluster_id, agent_id, reason;
    bool current = false;
    {
      std::lock_guard lock(mu_);
      const auto it = sessions_.find(session_id);
      if (it != sessions_.end()) {
        const auto cur = current_.find(server_id);
        current = it->second.admitted && cur != current_.end() && cur->second == session_id;
        if (current) current_.erase(cur);
        cluster_id = it->second.cluster_id;
        agent_id = it->second.agent_id;
        reason = it->second.close_reason.empty() ? "agent stream ended" : it->second.close_reason;
        sessions_.erase(it);
        cv_.notify_all();
      }
    }
    if (!current) return next();
    report_offline(session_id, server_id, cluster_id, agent_id, reason);
    next();
  });
}

void AgentHub::disconnect(const std::string& server_id, const std::string& reason) {
  std::shared_ptr<StreamHandle> handle;
  {
    std::lock_guard lock(mu_);
    const auto cur = current_.find(server_id);
    if (cur == current_.end()) return;
    const auto it = sessions_.find(cur->second);
    if (it == sessions_.end()) return;
    if (it->second.close_reason.empty()) it->second.close_reason = reason;
    handle = it->second.handle;
  }
  handle->close(Status(StatusCode::kPermissionDenied, reason));
}

std::optional<LiveAgent> AgentHub::live(const std::string& server_id) const {
  std::lock_guard lock(mu_);
  const auto cur = current_.find(server_id);
  if (cur == current_.end()) return std::nullopt;
  const auto it = sessions_.find(cur->second);
  if (it == sessions_.end()) return std::nullopt;
  const Session& s = it->second;
  LiveAgent out;
  out.connected = true;
  out.agent_id = s.agent_id;
  out.version = s.version;
  out.connected_at_ms = s.connected_at_ms;
  out.last_heartbeat_ms = s.last_heartbeat_ms;
  out.load = s.load;
  out.heartbeats = s.heartbeats;
  return out;
}

AgentHubStats AgentHub::stats() const {
  std::lock_guard lock(mu_);
  AgentHubStats out = totals_;
  out.streams = sessions_.size();
  out.agents = current_.size();
  return out;
}

void AgentHub::reap_loop() {
  const auto tick = std::clamp(options_.offline_after / 5, std::chrono::milliseconds(20),
                               std::chrono::milliseconds(1000));
  // Agents of a crashed earlier run get `offline_after` to reconnect before they are swept.
  auto sweep_at = started_at_ + options_.offline_after;
  bool swept = !options_.online_agents;
  std::unique_lock lock(mu_);
  while (running_) {
    cv_.wait_for(lock, tick);
    if (!running_) break;
    const auto now = Clock::now();
    if (!swept && now >= sweep_at) {
      lock.unlock();
      swept = sweep_orphans();
      if (!swept) sweep_at = now + options_.offline_after;
      lock.lock();
      if (!running_) break;
    }
    std::vector<std::pair<std::shared_ptr<StreamHandle>, std::string>> expired;
    for (auto& [id, s] : sessions_) {
      if (!s.close_reason.empty() || now - s.last_sign <= options_.offline_after) continue;
      s.close_reason = (s.admitted ? "no heartbeat for " : "no Hello for ") +
                       std::to_string(options_.offline_after.count()) + " ms";
      ++totals_.timeouts;
      expired.emplace_back(s.handle, s.close_reason);
    }
    lock.unlock();
    for (auto& [handle, reason] : expired) handle->close(unavailable(reason + "; reconnect"));
    lock.lock();
  }
}

}  // namespace axion::infra::gateway
