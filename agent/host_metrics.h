// What the agent reports about its host: facts once per connection (Hello) and load with every
// heartbeat — CPU from the difference of two /proc/stat samples, memory from /proc/meminfo
// (MemTotal - MemAvailable), disk from statvfs of the agent's data volume.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>

#include "axion/v1/agent.pb.h"
#include "axion/v1/infrastructure.pb.h"

namespace axion::agent {

// Parsed /proc content, so the arithmetic is testable on fixed text.
struct CpuTimes {
  std::uint64_t busy = 0;
  std::uint64_t total = 0;
};
// The aggregate "cpu" line of /proc/stat; zeros if absent.
CpuTimes parse_proc_stat(const std::string& text);
// CPU use in percent (0..100) between two samples; 0 if no time passed.
double cpu_percent(const CpuTimes& before, const CpuTimes& after);
struct MemInfo {
  std::uint64_t total_kb = 0;
  std::uint64_t available_kb = 0;
};
MemInfo parse_meminfo(const std::string& text);

class HostSampler {
 public:
  // `data_path`: the directory whose volume's disk use is reported.
  explicit HostSampler(std::string data_path);

  axion::v1::HostFacts facts() const;
  // Load now; CPU use is measured since the previous call (or since construction).
  axion::v1::AgentHeartbeat sample();

 private:
  const std::string data_path_;
  std::mutex mu_;
  CpuTimes last_cpu_;
};

}  // namespace axion::agent
