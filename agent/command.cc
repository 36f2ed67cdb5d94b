#include "agent/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <string_view>

extern char** environ;

namespace axion::agent {
namespace {

using Clock = std::chrono::steady_clock;
// Between TERM and KILL: long enough for docker-compose to stop its own children.
constexpr auto kKillGrace = std::chrono::seconds(3);
// After the program exits, how long its leftover children may keep the pipes open.
constexpr auto kDrainAfterExit = std::chrono::seconds(1);
constexpr int kPollMs = 50;

std::vector<std::string> build_environment(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string key(entry.substr(0, entry.find('=')));
    if (!overrides.contains(key)) out.emplace_back(entry);
  }
  for (const auto& [key, value] : overrides) out.push_back(key + "=" + value);
  return out;
}

// The file argv[0] names, searched in the PATH the program will get; empty if none fits.
std::string resolve_program(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) return name;
  std::string path = "/usr/local/bin:/usr/bin:/bin";
  for (const auto& entry : env) {
    if (entry.starts_with("PATH=")) path = entry.substr(5);
  }
  std::size_t begin = 0;
  while (begin <= path.size()) {
    std::size_t end = path.find(':', begin);
    if (end == std::string::npos) end = path.size();
    const std::string dir = end > begin ? path.substr(begin, end - begin) : ".";
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    begin = end + 1;
  }
  return {};
}

// The last `max` bytes of a stream.
struct Tail {
  std::string data;
  bool truncated = false;
  std::size_t max;

  void append(const char* bytes, std::size_t n) {
    data.append(bytes, n);
    if (data.size() > max) {
      data.erase(0, data.size() - max);
      truncated = true;
    }
  }
};

// Reads what `fd` has now; false at end of file (or a read error, which ends the stream too).
bool drain(int fd, Tail& tail) {
  char buf[16384];
  while (true) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      tail.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

}  // namespace

std::string CommandResult::describe() const {
  switch (outcome) {
    case Outcome::kExited:
      return "exited with status " + std::to_string(exit_code);
    case Outcome::kSignaled:
      return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
    case Outcome::kTimedOut:
      return "timed out after " +
             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
             "s and was killed";
    case Outcome::kCancelled:
      return "cancelled (killed)";
    case Outcome::kSpawnFailed:
      return spawn_error;
  }
  return "unknown outcome";
}

std::string CommandResult::combined_tail(std::size_t max) const {
  std::string all = out;
  if (!all.empty() && !err.empty() && all.back() != '\n') all += '\n';
  all += err;
  if (all.size() > max) all.erase(0, all.size() - max);
  return all;
}

CommandResult run_command(const CommandSpec& spec) {
  CommandResult result;
  result.timeout = spec.timeout;
  if (spec.argv.empty()) {
    result.spawn_error = "no program given (empty argv)";
    return result;
  }
  const std::vector<std::string> env = build_environment(spec.env);
  const std::string program = resolve_program(spec.argv[0], env);
  if (program.empty()) {
    result.spawn_error = "'" + spec.argv[0] + "' was not found in PATH";
    return result;
  }

  int out_pipe[2];
  int err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    result.spawn_error = std::string("pipe: ") + std::strerror(errno);
    return result;
  }
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    result.spawn_error = std::string("pipe: ") + std::strerror(errno);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    return result;
  }

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
  if (!spec.workdir.empty()) posix_spawn_file_actions_addchdir_np(&actions, spec.workdir.c_str());

  // Own process group, so a timeout kills the program's children too; default signal handling
  // and an empty mask whatever the agent's threads set up (e.g. SIGPIPE ignored).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t mask;
  sigemptyset(&mask);
  posix_spawnattr_setsigmask(&attr, &mask);
  sigset_t defaults;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);

  std::vector<char*> argv;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);

  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, program.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    result.spawn_error = "could not start " + program + ": " + std::strerror(rc);
    return result;
  }
  ::fcntl(out_pipe[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err_pipe[0], F_SETFL, O_NONBLOCK);

  Tail out{.data = {}, .truncated = false, .max = spec.max_output};
  Tail err{.data = {}, .truncated = false, .max = spec.max_output};
  int fds[2] = {out_pipe[0], err_pipe[0]};
  Tail* tails[2] = {&out, &err};
  bool open[2] = {true, true};

  enum class Kill { kNone, kTimeout, kCancel } kill_reason = Kill::kNone;
  const auto deadline = Clock::now() + spec.timeout;
  Clock::time_point hard_kill_at{};
  bool hard_killed = false;
  bool exited = false;
  int status = 0;
  std::optional<Clock::time_point> drain_until;

  while (true) {
    pollfd pfds[2];
    int map[2];
    nfds_t n = 0;
    for (int i = 0; i < 2; ++i) {
      if (open[i]) {
        pfds[n] = pollfd{.fd = fds[i], .events = POLLIN, .revents = 0};
        map[n++] = i;
      }
    }
    ::poll(n > 0 ? pfds : nullptr, n, kPollMs);
    for (nfds_t k = 0; k < n; ++k) {
      if (pfds[k].revents == 0) continue;
      const int i = map[k];
      if (!drain(fds[i], *tails[i])) {
        ::close(fds[i]);
        open[i] = false;
      }
    }
    if (!exited && ::waitpid(pid, &status, WNOHANG) == pid) exited = true;
    const auto now = Clock::now();
    if (exited) {
      if (!open[0] && !open[1]) break;
      if (!drain_until) drain_until = now + kDrainAfterExit;
      if (now >= *drain_until) break;
      continue;
    }
    if (kill_reason == Kill::kNone) {
      if (spec.cancel != nullptr && spec.cancel->load()) {
        kill_reason = Kill::kCancel;
      } else if (now >= deadline) {
        kill_reason = Kill::kTimeout;
      }
      if (kill_reason != Kill::kNone) {
        ::kill(-pid, SIGTERM);
        hard_kill_at = now + kKillGrace;
      }
    } else if (!hard_killed && now >= hard_kill_at) {
      ::kill(-pid, SIGKILL);
      hard_killed = true;
    }
  }
  for (int i = 0; i < 2; ++i) {
    if (open[i]) ::close(fds[i]);
  }
  // What the program started and left behind goes with it when we stopped it.
  if (kill_reason != Kill::kNone) ::kill(-pid, SIGKILL);

  result.out = std::move(out.data);
  result.err = std::move(err.data);
  result.out_truncated = out.truncated;
  result.err_truncated = err.truncated;
  if (kill_reason == Kill::kTimeout) {
    result.outcome = CommandResult::Outcome::kTimedOut;
  } else if (kill_reason == Kill::kCancel) {
    result.outcome = CommandResult::Outcome::kCancelled;
  } else if (WIFEXITED(status)) {
    result.outcome = CommandResult::Outcome::kExited;
    result.exit_code = WEXITSTATUS(status);
  } else {
    result.outcome = CommandResult::Outcome::kSignaled;
    result.signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }
  return result;
}

}  // namespace axion::agent
