#include "agent/edge_proxy_control.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace axion::agent::proxy {

namespace {

using Clock = std::chrono::steady_clock;
constexpr std::size_t kOutputLimit = 64 * 1024;

std::string errno_text() { return std::strerror(errno); }

bool is_executable(const std::string& path) {
  return !path.empty() && access(path.c_str(), X_OK) == 0 && std::filesystem::is_regular_file(path);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string tail(std::string text) {
  return text.size() > kOutputLimit ? text.substr(text.size() - kOutputLimit) : text;
}

// Alive and not a zombie (a daemonized master is reaped by init, maybe not at once).
bool alive(pid_t pid) {
  if (pid <= 0) return false;
  if (kill(pid, 0) != 0) return errno == EPERM;
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

// Spawns argv with stdin from /dev/null and stdout+stderr to `out_fd`; the child gets default
// signal handling and an empty mask (the agent's threads may block signals HAProxy relies on)
// and no other descriptor of the agent.
Result<pid_t> spawn(const std::vector<std::string>& argv, int out_fd) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 1);
  posix_spawn_file_actions_adddup2(&actions, out_fd, 2);
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigfillset(&defaults);
  sigdelset(&defaults, SIGKILL);
  sigdelset(&defaults, SIGSTOP);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return unavailable("cannot run " + argv[0] + ": " + std::strerror(rc));
  return pid;
}

// Waits for `pid` until `deadline`, then kills it; the exit code, -1 for a signal or timeout.
int wait_child(pid_t pid, Clock::time_point deadline) {
  int status = 0;
  while (true) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (r < 0 && errno != EINTR) return -1;
    if (Clock::now() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace

ProxyPaths ProxyPaths::under(const std::string& state_dir) {
  const std::string dir = (std::filesystem::path(state_dir) / "proxy").string();
  return {dir,
          dir + "/haproxy.cfg",
          dir + "/table.json",
          dir + "/haproxy.pid",
          dir + "/admin.sock",
          dir + "/master.sock",
          dir + "/haproxy.log"};
}

std::string find_haproxy_binary() {
  if (const char* env = std::getenv("AXION_AGENT_HAPROXY"); env && *env) {
    return is_executable(env) ? env : "";
  }
  if (const char* path = std::getenv("PATH")) {
    std::stringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (!dir.empty() && is_executable(dir + "/haproxy")) return dir + "/haproxy";
    }
  }
  return is_executable("/usr/sbin/haproxy") ? "/usr/sbin/haproxy" : "";
}

Result<CommandResult> run_command(const std::vector<std::string>& argv,
                                  std::chrono::milliseconds timeout) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return unavailable("cannot create a pipe: " + errno_text());
  auto pid = spawn(argv, fds[1]);
  close(fds[1]);
  if (!pid.ok()) {
    close(fds[0]);
    return pid.status();
  }
  const auto deadline = Clock::now() + timeout;
  std::string output;
  char buf[4096];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) break;
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) break;
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    output.append(buf, static_cast<std::size_t>(n));
    if (output.size() > 2 * kOutputLimit) output = tail(std::move(output));
  }
  close(fds[0]);
  return CommandResult{wait_child(*pid, deadline), tail(std::move(output))};
}

HaproxyProcess::HaproxyProcess(std::string binary, ProxyPaths paths)
    : binary_(std::move(binary)), paths_(std::move(paths)) {}

std::optional<pid_t> HaproxyProcess::running_master() const {
  const pid_t pid = std::atoi(read_file(paths_.pid_file).c_str());
  if (pid <= 0 || !alive(pid)) return std::nullopt;
  // A recycled pid must not be taken for ours: it is haproxy, started with our haproxy.cfg.
  std::string comm = read_file("/proc/" + std::to_string(pid) + "/comm");
  while (!comm.empty() && comm.back() == '\n') comm.pop_back();
  if (comm != "haproxy") return std::nullopt;
  std::string cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  std::stringstream parts(cmdline);
  for (std::string a; std::getline(parts, a, '\0');) args.push_back(a);
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "-f" && args[i + 1] == paths_.config) return pid;
  }
  return std::nullopt;
}

