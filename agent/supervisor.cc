#include "agent/supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <thread>

#include "agent/process_control.h"
#include "agent/state_store.h"

namespace axion::agent {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr seconds kRestartDelayMin{1};
constexpr seconds kRestartDelayMax{30};
// A child that ran this long was healthy: its failure starts the backoff over.
constexpr seconds kHealthyRun{60};
// Stopping a supervisor from outside waits this much beyond the stop timeout, so that the
// supervisor's own SIGKILL of a slow agent lands first and it removes its pid file itself.
constexpr seconds kStopGrace{2};

std::string errno_text() { return std::strerror(errno); }

timespec to_timespec(Clock::duration d) {
  const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return timespec{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
}

// Removes `path` only if it still names `entry`: a newer supervisor's file stays.
void remove_pid_file_naming(const std::string& path, const PidFileEntry& entry) {
  auto current = read_pid_file(path);
  if (current.ok() && *current && **current == entry) unlink(path.c_str());
}

// The supervisor is not our child (it was double-forked): all we can watch is /proc.
bool wait_until_gone(const PidFileEntry& e, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (process_alive(e.pid, e.start_time)) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return true;
}

Status stop_running(const PidFileEntry& e, milliseconds stop_timeout) {
  const std::string who = "the supervisor (pid " + std::to_string(e.pid) + ")";
  if (kill(e.pid, SIGTERM) != 0 && errno != ESRCH) {
    return failed_precondition("cannot signal " + who + ": " + errno_text());
  }
  if (wait_until_gone(e, stop_timeout + kStopGrace)) return ok_status();
  spdlog::warn("{} did not stop within {} ms: killing it and its agent", who,
               milliseconds(stop_timeout + kStopGrace).count());
  // Its process group: the supervisor leads it and its agent child is a member. Checked again
  // just before, so a pid that was reused in the meantime is not hit.
  if (process_alive(e.pid, e.start_time)) {
    kill(-e.pid, SIGKILL);
    kill(e.pid, SIGKILL);
  }
  if (wait_until_gone(e, seconds(10))) return ok_status();
  return deadline_exceeded(who + " still runs after SIGKILL");
}

// Blocks until `child` exits (its status) or SIGTERM/SIGINT asks the supervisor to stop
// (nullopt). SIGCHLD is blocked, so an exit between waitpid and sigwaitinfo is not missed.
std::optional<ExitStatus> wait_child_or_stop(pid_t child, const sigset_t& watched) {
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) return exit_status_from_wait(status);
    if (r < 0 && errno != EINTR) return ExitStatus{true, 1, 0};  // not ours any more: restart
    const int sig = sigwaitinfo(&watched, nullptr);
    if (sig == SIGTERM || sig == SIGINT) return std::nullopt;
  }
}

// Sleeps `delay` unless SIGTERM/SIGINT comes first (true).
bool stop_requested_within(Clock::duration delay, const sigset_t& watched) {
  const auto deadline = Clock::now() + delay;
  for (auto left = delay; left > Clock::duration::zero(); left = deadline - Clock::now()) {
    const timespec ts = to_timespec(left);
    const int sig = sigtimedwait(&watched, nullptr, &ts);
    if (sig == SIGTERM || sig == SIGINT) return true;
  }
  return false;
}

void stop_child(pid_t child, milliseconds stop_timeout) {
  kill(child, SIGTERM);
  sigset_t chld;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  int status = 0;
  const auto deadline = Clock::now() + stop_timeout;
  for (;;) {
    if (waitpid(child, &status, WNOHANG) == child) return;
    const auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) break;
    const timespec ts = to_timespec(std::min<Clock::duration>(left, milliseconds(200)));
    sigtimedwait(&chld, nullptr, &ts);
  }
  spdlog::warn("supervisor: the agent (pid {}) did not stop within {} ms: killing it", child,
               stop_timeout.count());
  kill(child, SIGKILL);
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
}

