#include "agent/compose_tasks.h"

#include <google/protobuf/util/time_util.h>

#include <system_error>

#include "agent/runtime.h"
#include "agent/state_store.h"

namespace axion::agent {
namespace {

using axion::v1::Task;
using axion::v1::TaskState;
using axion::v1::TaskUpdate;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr std::size_t kMaxOutput = 64 * 1024;
constexpr milliseconds kLogsTimeout = std::chrono::seconds(30);

// Proto3 strings must be UTF-8 (a receiver rejects the whole message otherwise), and container
// output or a cut tail need not be: invalid bytes become '?'.
std::string valid_utf8(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  std::size_t i = 0;
  while (i < in.size()) {
    const auto b = static_cast<unsigned char>(in[i]);
    const std::size_t len = b < 0x80           ? 1
                            : (b >> 5) == 0x6  ? 2
                            : (b >> 4) == 0xE  ? 3
                            : (b >> 3) == 0x1E ? 4
                                               : 0;
    bool ok = len > 0 && i + len <= in.size();
    for (std::size_t k = 1; ok && k < len; ++k) {
      ok = (static_cast<unsigned char>(in[i + k]) & 0xC0) == 0x80;
    }
    if (ok) {
      out.append(in.substr(i, len));
      i += len;
    } else {
      out += '?';
      ++i;
    }
  }
  return out;
}

// Time left for a task: its deadline if it has one, else the default timeout from its start.
class TaskClock {
 public:
  TaskClock(const Task& task, milliseconds default_timeout) {
    const auto& d = task.deadline();
    has_deadline_ = task.has_deadline() && (d.seconds() != 0 || d.nanos() != 0);
    if (has_deadline_) {
      const auto wall = std::chrono::system_clock::time_point(
          std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::nanoseconds(
              google::protobuf::util::TimeUtil::TimestampToNanoseconds(d))));
      end_ = Clock::now() +
             std::chrono::duration_cast<Clock::duration>(wall - std::chrono::system_clock::now());
    } else {
      end_ = Clock::now() + default_timeout;
    }
  }
  bool has_deadline() const { return has_deadline_; }
  bool passed() const { return Clock::now() >= end_; }
  // A command's timeout: `limit`, cut to the time left (but at least a second to report in).
  milliseconds budget(milliseconds limit) const {
    const auto left = std::chrono::duration_cast<milliseconds>(end_ - Clock::now());
    return std::max(milliseconds(1000), std::min(limit, left));
  }

 private:
  bool has_deadline_ = false;
  Clock::time_point end_;
};

class ComposeTask {
 public:
  ComposeTask(const Task& task, const ComposeTaskContext& ctx)
      : task_(task),
        ctx_(ctx),
        clock_(task, ctx.default_timeout),
        project_(task.spec().compose_project()),
        dir_(compose_project_dir(ctx.state_dir, project_)),
        file_(dir_ / "docker-compose.yml") {}

  TaskUpdate run() {
    if (!is_dns_label(project_)) {
      return update(axion::v1::TASK_STATE_FAILED,
                    "compose project name '" + project_ +
                        "' is invalid: it must be 1-63 lowercase letters, digits and '-', "
                        "starting and ending with a letter or digit");
    }
    if (ctx_.compose.empty()) {
      return update(axion::v1::TASK_STATE_FAILED,
                    "no compose command on this agent: neither 'docker compose' nor "
                    "'docker-compose' works");
    }
    if (clock_.has_deadline() && clock_.passed()) {
      return update(axion::v1::TASK_STATE_CANCELLED, "deadline passed before the task started");
    }
    switch (task_.kind()) {
      case axion::v1::TASK_KIND_APPLY_COMPOSE:
        return apply();
      case axion::v1::TASK_KIND_STOP_SERVICE:
        return down(false);
      case axion::v1::TASK_KIND_REMOVE_SERVICE:
        return down(true);
      default:
        return update(axion::v1::TASK_STATE_FAILED,
                      "the compose runtime does not run tasks of kind " +
                          axion::v1::TaskKind_Name(task_.kind()));
    }
  }

