// AgentHub: the control plane's side of the agents' streams (AgentService.Connect). It
// authenticates a stream's Hello through the Cluster aggregate (RegisterAgent exchanges a
// one-time registration token for a long-lived credential the hub mints; ConnectAgent checks a
// reconnecting agent's credential), keeps every admitted stream and its last heartbeat IN
// MEMORY — heartbeats are not events — and records only transitions: AgentStatusChanged OFFLINE
// when a stream ends or misses heartbeats for `offline_after`, ONLINE again on reconnect.
//
// Ordering: the commands about one server are submitted one at a time, in the order the hub
// decided them (a per-server lane), and "is this stream still the server's current one?" is
// asked when its OFFLINE report runs, after any earlier admission of a newer stream. So a stream
// that a newer one replaced never marks the agent OFFLINE, and a reconnect is never overtaken by
// the old stream's OFFLINE. Across axion-servers the aggregate fences the same way: every
// command names its session, an admission records it as the agent's current stream, and an
// OFFLINE for another session is stale. Every command carries a deterministic idempotency key
// ("agent-<what>:<session id>"), so a report retried after a lost answer is applied once.
//
// Thread-safety: every public method may be called from any thread. Callbacks into streams
// (StreamHandle) are made without the hub's lock held.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "axion/v1/agent.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "commands/command_bus.h"
#include "common/status.h"

namespace axion::infra::gateway {

struct AgentHubOptions {
  // AXION_AGENT_OFFLINE_AFTER_MS: a stream without a heartbeat (or a Hello) for this long is
  // closed and its agent recorded OFFLINE.
  std::chrono::milliseconds offline_after{15000};
  // AXION_AGENT_HEARTBEAT_MS: told to agents in Welcome. REQUIRES < offline_after.
  std::chrono::milliseconds heartbeat_interval{5000};
  // How long one command may wait for its result (then it is retried with the same key).
  std::chrono::milliseconds command_timeout{10000};
  // This axion-server's instance id (AXION_INSTANCE_ID): session ids are
  // "<instance>:<boot>:<uuid>", so a restarted instance knows the streams it left behind.
  std::string instance_id = "axion";
  // Servers whose agent the views show ONLINE, as (cluster id, server id). When set, the hub
  // records OFFLINE, `offline_after` after its start, every such agent whose current stream an
  // earlier run of this instance opened and that has not reconnected (the run crashed).
  std::function<Result<std::vector<std::pair<std::string, std::string>>>()> online_agents;
};

// The cluster a server belongs to (the agent knows only its server id at first), or NOT_FOUND /
// UNAVAILABLE.
using ClusterOfServer = std::function<Result<std::string>(const std::string& server_id)>;

// What the hub may do to one stream: write a message, or end it. Implemented by the stream's
// reactor; every call after the stream ended is ignored.
class StreamHandle {
 public:
  virtual ~StreamHandle() = default;
  virtual void write(const axion::v1::ServerMessage& message) = 0;
  // Ends the stream with `status` (once; later calls are ignored).
  virtual void close(const Status& status) = 0;
};

// What the task relay (infra/grpc/agent_task_relay.h) hears from the agents' streams. Called
// without the hub's lock held, on gRPC or bus threads; must not block.
class AgentHubListener {
 public:
  virtual ~AgentHubListener() = default;
  // The agent of `server_id` was admitted here; its Welcome is already queued on the stream,
  // so whatever the listener sends now follows it.
  virtual void agent_admitted(const std::string& server_id, const std::string& agent_id) = 0;
  virtual void task_ack(const std::string& server_id, const axion::v1::TaskAck& ack) = 0;
  virtual void task_update(const std::string& server_id, const std::string& agent_id,
                           const axion::v1::TaskUpdate& update) = 0;
  virtual void task_log(const std::string& server_id, const axion::v1::LogLine& line) = 0;
};

// What the hub knows of a server's agent right now.
struct LiveAgent {
  bool connected = false;
  std::string agent_id;
  std::string version;
  std::int64_t connected_at_ms = 0;
  std::int64_t last_heartbeat_ms = 0;  // 0 = none on this stream yet
  axion::v1::HostLoad load;
  std::uint64_t heartbeats = 0;  // on this stream
};

struct AgentHubStats {
  std::uint64_t streams = 0;  // open streams (admitted or waiting for Hello)
  std::uint64_t agents = 0;   // admitted
  std::uint64_t heartbeats = 0;
  std::uint64_t admitted = 0;
  std::uint64_t refused = 0;
  std::uint64_t timeouts = 0;
};

class AgentHub {
 public:
  // What an admitted stream needs for its Welcome.
  struct Admission {
    std::string agent_id;
    std::string cluster_id;
    std::string server_id;
    std::string credential;  // set only on registration: the long-lived credential, once
  };
  using Admitted = std::function<void(Result<Admission>)>;

