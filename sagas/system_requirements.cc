#include "sagas/system_requirements.h"

#include <algorithm>

namespace axion::sagas {

namespace v1 = axion::v1;

namespace {

void add(v1::Resources& to, const v1::Resources& r, std::uint64_t times = 1) {
  to.set_cpu_millis(to.cpu_millis() + static_cast<std::uint32_t>(r.cpu_millis() * times));
  to.set_memory_mb(to.memory_mb() + r.memory_mb() * times);
  to.set_disk_mb(to.disk_mb() + r.disk_mb() * times);
}

void at_least(v1::Resources& to, const v1::Resources& r) {
  to.set_cpu_millis(std::max(to.cpu_millis(), r.cpu_millis()));
  to.set_memory_mb(std::max(to.memory_mb(), r.memory_mb()));
  to.set_disk_mb(std::max(to.disk_mb(), r.disk_mb()));
}

v1::Resources agent() {
  v1::Resources a;
  a.set_cpu_millis(kAgentCpuMillis);
  a.set_memory_mb(kAgentMemoryMb);
  a.set_disk_mb(kAgentDiskMb);
  return a;
}

bool known(const v1::Resources& r) {
  return r.cpu_millis() > 0 || r.memory_mb() > 0 || r.disk_mb() > 0;
}

// "memory: the peak needs 6144 MiB, the cluster has 4000 MiB after the agents' share".
void check(const char* what, const char* unit, std::uint64_t need, std::uint64_t have,
           std::vector<std::string>& shortfalls) {
  if (need <= have) return;
  shortfalls.push_back(std::string(what) + ": the deployment peak needs " + std::to_string(need) +
                       " " + unit + ", the cluster has " + std::to_string(have) + " " + unit +
                       " beside its agents");
}

}  // namespace

v1::SystemRequirements calculate_system_requirements(const v1::GraphVersion& graph,
                                                     const v1::Strategy& strategy,
                                                     const std::vector<ServerCapacity>* cluster) {
  v1::SystemRequirements out;
  v1::Resources steady, largest_batch, largest_replica;
  std::uint32_t most_replicas = 1;
  std::vector<std::string> unsized;
  const std::uint32_t batch =
      strategy.has_rolling() && strategy.rolling().batch_size() > 0 ? strategy.rolling().batch_size()
                                                                     : 1;
  for (const auto& s : graph.services()) {
    const std::uint32_t replicas = std::max<std::uint32_t>(1, s.replicas());
    most_replicas = std::max(most_replicas, replicas);
    (*out.mutable_per_service())[s.name()] = s.resources();
    add(steady, s.resources(), replicas);
    v1::Resources one_batch;
    add(one_batch, s.resources(), std::min(batch, replicas));
    if (one_batch.memory_mb() > largest_batch.memory_mb() ||
        (one_batch.memory_mb() == largest_batch.memory_mb() &&
         one_batch.cpu_millis() > largest_batch.cpu_millis()))
      largest_batch = one_batch;
    at_least(largest_replica, s.resources());
    if (!known(s.resources())) unsized.push_back(s.name());
    if (s.has_build() || (!s.image().empty() && s.command().empty() && s.args().empty()))
      out.set_requires_docker(true);
  }
  *out.mutable_steady() = steady;
  v1::Resources peak = steady;
  if (strategy.has_canary() || strategy.has_blue_green())
    add(peak, steady);
  else
    add(peak, largest_batch);
  *out.mutable_peak() = peak;
  v1::Resources min_server = largest_replica;
  add(min_server, agent());
  *out.mutable_min_server() = min_server;
  out.set_recommended_servers(most_replicas);
  std::vector<std::string> shortfalls;
  if (!unsized.empty()) {
    std::string names;
    for (const auto& n : unsized) names += (names.empty() ? "" : ", ") + n;
    shortfalls.push_back("no resources declared for " + names +
                         " (counted as nothing: declare them to size the servers)");
  }
  bool fits = false;
  if (cluster) {
    v1::Resources free;
    bool one_fits_largest = false;
    std::size_t usable = 0;
    for (const auto& server : *cluster) {
      if (!known(server.capacity)) {
        shortfalls.push_back("server " + server.name +
                             ": capacity unknown (test its connection or install its agent)");
        continue;
      }
      ++usable;
      const auto& c = server.capacity;
      free.set_cpu_millis(free.cpu_millis() + (c.cpu_millis() > kAgentCpuMillis
                                                   ? c.cpu_millis() - kAgentCpuMillis
                                                   : 0));
      free.set_memory_mb(free.memory_mb() +
                         (c.memory_mb() > kAgentMemoryMb ? c.memory_mb() - kAgentMemoryMb : 0));
      free.set_disk_mb(free.disk_mb() +
                       (c.disk_mb() > kAgentDiskMb ? c.disk_mb() - kAgentDiskMb : 0));
      one_fits_largest = one_fits_largest || (c.cpu_millis() >= min_server.cpu_millis() &&
                                              c.memory_mb() >= min_server.memory_mb() &&
                                              c.disk_mb() >= min_server.disk_mb());
    }
    const std::size_t before = shortfalls.size();
    if (usable == 0) shortfalls.push_back("the cluster has no server of known capacity");
    check("CPU", "millicores", peak.cpu_millis(), free.cpu_millis(), shortfalls);
    check("memory", "MiB", peak.memory_mb(), free.memory_mb(), shortfalls);
    check("disk", "MiB", peak.disk_mb(), free.disk_mb(), shortfalls);
    if (usable > 0 && !one_fits_largest)
      shortfalls.push_back("no server can hold the largest replica with the agent beside it (" +
                           std::to_string(min_server.cpu_millis()) + " millicores, " +
                           std::to_string(min_server.memory_mb()) + " MiB, " +
                           std::to_string(min_server.disk_mb()) + " MiB disk)");
    fits = usable > 0 && shortfalls.size() == before;
  }
  out.set_fits(fits);
  for (auto& s : shortfalls) out.add_shortfalls(std::move(s));
  return out;
}

}  // namespace axion::sagas