Status HaproxyProcess::check_config(const std::string& config) const {
  auto r = run_command({binary_, "-c", "-q", "-f", config}, std::chrono::seconds(30));
  if (!r.ok()) return r.status();
  if (r->exit_code != 0) {
    return invalid_argument("HAProxy refuses the configuration " + config + ": " + r->output);
  }
  return ok_status();
}

Result<pid_t> HaproxyProcess::start() const {
  const int log = open(paths_.log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (log < 0) return unavailable("cannot write " + paths_.log_file + ": " + errno_text());
  // -D: the master detaches (its own session), so it survives the agent; -W: master-worker,
  // reloadable by SIGUSR2; -S: the master CLI for operators (`show proc`, `reload`).
  auto pid = spawn({binary_, "-W", "-D", "-S", paths_.master_socket + ",mode,600", "-f",
                    paths_.config, "-p", paths_.pid_file},
                   log);
  close(log);
  if (!pid.ok()) return pid.status();
  // The launcher exits once the master has bound the listeners and detached.
  const int code = wait_child(*pid, Clock::now() + std::chrono::seconds(30));
  if (code != 0) {
    return failed_precondition("HAProxy did not start (exit code " + std::to_string(code) +
                               "): " + tail(read_file(paths_.log_file)));
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (auto master = running_master()) return *master;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return failed_precondition("HAProxy started but wrote no live pid to " + paths_.pid_file + ": " +
                             tail(read_file(paths_.log_file)));
}

Status HaproxyProcess::reload(pid_t master) const {
  if (kill(master, SIGUSR2) != 0) {
    return unavailable("cannot signal the HAProxy master " + std::to_string(master) + ": " +
                       errno_text());
  }
  return ok_status();
}

Status HaproxyProcess::stop(std::chrono::milliseconds grace) const {
  const auto master = running_master();
  if (!master) return ok_status();
  spdlog::info("stopping HAProxy (master pid {})", *master);
  kill(*master, SIGTERM);
  const auto deadline = Clock::now() + grace;
  while (alive(*master) && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (alive(*master)) {
    spdlog::warn("HAProxy master {} ignored SIGTERM for {} ms: killing it", *master, grace.count());
    kill(*master, SIGKILL);
  }
  std::error_code ec;
  std::filesystem::remove(paths_.pid_file, ec);
  return ok_status();
}

Result<std::string> HaproxyProcess::admin(const std::string& command) const {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (paths_.admin_socket.size() >= sizeof addr.sun_path) {
    return invalid_argument("the admin socket path " + paths_.admin_socket +
                            " is too long for a unix socket: use a shorter state directory");
  }
  std::memcpy(addr.sun_path, paths_.admin_socket.c_str(), paths_.admin_socket.size() + 1);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return unavailable("cannot create a unix socket: " + errno_text());
  const auto fail = [&](const std::string& what) -> Status {
    const std::string text = errno_text();
    close(fd);
    return unavailable(what + " " + paths_.admin_socket + ": " + text);
  };
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return fail("cannot connect to HAProxy's admin socket");
  }
  const std::string line = command + "\n";
  if (send(fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    return fail("cannot send to");
  }
  // Non-interactive mode: HAProxy answers and closes the connection.
  std::string out;
  char buf[4096];
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    const int ready = poll(&p, 1, 200);
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    const ssize_t n = ready < 0 ? -1 : read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot read from");
    if (n == 0) {
      close(fd);
      return out;
    }
    out.append(buf, static_cast<std::size_t>(n));
  }
  close(fd);
  return deadline_exceeded("HAProxy's admin socket " + paths_.admin_socket + " did not answer '" +
                           command + "' within 10 s");
}

bool tcp_accepts(const std::string& host, std::uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return false;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

}  // namespace axion::agent::proxy
