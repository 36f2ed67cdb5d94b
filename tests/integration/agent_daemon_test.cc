// axion-agent's background mode as an SSH installer uses it, with the real binary: --daemonize
// returns with its output closed and a pid file naming a live supervisor whose child is the
// agent, the config file is honoured (and loses to a flag), a SIGKILLed agent is restarted, one
// exiting 2 is not, a second --daemonize replaces the first, --stop ends both, bad configurations
// start nothing, and a pid file naming someone else's process never gets it killed. The agents
// dial a closed local port and keep retrying. Deadlines are generous; nothing is timed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "agent/process_control.h"
#include "agent/supervisor.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using axion::agent::PidFileEntry;
using axion::agent::process_alive;
using axion::agent::process_start_time;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kDeadline = 60s;
constexpr auto k0600 = fs::perms::owner_read | fs::perms::owner_write;

bool eventually(const std::function<bool()>& condition, Clock::duration timeout = kDeadline) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
  return true;
}

struct AgentRun {
  int exit_code = -1;
  std::string output;   // stdout and stderr
  bool closed = false;  // every copy of the output pipe was closed (an SSH channel would end)
};

// Runs axion-agent with `args` and none of the caller's AXION_AGENT_* variables, and reads its
// output until every process holding the pipe closed it.
AgentRun run_agent(const std::vector<std::string>& args,
                   const std::vector<std::string>& env_extra = {}) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    if (std::strncmp(*e, "AXION_AGENT_", 12) != 0) env.emplace_back(*e);
  }
  env.insert(env.end(), env_extra.begin(), env_extra.end());
  std::vector<std::string> argv_strings{AXION_AGENT_BIN};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& a : argv_strings) argv.push_back(a.data());
  for (auto& e : env) envp.push_back(e.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    const int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, 0);
    dup2(out[1], 1);
    dup2(out[1], 2);
    execve(AXION_AGENT_BIN, argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  AgentRun run;
  const auto deadline = Clock::now() + 2 * kDeadline;
  while (Clock::now() < deadline) {
    pollfd p{out[0], POLLIN, 0};
    if (poll(&p, 1, 200) <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(out[0], buffer, sizeof buffer);
    if (n <= 0) {
      run.closed = n == 0;
      break;
    }
    run.output.append(buffer, static_cast<std::size_t>(n));
  }
  close(out[0]);
  if (!run.closed) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return run;
}

std::optional<PidFileEntry> entry_of(pid_t pid) {
  const auto start = process_start_time(pid);
  if (!start) return std::nullopt;
  return PidFileEntry{pid, *start};
}

bool alive(const PidFileEntry& e) { return process_alive(e.pid, e.start_time); }

// Live (not zombie) processes whose parent is `parent`, from /proc/<pid>/stat.
std::vector<pid_t> children_of(pid_t parent) {
  std::vector<pid_t> children;
  for (const auto& dir : fs::directory_iterator("/proc")) {
    const std::string name = dir.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(dir.path() / "stat");
    std::string line;
    if (!std::getline(in, line) || line.rfind(')') == std::string::npos) continue;
    std::istringstream fields(line.substr(line.rfind(')') + 1));
    char state = '?';
    pid_t ppid = 0;
    if (fields >> state >> ppid && ppid == parent && state != 'Z' && state != 'X') {
      children.push_back(std::stoi(name));
    }
  }
  return children;
}

std::uint32_t closed_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

// A process of our own (not the agent's) that a pid file may wrongly name; killed at the end.
struct OwnProcess {
  pid_t pid = -1;
  explicit OwnProcess(const char* program, const char* arg) {
    pid = fork();
    if (pid == 0) {
      execlp(program, program, arg, static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~OwnProcess() {
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }
};

class AgentDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir_template[] = "/tmp/axion-agent-daemon-XXXXXX";
    ASSERT_NE(mkdtemp(dir_template), nullptr);
    dir_ = dir_template;
    pid_file_ = (dir_ / "agent.pid").string();
    state_dir_ = dir_ / "state-from-config";
    config_ = (dir_ / "agent.conf").string();
    write_text(config_, "# written by agent_daemon_test\nserver = \"127.0.0.1:" +
                            std::to_string(closed_port()) +
                            "\"\nserver-id = \"srv-daemon\"\nstate-dir = \"" + state_dir_.string() +
                            "\"\nbackoff-max-ms = 1000\n");
  }

  // Every supervisor and agent any test saw dies here, also when an assertion failed early.
  void TearDown() override {
    track_pid_file();
    for (const auto& e : started_) {
      if (!alive(e)) continue;
      kill(-e.pid, SIGKILL);  // a supervisor leads its group, which holds its agent
      kill(e.pid, SIGKILL);
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  std::vector<std::string> daemonize_args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args{
        "--config", config_, "--daemonize", "--pid-file", pid_file_, "--stop-timeout-ms", "5000"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }

  std::optional<PidFileEntry> track_pid_file() {
    auto entry = axion::agent::read_pid_file(pid_file_);
    if (!entry.ok() || !*entry) return std::nullopt;
    started_.push_back(**entry);
    return **entry;
  }

  // The supervisor's one live child (the agent), once it runs.
  std::optional<PidFileEntry> agent_of(const PidFileEntry& supervisor, pid_t not_this = 0) {
    std::optional<PidFileEntry> agent;
    eventually([&] {
      const auto children = children_of(supervisor.pid);
      if (children.size() != 1 || children[0] == not_this) return false;
      agent = entry_of(children[0]);
      return agent.has_value();
    });
    if (agent) started_.push_back(*agent);
    return agent;
  }

  // Starts a supervisor and its agent; both are tracked for TearDown.
  void start(PidFileEntry* supervisor, PidFileEntry* agent) {
    const AgentRun run = run_agent(daemonize_args());
    ASSERT_TRUE(run.closed) << "the daemon kept the caller's output open";
    ASSERT_EQ(run.exit_code, 0) << run.output;
    const auto sup = track_pid_file();
    ASSERT_TRUE(sup.has_value()) << "no pid file after --daemonize: " << run.output;
    ASSERT_TRUE(alive(*sup)) << "the pid file names no live process";
    const auto child = agent_of(*sup);
    ASSERT_TRUE(child.has_value()) << "the supervisor runs no agent";
    *supervisor = *sup;
    *agent = *child;
  }

  void expect_stopped(const PidFileEntry& supervisor, const PidFileEntry& agent) {
    const AgentRun run = run_agent({"--stop", "--pid-file", pid_file_});
    EXPECT_TRUE(run.closed);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    EXPECT_NE(run.output.find("stopped the supervisor"), std::string::npos) << run.output;
    EXPECT_TRUE(eventually([&] { return !alive(supervisor) && !alive(agent); }));
    EXPECT_FALSE(fs::exists(pid_file_));
  }

  fs::path dir_;
  std::string pid_file_;
  fs::path state_dir_;
  std::string config_;
  std::vector<PidFileEntry> started_;
};

TEST_F(AgentDaemonTest, DaemonizeDetachesRunsTheAgentFromTheConfigFileAndStopEndsIt) {
  ASSERT_FALSE(fs::exists(state_dir_));
  PidFileEntry supervisor, agent;
  ASSERT_NO_FATAL_FAILURE(start(&supervisor, &agent));
  EXPECT_EQ(read_text(pid_file_),
            std::to_string(supervisor.pid) + "\n" + std::to_string(supervisor.start_time) + "\n");
  EXPECT_EQ(fs::status(pid_file_).permissions(), k0600);
  // The state directory and the server id came from the config file.
  EXPECT_TRUE(fs::is_directory(state_dir_));
  const fs::path log = state_dir_ / "agent.log";
  EXPECT_EQ(fs::status(log).permissions(), k0600);
  EXPECT_TRUE(eventually([&] {
    return read_text(log).find("starting for server srv-daemon") != std::string::npos;
  })) << read_text(log);
  // Nothing of the caller's is held: stdin is /dev/null, output goes to the log, no other fd.
  std::vector<std::string> fds;
  for (const auto& fd : fs::directory_iterator("/proc/" + std::to_string(supervisor.pid) + "/fd")) {
    fds.push_back(fd.path().filename().string() + "->" + fs::read_symlink(fd.path()).string());
  }
  std::sort(fds.begin(), fds.end());
  EXPECT_EQ(fds,
            (std::vector<std::string>{"0->/dev/null", "1->" + log.string(), "2->" + log.string()}));
  EXPECT_EQ(fs::read_symlink("/proc/" + std::to_string(agent.pid) + "/exe"),
            fs::canonical(AXION_AGENT_BIN));

  expect_stopped(supervisor, agent);
  // Nothing runs any more: --stop still succeeds, saying so.
  const AgentRun again = run_agent({"--stop", "--pid-file", pid_file_});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.output.find("nothing to stop"), std::string::npos) << again.output;
}

// The state directory from a flag (not the file's), where the agent cannot create its task
// journal: it exits with code 2 (bad configuration), which the supervisor does not restart.
TEST_F(AgentDaemonTest, AFlagWinsOverTheFileAndAnAgentExiting2IsNotRestarted) {
  const fs::path flag_state = dir_ / "state-from-flag";
  fs::create_directories(flag_state);
  write_text(flag_state / "tasks", "not a directory\n");
  const AgentRun run = run_agent(daemonize_args({"--state-dir", flag_state.string()}));
  ASSERT_EQ(run.exit_code, 0) << run.output;
  track_pid_file();  // it may be gone already
  const fs::path log = flag_state / "agent.log";
  ASSERT_TRUE(eventually([&] { return read_text(log).find(") exits") != std::string::npos; }))
      << read_text(log);
  const std::string text = read_text(log);
  EXPECT_NE(text.find("exited with code 2 (bad configuration)"), std::string::npos) << text;
  EXPECT_EQ(text.find("started the agent"), text.rfind("started the agent")) << text;
  EXPECT_FALSE(fs::exists(pid_file_));
  EXPECT_FALSE(fs::exists(state_dir_));
  const auto at = run.output.find("(pid ");
  ASSERT_NE(at, std::string::npos) << run.output;
  const int supervisor = std::stoi(run.output.substr(at + 5));
  EXPECT_TRUE(eventually([&] {
    const auto start = process_start_time(supervisor);
    return !start || !process_alive(supervisor, *start);
  }));
}

TEST_F(AgentDaemonTest, AnAgentKilledWithSigkillIsRestarted) {
  PidFileEntry supervisor, agent;
  ASSERT_NO_FATAL_FAILURE(start(&supervisor, &agent));
  ASSERT_EQ(kill(agent.pid, SIGKILL), 0);
  const auto next = agent_of(supervisor, agent.pid);
  ASSERT_TRUE(next.has_value()) << read_text(state_dir_ / "agent.log");
  EXPECT_NE(next->pid, agent.pid);
  EXPECT_FALSE(alive(agent));
  EXPECT_TRUE(alive(supervisor));
  EXPECT_NE(read_text(state_dir_ / "agent.log").find("was killed by signal 9"), std::string::npos);
  expect_stopped(supervisor, *next);
}

TEST_F(AgentDaemonTest, ASecondDaemonizeReplacesTheFirstSupervisor) {
  PidFileEntry first, first_agent;
  ASSERT_NO_FATAL_FAILURE(start(&first, &first_agent));
  PidFileEntry second, second_agent;
  ASSERT_NO_FATAL_FAILURE(start(&second, &second_agent));
  EXPECT_NE(second, first);
  EXPECT_FALSE(alive(first));
  EXPECT_FALSE(alive(first_agent));
  EXPECT_TRUE(alive(second));
  expect_stopped(second, second_agent);
}

TEST_F(AgentDaemonTest, ABadConfigurationExits2AndStartsNothing) {
  const auto expect_refused = [&](const AgentRun& run, const std::string& message) {
    EXPECT_TRUE(run.closed);
    EXPECT_EQ(run.exit_code, 2) << run.output;
    EXPECT_NE(run.output.find(message), std::string::npos) << run.output;
    EXPECT_FALSE(fs::exists(pid_file_));
    EXPECT_FALSE(fs::exists(state_dir_));
  };
  expect_refused(run_agent(daemonize_args({"--port-range", "nonsense"})), "--port-range");
  const std::string missing = (dir_ / "missing.conf").string();
  expect_refused(run_agent({"--config", missing, "--daemonize", "--pid-file", pid_file_}),
                 "cannot read the config file '" + missing + "'");
  expect_refused(
      run_agent({"--daemonize", "--pid-file", pid_file_}, {"AXION_AGENT_CONFIG=" + missing}),
      "cannot read the config file '" + missing + "'");
  expect_refused(run_agent({"--config", config_, "--daemonize"}), "needs --pid-file");
  const std::string typo = (dir_ / "typo.conf").string();
  write_text(typo, read_text(config_) + "sever = \"127.0.0.1:1\"\n");
  expect_refused(run_agent({"--config", typo, "--daemonize", "--pid-file", pid_file_}), "sever");
}

TEST_F(AgentDaemonTest, APidFileNamingAnotherProcessNeverGetsItKilled) {
  OwnProcess sleeper("sleep", "300");
  ASSERT_GT(sleeper.pid, 0);
  std::optional<std::uint64_t> born;
  ASSERT_TRUE(eventually([&] { return (born = process_start_time(sleeper.pid)).has_value(); }));
  // The sleeper's pid with another start time: what a reused pid looks like.
  const std::string stale = std::to_string(sleeper.pid) + "\n" + std::to_string(*born + 1) + "\n";
  write_text(pid_file_, stale);
  const AgentRun stop = run_agent({"--stop", "--pid-file", pid_file_});
  EXPECT_EQ(stop.exit_code, 0) << stop.output;
  EXPECT_NE(stop.output.find("nothing to stop"), std::string::npos) << stop.output;
  EXPECT_FALSE(fs::exists(pid_file_));
  EXPECT_TRUE(process_alive(sleeper.pid, *born));

  write_text(pid_file_, stale);
  PidFileEntry supervisor, agent;
  ASSERT_NO_FATAL_FAILURE(start(&supervisor, &agent));
  EXPECT_NE(supervisor.pid, sleeper.pid);
  EXPECT_TRUE(process_alive(sleeper.pid, *born));
  expect_stopped(supervisor, agent);
  EXPECT_TRUE(process_alive(sleeper.pid, *born));

  // A pid that no longer exists at all.
  OwnProcess finished("true", "");
  waitpid(finished.pid, nullptr, 0);
  write_text(pid_file_, std::to_string(std::exchange(finished.pid, -1)) + "\n12345\n");
  const AgentRun stop_dead = run_agent({"--stop", "--pid-file", pid_file_});
  EXPECT_EQ(stop_dead.exit_code, 0) << stop_dead.output;
  EXPECT_NE(stop_dead.output.find("nothing to stop"), std::string::npos) << stop_dead.output;
  EXPECT_TRUE(process_alive(sleeper.pid, *born));
}

}  // namespace
