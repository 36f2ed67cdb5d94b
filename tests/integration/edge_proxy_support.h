// Helpers for the edge proxy test: a running axion-test-service, a free TCP port, a short
// scratch directory (unix socket paths are limited to ~100 characters), a TaskSink that keeps
// the updates, and a load generator that sends GETs through the proxy and counts what answers.
#pragma once

#include <fcntl.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "agent/runtime.h"
#include "tests/support/free_port.h"

extern char** environ;

namespace axion::testing {

using std::chrono::milliseconds;

inline bool eventually(const std::function<bool()>& condition,
                       milliseconds timeout = milliseconds(60000)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return condition();
}

// mkdtemp under $AXION_TEST_RUN_DIR or /tmp; removed by the destructor.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("AXION_TEST_RUN_DIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/ep-XXXXXX";
    if (mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// axion-test-service --version <version> [extra args] with AXION_INSTANCE_ID=<instance>, on a
// free port.
class TestService {
 public:
  TestService(const std::string& version, const std::string& instance,
              const std::vector<std::string>& extra_args = {}) {
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0) return;
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    env.push_back("AXION_INSTANCE_ID=" + instance);
    std::vector<char*> envp;
    for (auto& kv : env) envp.push_back(kv.data());
    envp.push_back(nullptr);
    std::vector<std::string> args = {AXION_TEST_SERVICE_BIN, "--version", version};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    // "axion-test-service <version> listening on <port>"
    std::string line;
    char c = 0;
    while (pid_ > 0 && read(out[0], &c, 1) == 1 && c != '\n') line += c;
    out_ = out[0];  // kept open: the service prints once more when it stops
    const auto at = line.rfind(' ');
    if (line.find("listening on") != std::string::npos && at != std::string::npos) {
      port_ = std::atoi(line.c_str() + at + 1);
    }
  }
  ~TestService() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
    if (out_ >= 0) close(out_);
  }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
  int port_ = 0;
};

// Keeps every update; waits for a task's terminal one.
class RecordingSink : public agent::TaskSink {
 public:
  void update(const axion::v1::TaskUpdate& u) override {
    std::lock_guard lock(mu_);
    updates_.push_back(u);
    changed_.notify_all();
  }
  // The terminal update of `task_id`, or one with state UNSPECIFIED after `timeout`.
  axion::v1::TaskUpdate wait_terminal(const std::string& task_id,
                                      milliseconds timeout = milliseconds(90000)) {
    std::unique_lock lock(mu_);
    axion::v1::TaskUpdate found;
    changed_.wait_for(lock, timeout, [&] {
      for (const auto& u : updates_) {
        if (u.task_id() == task_id && u.state() >= axion::v1::TASK_STATE_SUCCEEDED) {
          found = u;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  std::vector<axion::v1::TaskUpdate> of(const std::string& task_id) {
    std::lock_guard lock(mu_);
    std::vector<axion::v1::TaskUpdate> out;
    for (const auto& u : updates_) {
      if (u.task_id() == task_id) out.push_back(u);
    }
    return out;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<axion::v1::TaskUpdate> updates_;
};

// The version that answered GET / ("v1 instance\n" -> "v1"), or "" with `error` set.
inline std::string get_version(httplib::Client& client, std::string& error) {
  auto res = client.Get("/");
  if (!res) {
    error = "request failed: " + httplib::to_string(res.error());
    return "";
  }
  if (res->status != 200) {
    error = "HTTP " + std::to_string(res->status) + ": " + res->body;
    return "";
  }
  return res->body.substr(0, res->body.find(' '));
}

inline std::string get_version_once(int port) {
  httplib::Client client("127.0.0.1", port);
  client.set_connection_timeout(5);
  client.set_read_timeout(10);
  std::string error;
  const std::string version = get_version(client, error);
  return version.empty() ? error : version;
}

// Threads sending GET / through the proxy without pause: half keep one connection alive, half
// open a fresh connection per request. Counts answers by version and every failure.
class LoadGenerator {
 public:
  LoadGenerator(int port, int threads) {
    for (int i = 0; i < threads; ++i) {
      threads_.emplace_back([this, port, keep_alive = i % 2 == 0] { run(port, keep_alive); });
    }
  }
  ~LoadGenerator() { stop(); }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  long total() {
    std::lock_guard lock(mu_);
    long n = failures_;
    for (const auto& [v, c] : by_version_) n += c;
    return n;
  }
  long answered_by(const std::string& version) {
    std::lock_guard lock(mu_);
    return by_version_.count(version) ? by_version_[version] : 0;
  }
  long failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }
  std::vector<std::string> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }

 private:
  void run(int port, bool keep_alive) {
    auto client = std::make_unique<httplib::Client>("127.0.0.1", port);
    while (!stop_) {
      if (!keep_alive) client = std::make_unique<httplib::Client>("127.0.0.1", port);
      client->set_keep_alive(keep_alive);
      client->set_connection_timeout(5);
      client->set_read_timeout(10);
      std::string error;
      const std::string version = get_version(*client, error);
      {
        std::lock_guard lock(mu_);
        if (version.empty()) {
          ++failures_;
          if (errors_.size() < 20) {
            errors_.push_back(std::string(keep_alive ? "keep-alive: " : "fresh: ") + error);
          }
        } else {
          ++by_version_[version];
        }
      }
      // Paced, not flat out: every connection leaves a TIME_WAIT entry, and an unpaced loop
      // runs the loopback out of ephemeral ports within a minute (connects then fail, and
      // HAProxy's health checks with them) — a failure of the test rig, not of the proxy.
      std::this_thread::sleep_for(milliseconds(keep_alive ? 1 : 4));
    }
  }

  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::map<std::string, long> by_version_;
  long failures_ = 0;
  std::vector<std::string> errors_;
  std::vector<std::thread> threads_;
};

}  // namespace axion::testing
