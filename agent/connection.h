// AgentConnection: the agent's end of AgentService.Connect. It dials out (the server needs no
// inbound port on the agent's host), says Hello with its stored credential — or, before it is
// registered, with the one-time registration token — and on Welcome stores the long-lived
// credential it is given (before anything else: the token is spent). If the server later
// refuses the credential (revoked), a new token in the token file registers it again, same id.
// It sends a Heartbeat every interval the Welcome named, answers tasks through the Runtimes,
// and when the stream breaks reconnects with exponential backoff and jitter. stop() (SIGTERM)
// ends it cleanly.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "agent/config.h"
#include "agent/host_metrics.h"
#include "agent/runtime.h"
#include "axion/v1/agent.grpc.pb.h"
#include "common/status.h"

namespace axion::agent {

inline constexpr const char* kAgentVersion = "0.1.0";

class AgentConnection {
 public:
  // REQUIRES: `sampler` and `runtimes` outlive the connection.
  AgentConnection(AgentConfig config, HostSampler& sampler, Runtimes& runtimes);

  // Connects and reconnects until stop(). Returns OK after stop(), or a lasting error the agent
  // cannot recover from by itself (it cannot store its credential).
  Status run();
  // Thread-safe; may be called from a signal-handling thread.
  void stop();

 private:
  // One stream, from dial to its end. OK = the stream was admitted (resets the backoff).
  Status session();
  Result<std::string> hello_token(axion::v1::AgentHello& hello);
  std::shared_ptr<grpc::Channel> channel();
  // Waits `delay` or until stop(); false if stopped.
  bool wait(std::chrono::milliseconds delay);

  const AgentConfig config_;
  HostSampler& sampler_;
  Runtimes& runtimes_;
  std::mt19937_64 rng_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  grpc::ClientContext* context_ = nullptr;  // the live stream's, to cancel it on stop()
  Status fatal_;
  // Touched by run()'s thread only: the Hello carries the stored credential (not a token), and
  // the server refused that credential (then a token in --token-file registers again).
  bool using_credential_ = false;
  bool credential_refused_ = false;
};

}  // namespace axion::agent
