// common/histogram.h: `le` bucket boundaries (inclusive), cumulative snapshots ending at the
// count, the sum, NaN left out, and observations from several threads at once (run under
// ThreadSanitizer by scripts/test's tsan pass).
#include "common/histogram.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace axion {
namespace {

TEST(Histogram, AValueOnABoundCountsInThatBucketAndAboveTheLastInInf) {
  Histogram h({0.1, 1, 10});
  h.observe(0.1);   // le="0.1" is inclusive
  h.observe(0.05);  // below the first bound
  h.observe(0.1000001);
  h.observe(1);
  h.observe(10);
  h.observe(10.5);  // only +Inf
  h.observe(-3);    // below every bound: the first bucket
  const auto s = h.snapshot();
  EXPECT_EQ(s.upper_bounds, (std::vector<double>{0.1, 1, 10}));
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{3, 5, 6, 7}));
  EXPECT_EQ(s.count, 7u);
  EXPECT_DOUBLE_EQ(s.sum, 0.1 + 0.05 + 0.1000001 + 1 + 10 + 10.5 - 3);
}

TEST(Histogram, AnEmptyHistogramHasZeroBucketsSumAndCount) {
  const auto s = Histogram(Histogram::latency_seconds_buckets()).snapshot();
  EXPECT_EQ(s.cumulative.size(), s.upper_bounds.size() + 1);
  for (auto c : s.cumulative) EXPECT_EQ(c, 0u);
  EXPECT_EQ(s.count, 0u);
  EXPECT_EQ(s.sum, 0.0);
}

TEST(Histogram, NaNIsLeftOutOfBucketsAndSum) {
  Histogram h({1});
  h.observe(std::numeric_limits<double>::quiet_NaN());
  h.observe(0.5);
  const auto s = h.snapshot();
  EXPECT_EQ(s.count, 1u);
  EXPECT_EQ(s.sum, 0.5);
}

TEST(Histogram, LatencyBucketsStrictlyIncrease) {
  const auto b = Histogram::latency_seconds_buckets();
  ASSERT_FALSE(b.empty());
  for (std::size_t i = 1; i < b.size(); ++i) EXPECT_LT(b[i - 1], b[i]);
}

TEST(Histogram, ConcurrentObservationsAreAllCountedAndSnapshotsStayConsistent) {
  Histogram h({1, 2, 3});
  constexpr int kThreads = 4, kEach = 20000;
  std::atomic<bool> done{false};
  // A reader snapshots while the writers run: buckets never decrease and end at the count.
  std::thread reader([&] {
    while (!done.load()) {
      const auto s = h.snapshot();
      for (std::size_t i = 1; i < s.cumulative.size(); ++i) {
        ASSERT_LE(s.cumulative[i - 1], s.cumulative[i]);
      }
      ASSERT_EQ(s.cumulative.back(), s.count);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&h, t] {
      for (int i = 0; i < kEach; ++i) h.observe(static_cast<double>((i + t) % 4) + 0.5);
    });
  }
  for (auto& w : writers) w.join();
  done = true;
  reader.join();
  const auto s = h.snapshot();
  EXPECT_EQ(s.count, std::uint64_t{kThreads} * kEach);
  // Each value 0.5, 1.5, 2.5, 3.5 a quarter of the time: one per bucket.
  EXPECT_EQ(s.cumulative, (std::vector<std::uint64_t>{20000, 40000, 60000, 80000}));
  EXPECT_DOUBLE_EQ(s.sum, 20000 * (0.5 + 1.5 + 2.5 + 3.5));
}

}  // namespace
}  // namespace axion
