#include "commands/agent_task_ledger.h"

#include <google/protobuf/util/message_differencer.h>

#include <cctype>

#include "commands/validators.h"

namespace axion::commands {

namespace v1 = axion::v1;

namespace {

constexpr std::size_t kMaxTaskBytes = 512 * 1024;
constexpr int kMaxArgs = 256;
constexpr std::size_t kMaxArgBytes = 4096;
constexpr int kMaxBackends = 64;
constexpr std::uint32_t kMaxWeight = 256;

bool is_env_name(const std::string& name) {
  if (name.empty() || name.size() > 255) return false;
  if (!(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
  }
  return true;
}

// At most kMaxArgs arguments, each at most kMaxArgBytes and without a NUL byte.
Status check_argv(const std::string& field, const v1::ProcessSpec& p) {
  if (p.argv_size() > kMaxArgs) {
    return invalid_field(field, "at most " + std::to_string(kMaxArgs) + " arguments");
  }
  for (const auto& arg : p.argv()) {
    if (arg.size() > kMaxArgBytes || arg.find('\0') != std::string::npos) {
      return invalid_field(field, "an argument is longer than " + std::to_string(kMaxArgBytes) +
                                      " bytes or holds a NUL byte");
    }
  }
  return ok_status();
}

Status check_workdir(const std::string& field, const v1::ProcessSpec& p) {
  if (p.workdir().find('\0') != std::string::npos)
    return invalid_field(field, "it holds a NUL byte");
  return ok_status();
}

Status check_process(const v1::TaskSpec& spec, v1::TaskKind kind) {
  const v1::ProcessSpec& p = spec.process();
  const std::string field = "task.spec.process.";
  if (!p.service().empty()) {
    AXION_RETURN_IF_ERROR(validate_dns_label(field + "service", "service name", p.service()));
  }
  AXION_RETURN_IF_ERROR(validate_dns_label(field + "instance_id", "instance id", p.instance_id()));
  if (kind != v1::TASK_KIND_START_SERVICE) return ok_status();
  if (p.argv().empty() && p.image().empty()) {
    return invalid_field(field + "argv",
                         "a START_SERVICE task needs the command to run (argv) or an image");
  }
  AXION_RETURN_IF_ERROR(check_argv(field + "argv", p));
  if (!p.argv().empty() && p.argv(0).empty()) {
    return invalid_field(field + "argv", "the program (argv[0]) is empty");
  }
  for (const auto& [name, value] : p.env()) {
    if (!is_env_name(name)) {
      return invalid_field(field + "env", "variable " + in_quotes(name) +
                                              " is not a valid name (letters, digits and '_', "
                                              "not starting with a digit)");
    }
    if (value.find('\0') != std::string::npos) {
      return invalid_field(field + "env", "the value of " + name + " holds a NUL byte");
    }
  }
  return check_workdir(field + "workdir", p);
}

Status check_proxy(const v1::ProxySpec& proxy) {
  const std::string field = "task.spec.proxy.";
  AXION_RETURN_IF_ERROR(validate_dns_label(field + "service", "service name", proxy.service()));
  if (proxy.listen_port() == 0 || proxy.listen_port() > 65535) {
    return invalid_field(field + "listen_port", "it must be 1..65535");
  }
  if (proxy.backends_size() > kMaxBackends) {
    return invalid_field(field + "backends",
                         "at most " + std::to_string(kMaxBackends) + " backends");
  }
  for (const auto& b : proxy.backends()) {
    AXION_RETURN_IF_ERROR(
        validate_dns_label(field + "backends.instance_id", "instance id", b.instance_id()));
    if (b.address().empty() || b.address().size() > 255) {
      return invalid_field(field + "backends.address", "it must be host:port");
    }
    if (b.weight() > kMaxWeight) {
      return invalid_field(field + "backends.weight", "it must be 0..256");
    }
  }
  return ok_status();
}

// PREPARE_INFRA: 1..kMaxBackends services, each named by a DNS label, with bounded arguments.
Status check_prepare(const v1::PrepareSpec& prepare) {
  const std::string field = "task.spec.prepare.services";
  if (prepare.services().empty() || prepare.services_size() > kMaxBackends) {
    return invalid_field(field, "name 1.." + std::to_string(kMaxBackends) + " services to ready");
  }
  for (const auto& s : prepare.services()) {
    AXION_RETURN_IF_ERROR(validate_dns_label(field + ".service", "service name", s.service()));
    AXION_RETURN_IF_ERROR(check_argv(field + ".argv", s));
    AXION_RETURN_IF_ERROR(check_workdir(field + ".workdir", s));
  }
  return ok_status();
}

// REPORT_TRAFFIC names a service and the instances whose counts it wants; nothing else.
Status check_report(const v1::ProxySpec& proxy) {
  const std::string field = "task.spec.proxy.";
  AXION_RETURN_IF_ERROR(validate_dns_label(field + "service", "service name", proxy.service()));
  if (proxy.backends().empty() || proxy.backends_size() > kMaxBackends) {
    return invalid_field(field + "backends",
                         "name 1.." + std::to_string(kMaxBackends) + " instances to report on");
  }
  for (const auto& b : proxy.backends()) {
    AXION_RETURN_IF_ERROR(
        validate_dns_label(field + "backends.instance_id", "instance id", b.instance_id()));
  }
  return ok_status();
}

}  // namespace

bool is_terminal(v1::TaskState state) {
  return state == v1::TASK_STATE_SUCCEEDED || state == v1::TASK_STATE_FAILED ||
         state == v1::TASK_STATE_CANCELLED;
}

Status check_agent_task(const v1::AgentTask& task) {
  AXION_RETURN_IF_ERROR(validate_id("task.server_id", task.server_id()));
  AXION_RETURN_IF_ERROR(validate_id("task.task.task_id", task.task().task_id()));
  if (!task.task().deployment_id().empty()) {
    AXION_RETURN_IF_ERROR(validate_id("task.task.deployment_id", task.task().deployment_id()));
  }
  if (!task.project_id().empty()) {
    AXION_RETURN_IF_ERROR(validate_id("task.project_id", task.project_id()));
  }
  if (task.ByteSizeLong() > kMaxTaskBytes) {
    return invalid_field("task",
                         "a task is at most " + std::to_string(kMaxTaskBytes / 1024) + " KiB");
  }
  const v1::TaskSpec& spec = task.task().spec();
  switch (task.task().kind()) {
    case v1::TASK_KIND_START_SERVICE:
    case v1::TASK_KIND_HEALTH_CHECK:
      return check_process(spec, task.task().kind());
    case v1::TASK_KIND_STOP_SERVICE:
    case v1::TASK_KIND_REMOVE_SERVICE:
      if (!spec.compose_project().empty()) {
        return validate_dns_label("task.spec.compose_project", "compose project",
                                  spec.compose_project());
      }
      return check_process(spec, task.task().kind());
    case v1::TASK_KIND_APPLY_COMPOSE:
      AXION_RETURN_IF_ERROR(validate_dns_label("task.spec.compose_project", "compose project",
                                               spec.compose_project()));
      if (spec.compose_yaml().empty()) {
        return invalid_field("task.spec.compose_yaml", "an APPLY_COMPOSE task needs the file");
      }
      return ok_status();
    case v1::TASK_KIND_SWITCH_TRAFFIC:
      return check_proxy(spec.proxy());
    case v1::TASK_KIND_REPORT_TRAFFIC:
      return check_report(spec.proxy());
    case v1::TASK_KIND_PREPARE_INFRA:
      return check_prepare(spec.prepare());
    case v1::TASK_KIND_PULL_IMAGE:
    case v1::TASK_KIND_BUILD_IMAGE:
      return ok_status();
    default:
      return invalid_field("task.task.kind", "it must name a kind of work (TASK_KIND_...)");
  }
}

AgentTaskLedger::Change AgentTaskLedger::apply_task(const v1::AgentTask& task) {
  const std::string& id = task.task().task_id();
  auto [it, inserted] = entries_.try_emplace(id);
  AgentTaskEntry& e = it->second;
  if (!inserted && e.has_task) return Change::kNone;  // the first record under an id wins
  e.task = task;
  e.has_task = true;
  if (!e.terminal()) open_by_server_[task.server_id()].insert(id);
  return Change::kNewTask;
}

AgentTaskLedger::Change AgentTaskLedger::apply_cancel(const v1::AgentTaskCancel& cancel) {
  auto it = entries_.find(cancel.task_id());
  if (it == entries_.end() || !it->second.has_task) return Change::kNone;
  AgentTaskEntry& e = it->second;
  if (e.cancel_requested || e.terminal()) return Change::kNone;
  e.cancel_requested = true;
  e.cancel_reason = cancel.reason();
  return Change::kNewCancel;
}

AgentTaskLedger::Change AgentTaskLedger::apply_result(const v1::AgentTaskResult& result,
                                                      std::int64_t now_ms) {
  const v1::TaskUpdate& u = result.update();
  AgentTaskEntry& e = entries_[u.task_id()];
  if (e.terminal()) return Change::kNone;  // the first terminal result wins
  e.last = u;
  e.agent_id = result.agent_id();
  if (!is_terminal(u.state())) return Change::kNewUpdate;
  e.terminal_at_ms = now_ms;
  if (e.has_task) {
    auto s = open_by_server_.find(e.task.server_id());
    if (s != open_by_server_.end()) {
      s->second.erase(u.task_id());
      if (s->second.empty()) open_by_server_.erase(s);
    }
  }
  return Change::kNewTerminal;
}

Status AgentTaskLedger::check_submit(const v1::AgentTask& task, bool* duplicate) const {
  *duplicate = false;
  const auto it = entries_.find(task.task().task_id());
  if (it == entries_.end() || !it->second.has_task) return ok_status();
  if (!google::protobuf::util::MessageDifferencer::Equals(it->second.task, task)) {
    return already_exists("task '" + task.task().task_id() +
                          "' was queued with different content; a new task needs a new id");
  }
  *duplicate = true;
  return ok_status();
}

Status AgentTaskLedger::check_cancel(const std::string& task_id, bool* duplicate) const {
  *duplicate = false;
  const auto it = entries_.find(task_id);
  if (it == entries_.end() || !it->second.has_task) {
    return not_found("task '" + task_id + "' is not known (never queued, or its result expired)");
  }
  if (it->second.terminal()) {
    return failed_precondition("task '" + task_id + "' already finished (" +
                               v1::TaskState_Name(it->second.last.state()) + ")");
  }
  *duplicate = it->second.cancel_requested;
  return ok_status();
}

const AgentTaskEntry* AgentTaskLedger::find(const std::string& task_id) const {
  const auto it = entries_.find(task_id);
  return it == entries_.end() || !it->second.has_task ? nullptr : &it->second;
}

std::vector<const AgentTaskEntry*> AgentTaskLedger::open_tasks(const std::string& server_id) const {
  std::vector<const AgentTaskEntry*> out;
  const auto s = open_by_server_.find(server_id);
  if (s == open_by_server_.end()) return out;
  for (const auto& id : s->second) out.push_back(&entries_.at(id));
  return out;
}

std::size_t AgentTaskLedger::expire(std::int64_t now_ms, std::int64_t ttl_ms) {
  std::size_t dropped = 0;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.terminal() && now_ms - it->second.terminal_at_ms > ttl_ms) {
      it = entries_.erase(it);
      ++dropped;
    } else {
      ++it;
    }
  }
  return dropped;
}

std::size_t AgentTaskLedger::open_count() const {
  std::size_t n = 0;
  for (const auto& [server, ids] : open_by_server_) n += ids.size();
  return n;
}

}  // namespace axion::commands
