// AgentTaskLedger: what the control plane knows of agent tasks, folded from the records of
// axion.agent.tasks.v1 — AgentTask (key server_id), AgentTaskCancel (key server_id) and
// AgentTaskResult (key task_id). Pure: no I/O and no clock of its own (times are passed in), so
// every axion-server that folds the topic from its start reaches the same ledger.
//
// Rules (why they make delivery exactly-once from the caller's point of view):
// - A task id names one task forever. The first AgentTask record under an id wins; a later one
//   with the same content is a duplicate (a retried submit) and one with other content is
//   ignored — check_submit() refuses it before it is appended, and the fold ignores what raced
//   past that check on another server.
// - The first terminal result of a task wins; later results (an agent resending a result whose
//   acknowledgement was lost, or a stale progress report) change nothing. Results that arrive
//   before their task (possible across partitions) are kept and attached when it arrives.
// - Terminal tasks are forgotten `ttl` after their result (seed 004: results by request id
//   with a TTL); GetAgentTask then answers NOT_FOUND "expired".
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "axion/v1/agent.pb.h"
#include "common/status.h"

namespace axion::commands {

// INVALID_ARGUMENT naming the field when a task cannot be run by any agent as given: ids, kind,
// the parts of the spec its kind needs, names that reach paths and argv (DNS labels), sizes.
Status check_agent_task(const axion::v1::AgentTask& task);

bool is_terminal(axion::v1::TaskState state);

struct AgentTaskEntry {
  axion::v1::AgentTask task;
  bool has_task = false;  // false while only an early result is known
  axion::v1::TaskUpdate last;  // state UNSPECIFIED until the agent reports
  std::string agent_id;
  bool cancel_requested = false;
  std::string cancel_reason;
  std::int64_t terminal_at_ms = 0;  // when the terminal result was folded (for the TTL)
  bool terminal() const { return is_terminal(last.state()); }
};

class AgentTaskLedger {
 public:
  // What folding a record changed, for the relay to act on.
  enum class Change { kNone, kNewTask, kNewCancel, kNewUpdate, kNewTerminal };

  Change apply_task(const axion::v1::AgentTask& task);
  Change apply_cancel(const axion::v1::AgentTaskCancel& cancel);
  Change apply_result(const axion::v1::AgentTaskResult& result, std::int64_t now_ms);

  // OK when `task` may be appended; ALREADY_EXISTS when its id names another task. Sets
  // *duplicate when the same task is known (then nothing is to be appended).
  Status check_submit(const axion::v1::AgentTask& task, bool* duplicate) const;
  // OK when a cancel may be appended; NOT_FOUND (unknown), FAILED_PRECONDITION (finished).
  // Sets *duplicate when a cancel was requested before.
  Status check_cancel(const std::string& task_id, bool* duplicate) const;

  const AgentTaskEntry* find(const std::string& task_id) const;
  // Tasks of `server_id` that have no terminal result, in task id order.
  std::vector<const AgentTaskEntry*> open_tasks(const std::string& server_id) const;
  // Drops terminal tasks whose result is older than `ttl_ms`; returns how many.
  std::size_t expire(std::int64_t now_ms, std::int64_t ttl_ms);
  std::size_t size() const { return entries_.size(); }
  std::size_t open_count() const;

 private:
  std::map<std::string, AgentTaskEntry> entries_;                // by task id
  std::map<std::string, std::set<std::string>> open_by_server_;  // server id -> open task ids
};

}  // namespace axion::commands
