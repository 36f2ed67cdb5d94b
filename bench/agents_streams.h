// The simulated agents of agents_bench: one AgentService.Connect bidi stream per agent on gRPC's
// callback client API (so 50,000 streams need gRPC's few threads plus one ticker), spread over
// several channels that each get their own HTTP/2 connection. Also the raw baseline: a bare
// callback-API AgentService that only answers Hello with a Welcome and reads heartbeats.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "axion/v1/agent.grpc.pb.h"

namespace axion::bench {

namespace v1 = axion::v1;
using SteadyClock = std::chrono::steady_clock;

// Who one simulated agent says it is in its Hello.
struct AgentIdentity {
  std::string server_id, cluster_id, token;
};

class AgentFleet;

// One agent's stream. A hold keeps OnDone from running (and the reactor alive) until the read
// side has failed, so the ticker may StartWrite whenever `live_` is true under `mu_`.
class AgentStream final : public grpc::ClientBidiReactor<v1::AgentMessage, v1::ServerMessage> {
 public:
  AgentStream(AgentFleet& fleet, std::size_t index, v1::AgentService::Stub& stub,
              const AgentIdentity& who);
  // Sends a heartbeat unless the previous write is still in flight; false if not sent.
  bool beat();
  void cancel() { ctx_.TryCancel(); }
  bool done() const { return done_.load(); }

  void OnWriteDone(bool) override { writing_.store(false); }
  void OnReadDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  AgentFleet& fleet_;
  std::size_t index_;
  grpc::ClientContext ctx_;
  v1::AgentMessage out_;
  v1::ServerMessage in_;
  std::mutex mu_;
  bool live_ = true;
  bool welcomed_ = false;
  std::atomic<bool> writing_{true};  // the Hello is the first write
  std::atomic<bool> done_{false};
};

// All simulated agents. The ticker thread opens streams at `connect_per_second`, re-opens the
// ones refused before their Welcome (at most 5 tries, 1 s apart) and sends each admitted agent a
// heartbeat every `heartbeat` at a random phase, so beats spread evenly over the interval.
class AgentFleet {
 public:
  AgentFleet(const std::string& address, int channels, std::chrono::milliseconds heartbeat,
             int connect_per_second);
  ~AgentFleet() { stop(); }
  void connect(std::vector<AgentIdentity> agents);
  // Cancels every stream and waits (at most 60 s) for their OnDone.
  void stop();

  std::uint64_t welcomed() const { return welcomed_.load(); }
  std::uint64_t refused() const { return refused_.load(); }  // gave up after the retries
  std::uint64_t dropped() const { return dropped_.load(); }  // closed after the Welcome
  std::uint64_t beats() const { return beats_.load(); }
  std::uint64_t skipped_beats() const { return skipped_.load(); }
  std::string first_error() const {
    std::lock_guard lock(mu_);
    return first_error_;
  }

 private:
  friend class AgentStream;
  struct Agent {
    AgentIdentity who;
    std::unique_ptr<AgentStream> stream;
    std::vector<std::unique_ptr<AgentStream>>
        ended;  // freed with the fleet: OnDone may still be returning
    int tries = 0;
    std::atomic<std::int64_t> next_beat_ns{0};  // 0: not admitted
    std::atomic<std::int64_t> retry_at_ns{0};   // >0: re-open then
  };
  static std::int64_t now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               SteadyClock::now().time_since_epoch())
        .count();
  }
  void on_welcome(std::size_t index);
  void on_done(std::size_t index, const grpc::Status& status, bool welcomed);
  void open(std::size_t index);
  void tick_loop();

  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::AgentService::Stub>> stubs_;
  std::chrono::milliseconds heartbeat_;
  int connect_per_second_;
  std::vector<std::unique_ptr<Agent>> agents_;
  std::mt19937_64 rng_{42};
  std::atomic<bool> stopping_{false};
  std::thread ticker_;
  std::atomic<std::uint64_t> welcomed_{0}, refused_{0}, dropped_{0}, beats_{0}, skipped_{0};
  mutable std::mutex mu_;
  std::string first_error_;
};

// The raw baseline: AgentService.Connect answering Hello with a Welcome and reading the rest.
class BareAgentService final : public v1::AgentService::CallbackService {
 public:
  grpc::ServerBidiReactor<v1::AgentMessage, v1::ServerMessage>* Connect(
      grpc::CallbackServerContext* context) override;
};

// Serves BareAgentService on 127.0.0.1:`port` until killed (agents_bench --serve-bare PORT).
int serve_bare(int port);

}  // namespace axion::bench
