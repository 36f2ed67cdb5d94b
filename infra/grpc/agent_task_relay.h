// AgentTaskRelay: carries work between axion.agent.tasks.v1 and the agents' streams.
//
// Every axion-server folds the whole topic into an AgentTaskLedger (commands/agent_task_ledger.h)
// — from offset 0 at start, before it admits agents, then by tailing every partition — and
// delivers to the agents whose streams its AgentHub holds: a new task at once, every open task
// (and a pending cancel after it) when an agent is admitted, and again every `resend_after`
// until the agent acknowledges it (TaskAck). The agent journals a task before acknowledging it
// and runs a task id once, so a delivery repeated by a resend, a reconnect or another server is
// harmless.
//
// The agents' TaskUpdates go the other way: a writer thread appends them as AgentTaskResult
// records (key task_id) in batches; only after a terminal result is durable does the agent get
// its TaskResultAck, so an agent resends a result until it is recorded, and the ledger keeps the
// first terminal result of a task (a resent one is recorded once). Callers queue tasks and
// follow them through AgentTaskService (infra/grpc/agent_task_service.h).
//
// Thread-safety: all public methods may be called from any thread. Locking: the relay never
// calls into the hub while holding its own lock (the hub calls the relay from inside a stream's
// lock), so messages are collected under the lock and sent after it is released.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "axion/v1/agent.pb.h"
#include "commands/agent_task_ledger.h"
#include "common/status.h"
#include "events/event_log.h"
#include "infra/grpc/agent_hub.h"

namespace axion::infra::gateway {

struct AgentTaskRelayOptions {
  // Names this server's producer ("axion-agent-relay-<instance>").
  std::string instance_id = "axion";
  // An unacknowledged delivery is repeated after this long.
  std::chrono::milliseconds resend_after{10000};
  // AXION_TASK_RESULT_TTL_HOURS: finished tasks are forgotten this long after their result.
  std::chrono::milliseconds result_ttl{std::chrono::hours(24)};
  // Pause of the tail reader when every partition is caught up.
  std::chrono::milliseconds idle_wait{50};
};

struct AgentTaskRelayStats {
  std::uint64_t tasks_known = 0;
  std::uint64_t tasks_open = 0;
  std::uint64_t deliveries = 0;   // Task messages written to streams
  std::uint64_t resends = 0;      // of those, repeats after resend_after
  std::uint64_t results_recorded = 0;
  std::uint64_t results_repeated = 0;  // terminal results that were already recorded
  std::uint64_t records_folded = 0;
  std::uint64_t log_lines = 0;  // LogLines received from agents
};

// Whether a server exists (OK), or NOT_FOUND / UNAVAILABLE.
using ServerExists = std::function<Status(const std::string& server_id)>;

class AgentTaskRelay final : public AgentHubListener {
 public:
  using Watcher = std::function<void(const axion::v1::AgentTaskStatus&)>;

  // REQUIRES: `log` and `hub` outlive the relay.
  AgentTaskRelay(events::EventLog& log, AgentHub& hub, ServerExists server_exists,
                 AgentTaskRelayOptions options = {});
  ~AgentTaskRelay() override;

  // Opens the producer, folds the topic up to its end, starts the tail reader and the result
  // writer. Call before the hub admits agents.
  Status start();
  // Writes what is pending (results), stops the threads. Idempotent.
  void stop();

  // AgentTaskService.
  Result<axion::v1::SubmitAgentTaskResponse> submit(const axion::v1::AgentTask& task,
                                                    const std::string& actor);
  Result<axion::v1::CancelAgentTaskResponse> cancel(const std::string& task_id,
                                                    const std::string& reason,
                                                    const std::string& actor);
  Result<axion::v1::AgentTaskStatus> get(const std::string& task_id) const;
  // Calls `watcher` with every later change of the task (from a relay thread; must not block).
  // Returns an id for unwatch().
  std::uint64_t watch(const std::string& task_id, Watcher watcher);
  void unwatch(std::uint64_t id);

  AgentTaskRelayStats stats() const;

  // AgentHubListener.
  void agent_admitted(const std::string& server_id, const std::string& agent_id) override;
  void task_ack(const std::string& server_id, const axion::v1::TaskAck& ack) override;
  void task_update(const std::string& server_id, const std::string& agent_id,
                   const axion::v1::TaskUpdate& update) override;
  // Keeps the line (the latest 200 per task, 16 MiB in all: the oldest tasks' lines go first)
  // and passes it to the task's watchers. A line for a task unknown here or queued for another
  // server is dropped.
  void task_log(const std::string& server_id, const axion::v1::LogLine& line) override;

 private:
  using Clock = std::chrono::steady_clock;
  using Outbox = std::vector<std::pair<std::string, axion::v1::ServerMessage>>;
  struct Delivery {
    Clock::time_point sent_at{};
    bool acked = false;
  };
  struct PendingResult {
    axion::v1::AgentTaskResult result;
  };
  struct Notice {
    std::vector<Watcher> watchers;
    axion::v1::AgentTaskStatus status;
  };

  // Folds one record (idempotent: a record folded twice changes nothing the second time).
  void fold(const events::StoredRecord& record, Outbox& out, std::vector<Notice>& notices);
  // REQUIRE mu_. Messages for the agents go to `out`, changes for watchers to `notices`.
  void fold_task_locked(const axion::v1::AgentTask& task, Outbox& out,
                        std::vector<Notice>& notices);
  void fold_cancel_locked(const axion::v1::AgentTaskCancel& cancel, Outbox& out,
                          std::vector<Notice>& notices);
  bool fold_result_locked(const axion::v1::AgentTaskResult& result, std::int64_t at_ms,
                          Outbox& out, std::vector<Notice>& notices);
  axion::v1::AgentTaskStatus status_of(const commands::AgentTaskEntry& entry) const;
  void notice_locked(const std::string& task_id, std::vector<Notice>& notices) const;
  // Sends `out` through the hub and tells the watchers; call without mu_ held.
  void flush(Outbox& out, std::vector<Notice>& notices);
  Status append(const google::protobuf::Message& payload, std::string_view aggregate_type,
                const std::string& aggregate_id, const std::string& actor);
  Status catch_up();
  void read_loop();
  void write_loop();
  void resend_due(Outbox& out);

  events::EventLog& log_;
  AgentHub& hub_;
  ServerExists server_exists_;
  const AgentTaskRelayOptions options_;
  std::unique_ptr<events::Producer> producer_;
  std::unique_ptr<events::Consumer> consumer_;  // polled by catch_up(), then the reader only
  std::int32_t partitions_ = 0;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  commands::AgentTaskLedger ledger_;
  std::map<std::string, Delivery> deliveries_;  // by task id, for tasks sent from here
  std::vector<std::int64_t> next_offset_;       // per partition, of the tail reader
  std::vector<PendingResult> pending_;          // results waiting for the writer
  std::map<std::uint64_t, std::pair<std::string, Watcher>> watchers_;
  struct TaskLog {
    std::deque<axion::v1::LogLine> lines;
    std::size_t bytes = 0;
  };
  std::map<std::string, TaskLog> logs_;  // by task id (agent_task_logs.cc)
  std::deque<std::string> log_order_;    // task ids by their first line, for eviction
  std::size_t log_bytes_ = 0;
  std::uint64_t next_watcher_ = 1;
  AgentTaskRelayStats totals_;
  bool running_ = false;
  bool stopping_ = false;
  std::mutex submit_mu_;  // one submit or cancel decides and appends at a time
  std::thread reader_, writer_;
};

}  // namespace axion::infra::gateway
