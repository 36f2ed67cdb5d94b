#include "commands/decision.h"

#include <cstdio>

namespace axion::commands {

namespace {

// FNV-1a, 64 bit: stable across platforms and runs (std::hash is not).
std::uint64_t fnv1a(const std::string& data, std::uint64_t basis) {
  std::uint64_t h = basis;
  for (unsigned char c : data) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

std::string derive_id(const std::string& prefix, const std::string& command_id,
                      const std::string& salt) {
  const std::string input = command_id + '\0' + salt;
  const std::uint64_t a = fnv1a(input, 0xcbf29ce484222325ULL);
  const std::uint64_t b = fnv1a(input, 0x84222325cbf29ce4ULL);
  char hex[41];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return prefix + "-" + std::string(hex, 20);
}

}  // namespace axion::commands
