// wall_clock_ms(): milliseconds since the Unix epoch by the system clock — for timestamps that
// are recorded or compared across processes (event times, TTLs), never for measuring durations
// (use steady_clock for those).
#pragma once

#include <chrono>
#include <cstdint>

namespace axion {

inline std::int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace axion
