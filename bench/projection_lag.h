// Per-event projection lag (view commit time minus the event's occurred_at) collected from a
// ProjectionProcessor's stats while load runs: every 100 ms a thread takes the lags of the
// events applied since the last look (ProjectionStats::recent_lag_ms keeps the last 4096), so
// each event counts once as long as fewer than 4096 are applied per 100 ms.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "projections/projection_processor.h"

namespace axion::bench {

class LagSampler {
 public:
  using StatsFn = std::function<projections::ProjectionStats()>;

  explicit LagSampler(StatsFn stats) : stats_(std::move(stats)) { seen_ = stats_().events_applied; }
  ~LagSampler() { stop(); }
  LagSampler(const LagSampler&) = delete;
  LagSampler& operator=(const LagSampler&) = delete;

  // Samples on a thread of its own until stop().
  void start() {
    running_ = true;
    thread_ = std::thread([this] {
      while (running_) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        sample();
      }
    });
  }
  // Takes a last sample; the samples come back sorted.
  std::vector<std::int64_t> stop() {
    if (thread_.joinable()) {
      running_ = false;
      thread_.join();
    }
    sample();
    std::sort(samples_.begin(), samples_.end());
    return samples_;
  }
  // One look, for callers that pace the sampling themselves.
  void sample() {
    const auto stats = stats_();
    const std::uint64_t fresh = stats.events_applied - seen_;
    seen_ = stats.events_applied;
    const std::size_t take = std::min<std::size_t>(fresh, stats.recent_lag_ms.size());
    samples_.insert(samples_.end(),
                    stats.recent_lag_ms.end() - static_cast<std::ptrdiff_t>(take),
                    stats.recent_lag_ms.end());
  }

 private:
  StatsFn stats_;
  std::uint64_t seen_ = 0;
  std::vector<std::int64_t> samples_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

// The q-quantile (0..1) of sorted millisecond samples; 0 for none.
inline std::int64_t quantile_ms(const std::vector<std::int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

}  // namespace axion::bench