// The supervisor's life: run the agent, restart it after an abnormal exit, stop on request.
DaemonOutcome supervise(const AgentConfig& config, const PidFileEntry& self) {
  sigset_t watched, original;
  sigemptyset(&watched);
  sigaddset(&watched, SIGTERM);
  sigaddset(&watched, SIGINT);
  sigaddset(&watched, SIGCHLD);
  sigprocmask(SIG_BLOCK, &watched, &original);
  const auto finish = [&](int code) {
    remove_pid_file_naming(config.pid_file, self);
    spdlog::info("supervisor (pid {}) exits", self.pid);
    return DaemonOutcome{false, code};
  };
  Clock::duration delay = kRestartDelayMin;
  for (;;) {
    const auto started = Clock::now();
    const pid_t child = fork();
    if (child == 0) {
      // The agent dies with its supervisor (even a SIGKILLed one), so an agent is never left
      // running beside the one a new supervisor starts on the same state directory.
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (getppid() != self.pid) _exit(1);  // the supervisor died before prctl
      sigprocmask(SIG_SETMASK, &original, nullptr);
      return DaemonOutcome{true, 0};
    }
    ExitStatus ended{true, 1, 0};
    if (child < 0) {
      spdlog::error("supervisor: cannot start the agent: fork: {}", errno_text());
    } else {
      spdlog::info("supervisor (pid {}): started the agent (pid {})", self.pid, child);
      const auto exit = wait_child_or_stop(child, watched);
      if (!exit) {
        spdlog::info("supervisor: asked to stop: stopping the agent (pid {})", child);
        stop_child(child, config.stop_timeout);
        return finish(0);
      }
      ended = *exit;
    }
    if (ended.signal == 0 && ended.code == 0) {
      // Only a SIGTERM/SIGINT sent to the agent itself ends it cleanly: someone stopped it.
      spdlog::info("supervisor: the agent exited with code 0: stopping too");
      return finish(0);
    }
    if (ended.signal == 0 && ended.code == 2) {
      spdlog::critical(
          "supervisor: the agent exited with code 2 (bad configuration): it is "
          "not restarted");
      return finish(2);
    }
    if (Clock::now() - started >= kHealthyRun) delay = kRestartDelayMin;
    spdlog::warn("supervisor: the agent {}; restarting it in {} s", ended.describe(),
                 std::chrono::duration_cast<seconds>(delay).count());
    if (stop_requested_within(delay, watched)) return finish(0);
    delay = std::min<Clock::duration>(delay * 2, kRestartDelayMax);
  }
}

void write_all(int fd, const std::string& text) {
  std::size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

// The grandchild of the invoking process: detaches from everything the caller holds, writes the
// pid file, tells the caller (through `ready_fd`: "ok" or what failed) and supervises.
DaemonOutcome become_supervisor(const AgentConfig& config, int log_fd, int ready_fd) {
  // Its own process group (it is not a session leader, so it can never get a controlling
  // terminal back): stop_running can SIGKILL it together with its agent.
  setpgid(0, 0);
  // Above 0-2 first: a caller started with a closed stdin may have handed us low descriptors.
  log_fd = fcntl(log_fd, F_DUPFD_CLOEXEC, 10);
  ready_fd = fcntl(ready_fd, F_DUPFD_CLOEXEC, 10);
  const int null_fd = open("/dev/null", O_RDWR);
  if (log_fd < 0 || ready_fd < 0 || null_fd < 0 || chdir("/") != 0) _exit(1);  // caller: EOF
  dup2(null_fd, 0);
  dup2(log_fd, 1);
  dup2(log_fd, 2);
  dup2(ready_fd, 3);
  // Whatever else the caller had open (an SSH channel's pipes, sockets) must not be held here,
  // or the caller's connection would stay open as long as the daemon runs.
  close_range(4, ~0U, 0);
  // A caller may have ignored these (nohup, some SSH setups); an ignored SIGCHLD would even reap
  // the agent behind waitpid's back.
  for (int sig : {SIGCHLD, SIGTERM, SIGINT}) signal(sig, SIG_DFL);
  const auto start_time = process_start_time(getpid());
  Status written = internal_error("cannot read the supervisor's own /proc start time");
  const PidFileEntry self{getpid(), start_time.value_or(0)};
  if (start_time) written = write_file_atomically(config.pid_file, pid_file_text(self));
  if (!written.ok()) {
    write_all(3, written.message());
    _exit(1);
  }
  write_all(3, "ok");
  close(3);
  spdlog::info("supervisor (pid {}) started: pid file {}", self.pid, config.pid_file);
  return supervise(config, self);
}

}  // namespace

std::string pid_file_text(const PidFileEntry& entry) {
  return std::to_string(entry.pid) + "\n" + std::to_string(entry.start_time) + "\n";
}

