#include "agent/task_journal.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "agent/state_store.h"
#include "common/status.h"
#include "common/wall_clock.h"

namespace axion::agent {

namespace v1 = axion::v1;
namespace fs = std::filesystem;

namespace {

constexpr const char* kSuffix = ".task";

bool terminal(v1::TaskState s) {
  return s == v1::TASK_STATE_SUCCEEDED || s == v1::TASK_STATE_FAILED ||
         s == v1::TASK_STATE_CANCELLED;
}

}  // namespace

bool is_task_id(const std::string& id) {
  if (id.empty() || id.size() > 128 || id == "." || id == "..") return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

TaskJournal::TaskJournal(std::string dir, std::chrono::hours keep)
    : dir_(std::move(dir)), keep_(keep) {}

std::string TaskJournal::path_of(const std::string& task_id) const {
  return (fs::path(dir_) / (task_id + kSuffix)).string();
}

Status TaskJournal::open() {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) return unavailable("cannot create the task journal " + dir_ + ": " + ec.message());
  std::lock_guard lock(mu_);
  for (const auto& file : fs::directory_iterator(dir_, ec)) {
    if (file.path().extension() != kSuffix) continue;
    std::ifstream in(file.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    v1::AgentJournalEntry entry;
    if (!in || !entry.ParseFromString(bytes.str()) || !is_task_id(entry.task().task_id())) {
      spdlog::error("task journal: {} is damaged; set aside", file.path().string());
      fs::rename(file.path(), file.path().string() + ".damaged", ec);
      continue;
    }
    entries_[entry.task().task_id()] = std::move(entry);
  }
  if (ec) return unavailable("cannot read the task journal " + dir_ + ": " + ec.message());
  return ok_status();
}

Status TaskJournal::save(const v1::AgentJournalEntry& entry) const {
  return write_file_atomically(path_of(entry.task().task_id()), entry.SerializeAsString());
}

Result<bool> TaskJournal::record_task(const v1::Task& task) {
  if (!is_task_id(task.task_id())) {
    return invalid_argument("task id '" + task.task_id().substr(0, 64) +
                            "' is not 1-128 of letters, digits, '.', '_', ':' and '-'");
  }
  std::lock_guard lock(mu_);
  if (entries_.count(task.task_id())) return false;
  v1::AgentJournalEntry entry;
  *entry.mutable_task() = task;
  AXION_RETURN_IF_ERROR(save(entry));
  entries_[task.task_id()] = std::move(entry);
  return true;
}

Result<bool> TaskJournal::record_terminal(const v1::TaskUpdate& update) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(update.task_id());
  if (it == entries_.end()) {
    return not_found("task " + update.task_id() + " is not in the journal");
  }
  if (it->second.has_terminal()) return false;
  v1::AgentJournalEntry entry = it->second;
  *entry.mutable_terminal() = update;
  entry.set_finished_at_ms(wall_clock_ms());
  AXION_RETURN_IF_ERROR(save(entry));
  it->second = std::move(entry);
  return true;
}

Status TaskJournal::record_acked(const std::string& task_id) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(task_id);
  if (it == entries_.end() || it->second.result_acked()) return ok_status();
  v1::AgentJournalEntry entry = it->second;
  entry.set_result_acked(true);
  AXION_RETURN_IF_ERROR(save(entry));
  it->second = std::move(entry);
  return ok_status();
}

bool TaskJournal::known(const std::string& task_id) const {
  std::lock_guard lock(mu_);
  return entries_.count(task_id) > 0;
}

std::optional<v1::TaskUpdate> TaskJournal::terminal_of(const std::string& task_id) const {
  std::lock_guard lock(mu_);
  const auto it = entries_.find(task_id);
  if (it == entries_.end() || !it->second.has_terminal()) return std::nullopt;
  return it->second.terminal();
}

std::vector<v1::Task> TaskJournal::unfinished() const {
  std::lock_guard lock(mu_);
  std::vector<v1::Task> out;
  for (const auto& [id, e] : entries_) {
    if (!e.has_terminal()) out.push_back(e.task());
  }
  return out;
}

std::vector<v1::TaskUpdate> TaskJournal::unacked_results() const {
  std::lock_guard lock(mu_);
  std::vector<v1::TaskUpdate> out;
  for (const auto& [id, e] : entries_) {
    if (e.has_terminal() && !e.result_acked()) out.push_back(e.terminal());
  }
  return out;
}

std::vector<std::string> TaskJournal::open_ids() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [id, e] : entries_) {
    if (!e.has_terminal() || !e.result_acked()) out.push_back(id);
  }
  return out;
}

std::size_t TaskJournal::prune() {
  std::lock_guard lock(mu_);
  const std::int64_t cutoff =
      wall_clock_ms() - std::chrono::duration_cast<std::chrono::milliseconds>(keep_).count();
  std::size_t removed = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const auto& e = it->second;
    if (e.result_acked() && terminal(e.terminal().state()) && e.finished_at_ms() < cutoff) {
      std::error_code ec;
      fs::remove(path_of(it->first), ec);
      it = entries_.erase(it);
      ++removed;
    } else {
      ++it;
    }
  }
  return removed;
}

}  // namespace axion::agent
