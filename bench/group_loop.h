// Group commit for the benchmarks' raw baselines: callers queue items; one loop thread takes
// everything queued since its last round, hands it to `commit` (one durable write for all), and
// calls each item's `done` with commit's answer ("" or the error). Used by the raw Kafka producer
// (bench/raw_kafka.h) and the raw RocksDB writer (bench/commands_raw.cc).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

namespace axion::bench {

// Called once the item's round ended: "" if it is durable, else why not.
using GroupDone = std::function<void(const std::string& error)>;

// Item: any type with a `GroupDone done` member.
template <typename Item>
class GroupLoop {
 public:
  using Commit = std::function<std::string(const std::deque<Item>& round)>;

  explicit GroupLoop(Commit commit) : commit_(std::move(commit)) {}
  // Ends after what is queued (see stop()).
  ~GroupLoop() { stop(); }
  GroupLoop(const GroupLoop&) = delete;
  GroupLoop& operator=(const GroupLoop&) = delete;

  void start() {
    loop_ = std::thread([this] { run(); });
  }

  // Commits what is queued, then ends the loop; later pushes get "stopping" at once.
  void stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    cv_.notify_all();
    if (loop_.joinable()) loop_.join();
  }

  void push(Item item) {
    {
      std::lock_guard lock(mu_);
      if (!stopping_) {
        queue_.push_back(std::move(item));
        cv_.notify_one();
        return;
      }
    }
    item.done("stopping");
  }

 private:
  void run() {
    for (;;) {
      std::deque<Item> round;
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        round.swap(queue_);
      }
      const std::string error = commit_(round);
      for (Item& item : round) item.done(error);
    }
  }

  const Commit commit_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  bool stopping_ = false;
  std::thread loop_;
};

}  // namespace axion::bench
