#include "sagas/placement.h"

#include <algorithm>
#include <tuple>

namespace axion::sagas {

namespace v1 = axion::v1;

namespace {

std::uint32_t replicas_of(const v1::Service& s) { return s.replicas() == 0 ? 1 : s.replicas(); }

}  // namespace

Result<Placement> place_services(const v1::GraphVersion& graph, std::vector<ServerSlot> servers) {
  std::erase_if(servers, [](const ServerSlot& s) { return !s.online; });
  if (servers.empty()) {
    return failed_precondition(
        "no server of the cluster has an ONLINE agent: install or start "
        "an agent (or choose another cluster) and deploy again");
  }
  std::vector<const v1::Service*> order;
  for (const auto& s : graph.services()) order.push_back(&s);
  std::sort(order.begin(), order.end(), [](const v1::Service* a, const v1::Service* b) {
    return std::make_tuple(b->resources().memory_mb(), b->resources().cpu_millis(), a->name()) <
           std::make_tuple(a->resources().memory_mb(), a->resources().cpu_millis(), b->name());
  });

  Placement placement;
  for (const v1::Service* s : order) {
    const std::uint64_t mem = s->resources().memory_mb();
    const std::uint32_t cpu = s->resources().cpu_millis();
    auto& out = placement[s->name()];
    std::map<std::string, std::uint32_t> mine;  // replicas of this service per server
    for (std::uint32_t r = 0; r < replicas_of(*s); ++r) {
      ServerSlot* best = nullptr;
      for (auto& slot : servers) {
        if (slot.memory_mb_free < mem || slot.cpu_millis_free < cpu) continue;
        const auto key = [&](const ServerSlot& x) {
          return std::make_tuple(mine[x.server_id], ~x.memory_mb_free, ~x.cpu_millis_free,
                                 x.server_id);
        };
        if (!best || key(slot) < key(*best)) best = &slot;
      }
      if (!best) {
        std::uint64_t most_mem = 0;
        std::uint32_t most_cpu = 0;
        for (const auto& slot : servers) {
          most_mem = std::max(most_mem, slot.memory_mb_free);
          most_cpu = std::max(most_cpu, slot.cpu_millis_free);
        }
        return failed_precondition(
            "service '" + s->name() + "' replica " + std::to_string(r + 1) + " of " +
            std::to_string(replicas_of(*s)) + " needs " + std::to_string(cpu) + "m CPU and " +
            std::to_string(mem) + " MiB; no ONLINE server has that free (at most " +
            std::to_string(most_cpu) + "m CPU, " + std::to_string(most_mem) +
            " MiB): add servers, free capacity or lower the service's resources or replicas");
      }
      best->memory_mb_free -= mem;
      best->cpu_millis_free -= cpu;
      ++mine[best->server_id];
      out.add_server_ids(best->server_id);
    }
  }
  return placement;
}

}  // namespace axion::sagas