 private:
  TaskUpdate apply() {
    if (task_.spec().compose_yaml().empty()) {
      return update(axion::v1::TASK_STATE_FAILED,
                    "APPLY_COMPOSE of project '" + project_ + "' has an empty compose_yaml");
    }
    ctx_.progress(
        update(axion::v1::TASK_STATE_RUNNING, "applying compose project '" + project_ + "'"));
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (!ec) std::filesystem::permissions(dir_, std::filesystem::perms::owner_all, ec);
    if (ec) {
      return update(axion::v1::TASK_STATE_FAILED,
                    "could not create " + dir_.string() + ": " + ec.message());
    }
    if (Status s = write_file_atomically(file_, task_.spec().compose_yaml()); !s.ok()) {
      return update(axion::v1::TASK_STATE_FAILED, s.message());
    }

    const CommandResult up = run_cmd(compose_argv({"up", "-d", "--remove-orphans"}));
    if (!up.ok()) {
      if (auto u = interrupted(up, "compose up")) return *u;
      std::string detail = compose_name() + " up failed (" + up.describe() + "): " + last_line(up);
      if (auto states = ctx_.docker.containers(project_, milliseconds(30000)); states.ok()) {
        detail += "; containers: " + describe_states(*states);
      }
      return update(axion::v1::TASK_STATE_FAILED, detail,
                    up.combined_tail() + "\n--- compose logs ---\n" + logs_tail());
    }

    ctx_.progress(update(axion::v1::TASK_STATE_RUNNING,
                         "containers of '" + project_ + "' started; waiting until healthy"));
    std::string seen = "no containers yet";
    while (true) {
      auto states = ctx_.docker.containers(project_, clock_.budget(ctx_.command_timeout));
      if (states.ok()) {
        seen = describe_states(*states);
        switch (assess(*states)) {
          case ProjectHealth::kHealthy:
            return update(axion::v1::TASK_STATE_SUCCEEDED, seen);
          case ProjectHealth::kFailed:
            return update(axion::v1::TASK_STATE_FAILED,
                          "compose project '" + project_ + "' is not healthy: " + seen,
                          logs_tail());
          case ProjectHealth::kPending:
            break;
        }
      } else {
        seen = "containers unknown (" + states.status().message() + ")";
      }
      if (ctx_.cancelled.load() || !ctx_.wait(ctx_.poll_interval)) {
        return update(axion::v1::TASK_STATE_CANCELLED,
                      "cancelled while waiting for health: " + seen);
      }
      if (clock_.passed()) {
        return clock_.has_deadline()
                   ? update(axion::v1::TASK_STATE_CANCELLED,
                            "deadline passed while waiting for health: " + seen, logs_tail())
                   : update(axion::v1::TASK_STATE_FAILED,
                            "compose project '" + project_ + "' was not healthy within " +
                                std::to_string(ctx_.default_timeout.count() / 1000) + "s: " + seen,
                            logs_tail());
      }
    }
  }

  TaskUpdate down(bool remove) {
    ctx_.progress(update(
        axion::v1::TASK_STATE_RUNNING,
        (remove ? "removing" : "stopping") + std::string(" compose project '") + project_ + "'"));
    auto before = ctx_.docker.containers(project_, clock_.budget(ctx_.command_timeout));
    if (!before.ok()) return update(axion::v1::TASK_STATE_FAILED, before.status().message());

    if (std::filesystem::exists(file_)) {
      std::vector<std::string> args = {"down", "--remove-orphans"};
      if (remove) args.push_back("-v");
      const CommandResult r = run_cmd(compose_argv(args));
      if (!r.ok()) {
        if (auto u = interrupted(r, "compose down")) return *u;
        return update(axion::v1::TASK_STATE_FAILED,
                      compose_name() + " down failed (" + r.describe() + "): " + last_line(r),
                      r.combined_tail());
      }
    } else if (auto failed = remove_without_file(*before, remove)) {
      return *failed;
    }

    auto after = ctx_.docker.containers(project_, clock_.budget(ctx_.command_timeout));
    if (!after.ok()) return update(axion::v1::TASK_STATE_FAILED, after.status().message());
    if (!after->empty()) {
      return update(axion::v1::TASK_STATE_FAILED,
                    "containers of compose project '" + project_ +
                        "' remain after down: " + describe_states(*after));
    }
    if (remove) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
      if (ec) {
        return update(axion::v1::TASK_STATE_FAILED,
                      "could not delete " + dir_.string() + ": " + ec.message());
      }
    }
    if (before->empty()) {
      return update(axion::v1::TASK_STATE_SUCCEEDED,
                    "nothing ran for compose project '" + project_ + "'");
    }
    return update(axion::v1::TASK_STATE_SUCCEEDED,
                  "compose project '" + project_ + "' " + (remove ? "removed" : "stopped") + ": " +
                      std::to_string(before->size()) + " container(s) removed");
  }