Result<std::optional<PidFileEntry>> read_pid_file(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<PidFileEntry>();
    return unavailable("cannot read the pid file " + path + ": " + errno_text());
  }
  char buffer[128];
  const ssize_t n = read(fd, buffer, sizeof buffer);
  close(fd);
  std::istringstream in(std::string(buffer, n > 0 ? static_cast<std::size_t>(n) : 0));
  long long pid = 0;
  unsigned long long start_time = 0;
  std::string extra;
  // Never pid 1 or a process group: a damaged file must not make us signal those.
  if (!(in >> pid >> start_time) || (in >> extra) || pid <= 1 || pid > 4194304 || start_time == 0) {
    return invalid_argument(path +
                            " is not an axion-agent pid file (its pid and /proc start time on "
                            "two lines): it is left alone; remove it or choose another --pid-file");
  }
  return std::optional<PidFileEntry>(PidFileEntry{static_cast<pid_t>(pid), start_time});
}

Result<std::string> stop_supervisor(const std::string& pid_file, milliseconds stop_timeout) {
  auto entry = read_pid_file(pid_file);
  if (!entry.ok()) return entry.status();
  if (!*entry) return "nothing to stop: there is no pid file " + pid_file;
  const PidFileEntry e = **entry;
  const std::string pid = std::to_string(e.pid);
  if (!process_alive(e.pid, e.start_time)) {
    remove_pid_file_naming(pid_file, e);
    return "nothing to stop: the supervisor " + pid_file + " named (pid " + pid +
           ") no longer runs; removed the stale pid file";
  }
  AXION_RETURN_IF_ERROR(stop_running(e, stop_timeout));
  remove_pid_file_naming(pid_file, e);
  return "stopped the supervisor (pid " + pid + ") and its agent";
}

Result<DaemonOutcome> daemonize(const AgentConfig& config) {
  const auto pid_dir = std::filesystem::path(config.pid_file).parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(pid_dir, ec)) {
    return invalid_argument("--pid-file (AXION_AGENT_PID_FILE) " + config.pid_file +
                            ": its directory does not exist");
  }
  auto previous = read_pid_file(config.pid_file);
  if (!previous.ok()) return previous.status();
  // Opened here, where the caller still listens: the supervisor could only fail silently.
  const int log_fd =
      open(config.log_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
  if (log_fd < 0) {
    return invalid_argument("cannot open the log file " + config.log_file +
                            " (--log-file / AXION_AGENT_LOG_FILE): " + errno_text());
  }
  fchmod(log_fd, 0600);  // the agent's output names hosts, paths and services
  // --daemonize means "(re)start": an installer that runs it again gets one supervisor.
  if (*previous && process_alive((*previous)->pid, (*previous)->start_time)) {
    spdlog::info("stopping the running supervisor (pid {}) first", (*previous)->pid);
    if (Status stopped = stop_running(**previous, config.stop_timeout); !stopped.ok()) {
      close(log_fd);
      return stopped;
    }
  }
  if (*previous) remove_pid_file_naming(config.pid_file, **previous);

  int ready[2];
  if (pipe2(ready, O_CLOEXEC) != 0) {
    close(log_fd);
    return unavailable("cannot create a pipe: " + errno_text());
  }
  std::fflush(nullptr);  // or the children would write the caller's buffered output again
  const pid_t first = fork();
  if (first == 0) {
    close(ready[0]);
    // A new session: no controlling terminal, no SIGHUP when the caller's session ends. The
    // second fork leaves a process that is not the session leader and whose parent is gone.
    if (setsid() < 0) _exit(1);
    const pid_t second = fork();
    if (second != 0) _exit(second < 0 ? 1 : 0);
    return become_supervisor(config, log_fd, ready[1]);
  }
  const int fork_errno = errno;
  close(ready[1]);
  close(log_fd);
  if (first < 0) {
    close(ready[0]);
    return unavailable("cannot fork: " + std::string(std::strerror(fork_errno)));
  }
  int status = 0;
  while (waitpid(first, &status, 0) < 0 && errno == EINTR) {
  }
  // EOF (every copy of the write end closed) without "ok": the supervisor died before its pid
  // file existed.
  std::string reply;
  char buffer[512];
  for (ssize_t n; (n = read(ready[0], buffer, sizeof buffer)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  close(ready[0]);
  if (reply != "ok") {
    return unavailable("the supervisor did not start: " +
                       (reply.empty() ? "it exited before writing its pid file" : reply));
  }
  auto started = read_pid_file(config.pid_file);
  const std::string pid =
      started.ok() && *started ? std::to_string((*started)->pid) : std::string("?");
  std::printf("axion-agent: started the supervisor (pid %s); pid file %s, log %s\n", pid.c_str(),
              config.pid_file.c_str(), config.log_file.c_str());
  return DaemonOutcome{false, 0};
}

}  // namespace axion::agent
