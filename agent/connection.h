// AgentConnection: the agent's end of AgentService.Connect. It dials out (the server needs no
// inbound port on the agent's host), says Hello with its stored credential — or, before it is
// registered, with the one-time registration token — and on Welcome stores the long-lived
// credential it is given (before anything else: the token is spent). If the server later
// refuses the credential (revoked), a new token in the token file registers it again, same id.
// It sends a Heartbeat every interval the Welcome named (with the services the runtimes run),
// and when the stream breaks reconnects with exponential backoff and jitter. stop() (SIGTERM)
// ends it cleanly.
//
// Tasks (exactly once on the agent, with the TaskJournal): a Task is journaled, then
// acknowledged (TaskAck), then handed to its runtime — a known task id is acknowledged as a
// duplicate and not run again (its result, if it has one, is sent again). The connection is the
// runtimes' TaskSink: a terminal update is journaled before it is sent, and every terminal
// update the server has not acknowledged (TaskResultAck) is sent again after each Welcome. At
// start, journaled tasks without a terminal update are handed to their runtimes again.
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
#include "agent/task_journal.h"
#include "axion/v1/agent.grpc.pb.h"
#include "common/status.h"

namespace axion::agent {

inline constexpr const char* kAgentVersion = "0.1.0";

class AgentConnection final : public TaskSink {
 public:
  using Stream = grpc::ClientReaderWriter<axion::v1::AgentMessage, axion::v1::ServerMessage>;

  // REQUIRES: `sampler`, `runtimes` and `journal` (opened) outlive the connection.
  AgentConnection(AgentConfig config, HostSampler& sampler, Runtimes& runtimes,
                  TaskJournal& journal);

  // TaskSink: what the runtimes report (thread-safe).
  void update(const axion::v1::TaskUpdate& update) override;
  // Sent if a stream is up, else dropped (the output files keep every line).
  void log(const axion::v1::LogLine& line) override;

  // Connects and reconnects until stop(). Returns OK after stop(), or a lasting error the agent
  // cannot recover from by itself (it cannot store its credential).
  Status run();
  // Thread-safe; may be called from a signal-handling thread.
  void stop();

 private:
  // One stream, from dial to its end. OK = the stream was admitted (resets the backoff).
  Status session();
  Result<std::string> hello_token(axion::v1::AgentHello& hello);
  // Hands the journal's unfinished tasks to their runtimes (once, at start).
  void resume();
  void on_task(const axion::v1::Task& task);
  void on_cancel(const axion::v1::TaskCancel& cancel);
  // Writes on the live stream; false when there is none (the message is dropped).
  bool write(const axion::v1::AgentMessage& message);
  std::shared_ptr<grpc::Channel> channel();
  // Waits `delay` or until stop(); false if stopped.
  bool wait(std::chrono::milliseconds delay);

  const AgentConfig config_;
  HostSampler& sampler_;
  Runtimes& runtimes_;
  TaskJournal& journal_;
  std::mt19937_64 rng_;
  // The admitted stream, for writes from any thread (serialized by stream_mu_).
  std::mutex stream_mu_;
  Stream* live_ = nullptr;

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
