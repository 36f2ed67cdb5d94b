#include "agent/process_control.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace axion::agent {

namespace {

std::string errno_text(int err) { return std::strerror(err); }

// What the child reports through the exec pipe when it cannot become the program.
struct ChildFailure {
  int stage;  // 1 chdir, 2 exec
  int err;
};

// The child between fork and exec: only async-signal-safe calls.
[[noreturn]] void become_program(const SpawnRequest& r, char* const* argv, char* const* envp,
                                 int null_fd, int report_fd) {
  // Signal dispositions set to "ignore" and the blocked mask survive exec; a service must start
  // with the defaults whatever the agent ignores (gRPC ignores SIGPIPE).
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) sigaction(sig, &dfl, nullptr);
  }
  setsid();
  dup2(null_fd, 0);
  if (r.stdout_fd >= 0) dup2(r.stdout_fd, 1);
  if (r.stderr_fd >= 0) dup2(r.stderr_fd, 2);
  // The agent's sockets and files must not leak into the service (and keep ports open).
  close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
  ChildFailure failure{0, 0};
  if (!r.workdir.empty() && chdir(r.workdir.c_str()) != 0) {
    failure = {1, errno};
  } else {
    execve(r.program.c_str(), argv, envp);
    failure = {2, errno};
  }
  [[maybe_unused]] ssize_t n = write(report_fd, &failure, sizeof failure);
  _exit(127);
}

std::vector<char*> c_strings(const std::vector<std::string>& values) {
  std::vector<char*> out;
  out.reserve(values.size() + 1);
  for (const auto& v : values) out.push_back(const_cast<char*>(v.c_str()));
  out.push_back(nullptr);
  return out;
}

}  // namespace

Result<pid_t> spawn_process(const SpawnRequest& request) {
  if (request.argv.empty()) return invalid_argument("no command to run (argv is empty)");
  auto argv = c_strings(request.argv);
  auto envp = c_strings(request.env);
  const int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null_fd < 0) return unavailable("cannot open /dev/null: " + errno_text(errno));
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) {
    const int err = errno;
    close(null_fd);
    return unavailable("cannot create a pipe: " + errno_text(err));
  }
  const pid_t pid = fork();
  if (pid == 0) become_program(request, argv.data(), envp.data(), null_fd, report[1]);
  const int fork_errno = errno;
  close(report[1]);
  close(null_fd);
  if (pid < 0) {
    close(report[0]);
    return unavailable("cannot fork: " + errno_text(fork_errno));
  }
  ChildFailure failure{0, 0};
  ssize_t n;
  do {
    n = read(report[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == static_cast<ssize_t>(sizeof failure)) {
    int status = 0;
    waitpid(pid, &status, 0);
    if (failure.stage == 1) {
      return failed_precondition("cannot enter the working directory '" + request.workdir +
                                 "': " + errno_text(failure.err));
    }
    return failed_precondition("cannot execute " + request.program + ": " +
                               errno_text(failure.err));
  }
  return pid;  // the pipe closed on exec: the program runs
}

Result<std::string> resolve_program(const std::string& name, const std::string& path_env) {
  if (name.empty()) return invalid_argument("the command (argv[0]) is empty");
  if (name.find('/') != std::string::npos) {
    if (name.front() != '/') {
      return invalid_argument("the command '" + name +
                              "' must be an absolute path or a name found in PATH");
    }
    if (access(name.c_str(), X_OK) != 0) {
      return not_found("cannot execute " + name + ": " + errno_text(errno));
    }
    return name;
  }
  std::stringstream dirs(path_env);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return not_found("command '" + name + "' not found in PATH (" + path_env + ")");
}

namespace {

struct ProcStat {
  char state = '?';
  std::uint64_t start_time = 0;
};

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!in || !std::getline(in, line)) return std::nullopt;
  // Field 2 (comm) is in parentheses and may hold spaces or ')': fields start after the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  ProcStat stat;
  for (int index = 3; fields >> field; ++index) {
    if (index == 3) stat.state = field.empty() ? '?' : field[0];
    if (index == 22) {
      stat.start_time = std::strtoull(field.c_str(), nullptr, 10);
      return stat;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::uint64_t> process_start_time(pid_t pid) {
  const auto stat = read_proc_stat(pid);
  if (!stat) return std::nullopt;
  return stat->start_time;
}

bool process_alive(pid_t pid, std::uint64_t start_time) {
  const auto stat = read_proc_stat(pid);
  return stat && stat->start_time == start_time && stat->state != 'Z' && stat->state != 'X';
}

std::string ExitStatus::describe() const {
  if (!known) return "exited (status unknown: it was started by an earlier agent process)";
  if (signal != 0) {
    return "was killed by signal " + std::to_string(signal) + " (" + strsignal(signal) + ")";
  }
  return "exited with code " + std::to_string(code);
}

ExitStatus exit_status_from_wait(int wait_status) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    return {true, 128 + sig, sig};
  }
  return {true, WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1, 0};
}

std::optional<ExitStatus> poll_exit(pid_t pid, std::uint64_t start_time) {
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid) return exit_status_from_wait(status);
  if (r == 0) return std::nullopt;
  // Not our child (adopted from an earlier agent process): all /proc can tell is whether it runs.
  if (process_alive(pid, start_time)) return std::nullopt;
  return ExitStatus{false, -1, 0};
}

void signal_group(pid_t pgid, int sig) {
  if (pgid > 1) kill(-pgid, sig);
}

Result<std::uint32_t> allocate_port(std::uint32_t first, std::uint32_t last,
                                    const std::set<std::uint32_t>& taken) {
  // Binding the wildcard address without SO_REUSEADDR fails if anything holds the port on any
  // address, which is what "free" has to mean for a service that may bind either.
  const auto try_bind = [](std::uint32_t port) -> std::uint32_t {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    std::uint32_t bound = 0;
    socklen_t len = sizeof addr;
    if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      bound = ntohs(addr.sin_port);
    }
    close(fd);
    return bound;
  };
  if (first == 0) {
    for (int attempt = 0; attempt < 32; ++attempt) {
      const std::uint32_t port = try_bind(0);
      if (port != 0 && !taken.contains(port)) return port;
    }
    return resource_exhausted("the kernel offered no free local port");
  }
  for (std::uint32_t port = first; port <= last && port <= 65535; ++port) {
    if (!taken.contains(port) && try_bind(port) == port) return port;
  }
  return resource_exhausted("no free port in the agent's range " + std::to_string(first) + "-" +
                            std::to_string(last) + ": stop unused instances or widen the range");
}

}  // namespace axion::agent