  // REQUIRES: `bus` outlives the hub.
  AgentHub(commands::CommandBus& bus, ClusterOfServer cluster_of, AgentHubOptions options = {});
  ~AgentHub();
  AgentHub(const AgentHub&) = delete;
  AgentHub& operator=(const AgentHub&) = delete;

  // Starts the thread that closes streams whose heartbeats stopped.
  void start();
  // Ends every stream (UNAVAILABLE: the agents reconnect elsewhere or later), records their
  // agents OFFLINE (waiting at most `drain` for those commands), stops the thread. Idempotent.
  void stop(std::chrono::milliseconds drain = std::chrono::milliseconds(3000));

  const AgentHubOptions& options() const { return options_; }

  // A new stream. Returns its session id. The hub keeps `handle` until closed().
  std::string open(std::shared_ptr<StreamHandle> handle);
  // The stream's Hello: authenticates it; `done` gets the admission, or the refusal the stream
  // must end with (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT, UNAVAILABLE...).
  // Runs on a bus thread or this one; must not block.
  void hello(const std::string& session_id, const axion::v1::AgentHello& hello, Admitted done);
  // A heartbeat on an admitted stream (ignored otherwise).
  void heartbeat(const std::string& session_id, const axion::v1::AgentHeartbeat& heartbeat);
  // The stream ended: its agent goes OFFLINE unless a newer stream of the same server replaced it.
  void closed(const std::string& session_id);

  // Ends the current stream of `server_id` held here, if any, with PERMISSION_DENIED `reason`
  // (its agent was revoked: it must not stay connected); the agent goes OFFLINE.
  void disconnect(const std::string& server_id, const std::string& reason);

  // Tasks (agent_hub_tasks.cc). REQUIRES: set before start(); `listener` outlives the hub.
  void set_listener(AgentHubListener* listener) { listener_ = listener; }
  // A TaskAck or TaskUpdate on a stream: passed to the listener if the stream is admitted.
  void task_message(const std::string& session_id, const axion::v1::AgentMessage& message);
  // Whether this server holds the current stream of `server_id`'s agent.
  bool holds(const std::string& server_id) const;
  // Writes `message` on that stream; false when it is not held here.
  bool send(const std::string& server_id, const axion::v1::ServerMessage& message);

  std::optional<LiveAgent> live(const std::string& server_id) const;
  AgentHubStats stats() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Session {
    std::shared_ptr<StreamHandle> handle;
    Clock::time_point last_sign;  // Hello or heartbeat
    bool admitted = false;
    std::string server_id, cluster_id, agent_id, version;
    std::int64_t connected_at_ms = 0, last_heartbeat_ms = 0;
    std::uint64_t heartbeats = 0;
    axion::v1::HostLoad load;
    std::string close_reason;  // why the hub ended it, if it did
  };
  // One server's commands run one at a time: an op gets a `next` to call when it is done.
  using Op = std::function<void(std::function<void()> next)>;
  struct Lane {
    bool busy = false;
    std::deque<Op> pending;
  };

  void enqueue(const std::string& server_id, Op op);
  void lane_done(const std::string& server_id);
  // Submits `payload` to the cluster aggregate as "system" with `key`, retrying a retryable
  // failure (same key) up to 3 times; `done` gets the result or the refusal.
  void submit(const std::string& cluster_id, const std::string& key,
              const google::protobuf::Message& payload, commands::CommandBus::Done done,
              int attempt = 1);
  void report_offline(const std::string& session_id, const std::string& server_id,
                      const std::string& cluster_id, const std::string& agent_id,
                      const std::string& reason);
  void reap_loop();
  // Records OFFLINE the agents a crashed earlier run of this instance left ONLINE; false when
  // the views could not be read (it is tried again later).
  bool sweep_orphans();

  commands::CommandBus& bus_;
  ClusterOfServer cluster_of_;
  const AgentHubOptions options_;
  AgentHubListener* listener_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Session> sessions_;          // by session id
  std::map<std::string, std::string> current_;       // server id -> its current session id
  std::map<std::string, Lane> lanes_;                // by server id
  std::uint64_t in_flight_ = 0;                      // commands submitted, not answered
  AgentHubStats totals_;
  bool running_ = false;
  bool stopping_ = false;
  std::thread reaper_;
  const std::string instance_;  // sanitized instance id
  const std::string boot_;      // this run
  Clock::time_point started_at_{};
};

}  // namespace axion::infra::gateway
