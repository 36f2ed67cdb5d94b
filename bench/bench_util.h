// Small helpers for Axion's benchmark programs: a timed multi-writer harness with per-thread
// latency samples, percentiles, and the machine/date line every published figure carries.
#pragma once

#include <sys/utsname.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <functional>
#include <latch>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace axion::bench {

using Clock = std::chrono::steady_clock;

// Outcome of one cell: `writers` threads calling an operation in a loop for a fixed time.
struct CellResult {
  std::uint64_t ops = 0;     // successful operations
  std::uint64_t errors = 0;  // failed operations (not in ops nor in the latencies)
  std::string first_error;
  double seconds = 0;        // from the common start to the last writer's last completion
  double p50_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0;

  double per_second() const { return seconds > 0 ? static_cast<double>(ops) / seconds : 0; }
};

// One operation of writer `thread`, its `seq`-th call. Returns false and sets *error on failure.
using Operation = std::function<bool(int thread, std::uint64_t seq, std::string* error)>;

inline double percentile_ms(const std::vector<std::int64_t>& sorted_ns, double q) {
  if (sorted_ns.empty()) return 0;
  auto idx = static_cast<std::size_t>(q * static_cast<double>(sorted_ns.size() - 1) + 0.5);
  return static_cast<double>(sorted_ns[std::min(idx, sorted_ns.size() - 1)]) / 1e6;
}

// What one load thread of a cell saw: its successful calls' latencies, its failures, and when it
// finished.
struct ThreadSamples {
  std::vector<std::int64_t> lat_ns;
  std::uint64_t errors = 0;
  std::string first_error;
  Clock::time_point end;
};

// The cell's result from its threads' samples; the cell started at `start`.
inline CellResult merge_samples(const std::vector<ThreadSamples>& per, Clock::time_point start) {
  CellResult r;
  std::vector<std::int64_t> all;
  Clock::time_point last_end = start;
  for (const auto& p : per) {
    r.ops += p.lat_ns.size();
    r.errors += p.errors;
    if (r.first_error.empty()) r.first_error = p.first_error;
    all.insert(all.end(), p.lat_ns.begin(), p.lat_ns.end());
    last_end = std::max(last_end, p.end);
  }
  r.seconds = std::chrono::duration<double>(last_end - start).count();
  std::sort(all.begin(), all.end());
  r.p50_ms = percentile_ms(all, 0.50);
  r.p99_ms = percentile_ms(all, 0.99);
  r.p999_ms = percentile_ms(all, 0.999);
  r.max_ms = all.empty() ? 0 : static_cast<double>(all.back()) / 1e6;
  return r;
}

// Runs `op` from `writers` threads for `duration`. Every thread is started and waiting before
// the clock starts; each samples the steady_clock latency of its own calls; samples are merged
// after the threads end. A writer stops early after 100 failures.
inline CellResult run_cell(int writers, std::chrono::duration<double> duration, const Operation& op) {
  std::vector<ThreadSamples> per(static_cast<std::size_t>(writers));
  std::latch ready(writers);
  std::atomic<bool> go{false};
  Clock::time_point start{}, deadline{};
  std::vector<std::thread> threads;
  threads.reserve(per.size());
  for (int t = 0; t < writers; ++t) {
    threads.emplace_back([&, t] {
      ThreadSamples& me = per[static_cast<std::size_t>(t)];
      me.lat_ns.reserve(1 << 16);
      ready.count_down();
      go.wait(false);
      std::string error;
      std::uint64_t seq = 0;
      for (Clock::time_point now = Clock::now(); now < deadline;) {
        const Clock::time_point before = now;
        const bool ok = op(t, seq++, &error);
        now = Clock::now();
        if (ok) {
          me.lat_ns.push_back(std::chrono::duration_cast<std::chrono::nanoseconds>(now - before).count());
        } else {
          if (me.errors++ == 0) me.first_error = error;
          if (me.errors >= 100) break;
        }
      }
      me.end = Clock::now();
    });
  }
  ready.wait();
  start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(duration);
  go.store(true);
  go.notify_all();
  for (auto& th : threads) th.join();
  return merge_samples(per, start);
}

inline std::string random_bytes(std::mt19937_64& rng, std::size_t n) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

inline std::string read_first_line_with(const char* path, const std::string& prefix) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(prefix, 0) == 0) return line;
  }
  return {};
}

inline std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one;
  in >> one;
  return one.empty() ? "?" : one;
}

inline std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

// "2 cores, Intel(R) Xeon(R) Processor, Linux 6.1.0 x86_64" — the machine a figure belongs to.
inline std::string machine_description() {
  std::string model = read_first_line_with("/proc/cpuinfo", "model name");
  if (auto colon = model.find(':'); colon != std::string::npos) {
    model = model.substr(colon + 1);
    model.erase(0, model.find_first_not_of(" \t"));
  }
  if (model.empty()) model = "unknown CPU";
  utsname u{};
  std::string kernel = "unknown kernel";
  if (uname(&u) == 0) kernel = std::string(u.sysname) + " " + u.release + " " + u.machine;
  return std::to_string(std::thread::hardware_concurrency()) + " cores, " + model + ", " + kernel;
}

inline std::string fmt(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

// 123456.7 -> "123,457"
inline std::string thousands(double v) {
  std::string digits = std::to_string(static_cast<long long>(v + 0.5));
  std::string out;
  int n = 0;
  for (auto it = digits.rbegin(); it != digits.rend(); ++it) {
    if (n > 0 && n % 3 == 0 && *it != '-') out.insert(out.begin(), ',');
    out.insert(out.begin(), *it);
    ++n;
  }
  return out;
}

}  // namespace axion::bench
