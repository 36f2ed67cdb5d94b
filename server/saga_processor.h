// SagaProcessor: runs the deployment saga (sagas/deployment_saga.h) as a consumer-group member
// of axion.deployment.events.v1 and axion.agent.tasks.v1 (group "axion-sagas", shared by every
// axion-server, so each project's partition has one saga at a time).
//
// - On being assigned a deployment-events partition it folds that partition from offset 0 up to
//   the group's committed offset (state only), then reacts to every live deployment in it: the
//   recovery after a crash or a rebalance. From then on each polled event is folded and the
//   deployments it touched react.
// - Agent task results (AgentTaskResult of a deployment task) become RecordDeploymentProgress
//   commands keyed by the task id, so the saga learns of them from its own project's stream.
// - The outputs of a poll — commands (to axion.commands.v1, actor "system"), agent tasks and
//   cancels (to axion.agent.tasks.v1) — are appended in ONE atomic append together with the
//   polled offsets, fenced by the consumer's generation. Every output is idempotent (command
//   idempotency keys, deterministic task ids), so a crash between the append and the next poll
//   repeats nothing that matters.
// - Timers: react() says when a deployment wants to be woken (a wait, a step deadline); the
//   processor keeps those in memory and reacts again then. They are derived from event times,
//   so a restarted processor recomputes them.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "common/histogram.h"
#include "common/status.h"
#include "events/event_log.h"
#include "sagas/deployment_saga.h"

namespace axion::server {

struct SagaProcessorOptions {
  std::string group = "axion-sagas";
  std::string transactional_id = "axion-sagas";
  std::function<std::int64_t()> clock;  // wall clock ms
  std::chrono::milliseconds step_deadline{std::chrono::minutes(10)};
  // The servers of a cluster (the servers view); empty id = the default cluster.
  std::function<Result<std::pair<std::string, std::vector<sagas::ServerInfo>>>(const std::string&)>
      servers;
  // The duration of each producer append, in seconds, when set (must outlive the processor).
  Histogram* append_seconds = nullptr;
};

struct SagaStats {
  std::uint64_t events_folded = 0;
  std::uint64_t reactions = 0;
  std::uint64_t commands_appended = 0;
  std::uint64_t tasks_appended = 0;
  std::uint64_t appends_failed = 0;
};

class SagaProcessor {
 public:
  SagaProcessor(events::EventLog& log, SagaProcessorOptions options);
  ~SagaProcessor();
  SagaProcessor(const SagaProcessor&) = delete;
  SagaProcessor& operator=(const SagaProcessor&) = delete;

  Status start();
  void stop();                             // idempotent
  Status health() const;                   // the last poll's outcome (transient errors included)
  bool alive() const { return running_; }  // false once stopped, or after a final error
  SagaStats stats() const;

 private:
  struct Partition {
    std::map<std::string, sagas::SagaProject> projects;  // by project id
  };
  struct Key {
    std::int32_t partition;
    std::string project;
    std::string deployment;
    auto operator<=>(const Key&) const = default;
  };

  void run();
  Status load_partition(std::int32_t partition);
  Status step();  // one poll + its reactions and append
  void react(const Key& key, std::vector<events::Record>& out);
  events::Record command_record(const sagas::SagaCommand& command) const;
  events::Record task_record(const google::protobuf::Message& payload,
                             const std::string& server_id) const;

  events::EventLog& log_;
  SagaProcessorOptions options_;
  std::unique_ptr<events::Producer> producer_;
  std::unique_ptr<events::Consumer> consumer_;
  std::thread thread_;
  std::atomic<bool> running_{false};

  // Owned by the polling thread.
  std::map<std::int32_t, Partition> partitions_;
  std::set<std::int32_t> to_load_;
  std::set<Key> dirty_;
  std::map<Key, std::int64_t> wakes_;
  std::chrono::steady_clock::time_point last_commit_ = std::chrono::steady_clock::now();
  // Outputs already appended in this run, by deployment (re-reactions to the same state repeat
  // them); forgotten when the deployment ends.
  std::map<std::string, std::set<std::string>> emitted_;

  mutable std::mutex mu_;
  Status health_;
  SagaStats stats_;
};

}  // namespace axion::server