  // Without its compose file (never applied here, or the state dir was lost) compose cannot
  // `down` the project, so its labelled containers, networks and (REMOVE) volumes go one by one.
  std::optional<TaskUpdate> remove_without_file(const std::vector<ContainerState>& containers,
                                                bool remove) {
    std::vector<std::string> rm = {"docker", "rm", "-f"};
    if (remove) rm.push_back("-v");
    for (const auto& c : containers) rm.push_back(c.id);
    std::vector<std::vector<std::string>> steps;
    if (!containers.empty()) steps.push_back(rm);
    for (std::string kind : {"network", "volume"}) {
      if (kind == "volume" && !remove) continue;
      const CommandResult ls = run_cmd(
          {"docker", kind, "ls", "-q", "--filter", "label=com.docker.compose.project=" + project_});
      if (!ls.ok()) {
        if (auto u = interrupted(ls, "docker " + kind + " ls")) return u;
        return update(axion::v1::TASK_STATE_FAILED,
                      "docker " + kind + " ls " + ls.describe() + ": " + last_line(ls));
      }
      std::vector<std::string> del = {"docker", kind, "rm"};
      std::size_t begin = 0;
      while (begin < ls.out.size()) {
        const std::size_t end = std::min(ls.out.find('\n', begin), ls.out.size());
        if (end > begin) del.push_back(ls.out.substr(begin, end - begin));
        begin = end + 1;
      }
      if (del.size() > 3) steps.push_back(del);
    }
    for (const auto& argv : steps) {
      const CommandResult r = run_cmd(argv);
      if (!r.ok()) {
        if (auto u = interrupted(r, argv[0] + " " + argv[1] + " " + argv[2])) return u;
        return update(
            axion::v1::TASK_STATE_FAILED,
            argv[0] + " " + argv[1] + " " + argv[2] + " " + r.describe() + ": " + last_line(r),
            r.combined_tail());
      }
    }
    return std::nullopt;
  }

  // CANCELLED for a command stopped by a cancel or the deadline; FAILED for its own timeout.
  std::optional<TaskUpdate> interrupted(const CommandResult& r, const std::string& what) const {
    if (r.outcome == CommandResult::Outcome::kCancelled) {
      return update(axion::v1::TASK_STATE_CANCELLED, "cancelled while " + what + " ran",
                    r.combined_tail());
    }
    if (r.outcome != CommandResult::Outcome::kTimedOut) return std::nullopt;
    if (clock_.has_deadline() && clock_.passed()) {
      return update(axion::v1::TASK_STATE_CANCELLED, "deadline passed while " + what + " ran",
                    r.combined_tail());
    }
    return update(axion::v1::TASK_STATE_FAILED, what + " " + r.describe(), r.combined_tail());
  }

  std::vector<std::string> compose_argv(const std::vector<std::string>& args) const {
    std::vector<std::string> argv = ctx_.compose;
    argv.insert(argv.end(), {"-p", project_, "-f", file_.string()});
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }

  std::string compose_name() const {
    return ctx_.compose.size() > 1 ? ctx_.compose[0] + " " + ctx_.compose[1] : ctx_.compose[0];
  }

  CommandResult run_cmd(std::vector<std::string> argv) const {
    std::error_code ec;
    const std::string workdir = std::filesystem::is_directory(dir_, ec) ? dir_.string() : "";
    return ctx_.docker.run(std::move(argv), clock_.budget(ctx_.command_timeout), &ctx_.cancelled,
                           workdir);
  }

  // The containers' last lines, for the output of a failure.
  std::string logs_tail() const {
    if (!std::filesystem::exists(file_)) return {};
    const CommandResult r = ctx_.docker.run(compose_argv({"logs", "--no-color", "--tail=50"}),
                                            kLogsTimeout, nullptr, dir_.string());
    return r.combined_tail(kMaxOutput);
  }

  TaskUpdate update(TaskState state, std::string detail, std::string output = {}) const {
    return make_task_update(task_, state, std::move(detail), std::move(output));
  }

  const Task& task_;
  const ComposeTaskContext& ctx_;
  const TaskClock clock_;
  const std::string project_;
  const std::filesystem::path dir_;
  const std::filesystem::path file_;
};

}  // namespace

TaskUpdate run_compose_task(const Task& task, const ComposeTaskContext& ctx) {
  return ComposeTask(task, ctx).run();
}

std::filesystem::path compose_project_dir(const std::filesystem::path& state_dir,
                                          const std::string& project) {
  return state_dir / "compose" / project;
}

TaskUpdate make_task_update(const Task& task, TaskState state, std::string detail,
                            std::string output) {
  TaskUpdate u;
  u.set_task_id(task.task_id());
  u.set_state(state);
  u.set_detail(valid_utf8(detail));
  if (output.size() > kMaxOutput) output.erase(0, output.size() - kMaxOutput);
  u.set_output(valid_utf8(output));
  *u.mutable_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  return u;
}

}  // namespace axion::agent
