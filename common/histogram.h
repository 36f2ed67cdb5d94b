// Histogram: a fixed-bucket distribution of observed values (latencies in seconds, mostly) that
// any thread may feed and any thread may read, for Prometheus histograms. observe() is
// lock-free (relaxed atomics: one bucket increment and a sum update); snapshot() derives the
// count from the bucket counts it read, so a snapshot's cumulative buckets always end at its
// count even while observations race with it (the sum may lag or lead them by those few).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

namespace axion {

class Histogram {
 public:
  // REQUIRES: `upper_bounds` finite and strictly increasing (asserted); the +Inf bucket is
  // implicit. A value v falls in the first bucket whose bound b satisfies v <= b (Prometheus'
  // `le`).
  explicit Histogram(std::vector<double> upper_bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  // 0.5 ms .. 10 s, roughly x2.5 apart: append and command latencies.
  static std::vector<double> latency_seconds_buckets();

  // Thread-safe, lock-free. A NaN is ignored (it has no bucket and would poison the sum).
  void observe(double value);

  struct Snapshot {
    std::vector<double> upper_bounds;       // without +Inf
    std::vector<std::uint64_t> cumulative;  // upper_bounds.size() + 1 entries; the last is +Inf
    double sum = 0;
    std::uint64_t count = 0;  // == cumulative.back()
  };
  // Thread-safe; a consistent count and buckets (see the file comment).
  Snapshot snapshot() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<std::uint64_t>[]> counts_;  // per bucket (not cumulative) + +Inf
  std::atomic<double> sum_{0};
};

}  // namespace axion
