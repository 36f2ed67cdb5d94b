#include "agent/host_metrics.h"

#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>

namespace axion::agent {

namespace {

std::string read_all(const char* path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string unquote(std::string v) {
  if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'')) v = v.substr(1, v.size() - 2);
  return v;
}

constexpr std::uint64_t kMiB = 1024 * 1024;

}  // namespace

CpuTimes parse_proc_stat(const std::string& text) {
  std::istringstream in(text);
  std::string label;
  while (in >> label) {
    if (label != "cpu") {
      std::string rest;
      std::getline(in, rest);
      continue;
    }
    std::string line;
    std::getline(in, line);
    std::istringstream fields(line);
    // user nice system idle iowait irq softirq steal (guest times are inside user/nice)
    std::uint64_t v[8] = {};
    for (auto& x : v) fields >> x;
    CpuTimes t;
    for (auto x : v) t.total += x;
    t.busy = t.total - v[3] - v[4];
    return t;
  }
  return {};
}

double cpu_percent(const CpuTimes& before, const CpuTimes& after) {
  if (after.total <= before.total || after.busy < before.busy) return 0.0;
  const double busy = static_cast<double>(after.busy - before.busy);
  const double total = static_cast<double>(after.total - before.total);
  return std::min(100.0, 100.0 * busy / total);
}

MemInfo parse_meminfo(const std::string& text) {
  std::istringstream in(text);
  std::string key;
  std::uint64_t value = 0;
  std::string unit;
  MemInfo m;
  while (in >> key >> value) {
    std::getline(in, unit);
    if (key == "MemTotal:") m.total_kb = value;
    if (key == "MemAvailable:") m.available_kb = value;
  }
  return m;
}

HostSampler::HostSampler(std::string data_path)
    : data_path_(std::move(data_path)), last_cpu_(parse_proc_stat(read_all("/proc/stat"))) {}

axion::v1::HostFacts HostSampler::facts() const {
  axion::v1::HostFacts f;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) == 0) f.set_hostname(host);
  utsname u{};
  if (uname(&u) == 0) {
    f.set_arch(u.machine);
    f.set_kernel(u.release);
  }
  std::istringstream os(read_all("/etc/os-release"));
  std::string line, id, version;
  while (std::getline(os, line)) {
    if (line.rfind("ID=", 0) == 0) id = unquote(line.substr(3));
    if (line.rfind("VERSION_ID=", 0) == 0) version = unquote(line.substr(11));
  }
  f.set_os(version.empty() ? id : id + " " + version);
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  f.set_cpus(cpus > 0 ? static_cast<std::uint32_t>(cpus) : 0);
  f.set_memory_mb(parse_meminfo(read_all("/proc/meminfo")).total_kb / 1024);
  struct statvfs fs {};
  if (statvfs(data_path_.c_str(), &fs) == 0) {
    f.set_disk_mb(static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize / kMiB);
  }
  return f;
}

axion::v1::AgentHeartbeat HostSampler::sample() {
  axion::v1::AgentHeartbeat hb;
  const CpuTimes now = parse_proc_stat(read_all("/proc/stat"));
  {
    std::lock_guard lock(mu_);
    hb.set_cpu_percent(cpu_percent(last_cpu_, now));
    last_cpu_ = now;
  }
  const MemInfo mem = parse_meminfo(read_all("/proc/meminfo"));
  hb.set_memory_total_mb(mem.total_kb / 1024);
  hb.set_memory_used_mb((mem.total_kb - std::min(mem.available_kb, mem.total_kb)) / 1024);
  struct statvfs fs {};
  if (statvfs(data_path_.c_str(), &fs) == 0) {
    const std::uint64_t total = static_cast<std::uint64_t>(fs.f_blocks) * fs.f_frsize;
    const std::uint64_t free = static_cast<std::uint64_t>(fs.f_bfree) * fs.f_frsize;
    hb.set_disk_total_mb(total / kMiB);
    hb.set_disk_used_mb((total - free) / kMiB);
  }
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  hb.mutable_at()->set_seconds(ms / 1000);
  hb.mutable_at()->set_nanos(static_cast<std::int32_t>((ms % 1000) * 1000000));
  return hb;
}

}  // namespace axion::agent
