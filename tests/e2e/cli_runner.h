// Runs the real `axion` command line (and other programs, such as tmux) as processes for
// end-to-end tests: posix_spawn with an argv array (never a shell string) and an environment of
// the test's choosing; stdout and stderr land in files, so a command still running can be read
// while a test acts elsewhere.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/log_backends.h"

extern char** environ;

namespace axion::testing {

struct CliResult {
  int exit = -1;  // the exit code; 128 + signal if killed; -1 if it did not end in time
  std::string out, err;
  // For failure messages: everything the command said.
  std::string said() const {
    return "exit " + std::to_string(exit) + "\n--- stdout:\n" + out + "\n--- stderr:\n" + err;
  }
};

class CommandProcess {
 public:
  // Starts `program` (a path, or a name looked up in PATH) with `args`. `env` ("NAME=value") is set
  // on top of this process's environment without its AXION_ADDR and AXION_TOKEN, so only what a
  // test passes reaches it.
  CommandProcess(const std::string& program, const std::vector<std::string>& args,
                 std::vector<std::string> env) {
    const std::string dir = scratch_dir("cli");
    out_path_ = dir + "/stdout";
    err_path_ = dir + "/stderr";
    for (char** e = environ; *e; ++e) {
      const std::string kv = *e;
      if (kv.rfind("AXION_ADDR=", 0) == 0 || kv.rfind("AXION_TOKEN=", 0) == 0) continue;
      env.push_back(kv);
    }
    std::vector<char*> envp;
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    std::vector<std::string> argv_text = {program};
    argv_text.insert(argv_text.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : argv_text) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    if (posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  CommandProcess(const CommandProcess&) = delete;
  CommandProcess& operator=(const CommandProcess&) = delete;
  ~CommandProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Waits for the command to end; kills it after `timeout` (exit -1 then).
  CliResult wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(180000)) {
    CliResult r;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (pid_ > 0 && !exited_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        exit_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      if (std::chrono::steady_clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        exited_ = true;
        exit_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    r.exit = exit_;
    r.out = out();
    r.err = slurp(err_path_);
    return r;
  }

  // What it printed on stdout so far.
  std::string out() const { return slurp(out_path_); }

 private:
  static std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  pid_t pid_ = -1;
  bool exited_ = false;
  int exit_ = -1;
  std::string out_path_, err_path_;
};

// Runs `program` to its end (see CommandProcess); killed after `timeout` (exit -1 then).
inline CliResult run_program(const std::string& program, const std::vector<std::string>& args,
                             std::vector<std::string> env = {},
                             std::chrono::milliseconds timeout = std::chrono::milliseconds(180000)) {
  return CommandProcess(program, args, std::move(env)).wait(timeout);
}

#ifdef AXION_CLI_BIN
// The `axion` command (AXION_CLI_BIN).
class CliProcess : public CommandProcess {
 public:
  CliProcess(const std::vector<std::string>& args, std::vector<std::string> env)
      : CommandProcess(AXION_CLI_BIN, args, std::move(env)) {}
};

inline CliResult run_cli(const std::vector<std::string>& args, std::vector<std::string> env = {},
                         std::chrono::milliseconds timeout = std::chrono::milliseconds(180000)) {
  return CliProcess(args, std::move(env)).wait(timeout);
}
#endif

// `text` as one single-quoted POSIX shell word (for the one string tmux hands its shell).
inline std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace axion::testing
