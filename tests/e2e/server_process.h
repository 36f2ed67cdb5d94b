// Helpers for end-to-end tests that run the real axion-server binary: a free loopback port, a
// server process with its own environment and captured stderr, and waiting for readiness.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/log_backends.h"
#include "tests/support/free_port.h"

extern char** environ;

namespace axion::testing {

using std::chrono::milliseconds;

// A running axion-server with its own environment; stderr goes to a file we can read.
// The master key of the test servers (AXION_MASTER_KEY): 32 bytes, base64.
inline const std::string kTestMasterKey =
    "AXION_MASTER_KEY=test=dGVzdC1tYXN0ZXIta2V5LW9mLTMyLWJ5dGVzLW9rISE=";

class ServerProcess {
 public:
  explicit ServerProcess(std::vector<std::string> env_overrides) {
    log_path_ = scratch_dir("server-log") + "/stderr.log";
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) {
      std::string kv = *e;
      // Embedded log and views unless the test says otherwise.
      if (kv.rfind("KAFKA_BROKERS=", 0) == 0 || kv.rfind("DATABASE_URL=", 0) == 0) continue;
      env.push_back(kv);
    }
    // axion-server needs a master key; tests that are about it pass their own (or an empty one).
    const auto has_key = [](const std::vector<std::string>& list) {
      return std::any_of(list.begin(), list.end(),
                         [](const std::string& kv) { return kv.rfind("AXION_MASTER_KEY=", 0) == 0; });
    };
    if (!has_key(env) && !has_key(env_overrides)) env.push_back(kTestMasterKey);
    for (auto& kv : env_overrides) env.push_back(kv);
    std::vector<char*> envp;
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    std::string bin = AXION_SERVER_BIN;
    char* argv[] = {bin.data(), nullptr};
    if (posix_spawn(&pid_, bin.c_str(), &actions, nullptr, argv, envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~ServerProcess() {
    if (pid_ > 0 && !exited_) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  // Exit code, or -1 if still running after `timeout`.
  int wait_exit(milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exited_ = true;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(milliseconds(20));
    }
    return -1;
  }
  void signal(int sig) { kill(pid_, sig); }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
  bool exited_ = false;
  std::string log_path_;
};

inline bool wait_ready(httplib::Client& http, milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    auto res = http.Get("/readyz");
    if (res && res->status == 200) return true;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return false;
}

}  // namespace axion::testing
