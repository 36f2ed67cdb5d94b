// TaskJournal: the agent's durable memory of tasks, one file per task under <state dir>/tasks
// (AgentJournalEntry, written atomically). It is what makes delivery exactly-once on the agent:
// - a task is journaled BEFORE it is acknowledged, so an acknowledged task is never lost by a
//   crash, and a task id already in the journal is not run again (a redelivery is answered
//   TaskAck{duplicate} and, if it finished, with its result again);
// - a terminal update is journaled BEFORE it is sent and resent after every reconnect until the
//   control plane acknowledges it (TaskResultAck);
// - at start, tasks without a terminal update are handed to the runtimes again (which adopt what
//   still runs instead of starting it twice).
// Acknowledged entries are kept for `keep` (so a late redelivery is still recognised), then
// pruned. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "axion/v1/agent.pb.h"
#include "common/status.h"

namespace axion::agent {

class TaskJournal {
 public:
  explicit TaskJournal(std::string dir, std::chrono::hours keep = std::chrono::hours(24));

  // Creates the directory and loads the entries; damaged files are set aside (*.damaged).
  Status open();

  // Journals a new task: true when it is new, false when its id is known (nothing written).
  // INVALID_ARGUMENT for an id that cannot name a file.
  Result<bool> record_task(const axion::v1::Task& task);
  // Journals a task's terminal update; the first one wins (false if it had one already).
  Result<bool> record_terminal(const axion::v1::TaskUpdate& update);
  // The control plane recorded the result: it need not be resent.
  Status record_acked(const std::string& task_id);

  bool known(const std::string& task_id) const;
  std::optional<axion::v1::TaskUpdate> terminal_of(const std::string& task_id) const;
  // Tasks without a terminal update (to resume at start).
  std::vector<axion::v1::Task> unfinished() const;
  // Terminal updates not yet acknowledged (to resend after a reconnect).
  std::vector<axion::v1::TaskUpdate> unacked_results() const;
  // Ids of the tasks still open on this agent (unfinished or unacknowledged), for Hello.
  std::vector<std::string> open_ids() const;
  // Removes acknowledged entries finished more than `keep` ago; returns how many.
  std::size_t prune();

 private:
  std::string path_of(const std::string& task_id) const;
  Status save(const axion::v1::AgentJournalEntry& entry) const;

  const std::string dir_;
  const std::chrono::hours keep_;
  mutable std::mutex mu_;
  std::map<std::string, axion::v1::AgentJournalEntry> entries_;
};

// Whether `task_id` can name a journal file: 1..128 of [A-Za-z0-9._:-], not "." or "..".
bool is_task_id(const std::string& task_id);

}  // namespace axion::agent
