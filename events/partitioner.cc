#include "events/partitioner.h"

#include <cassert>

namespace axion::events {

std::int32_t kafka_murmur2(std::string_view data) {
  // Transcribed from Kafka's Utils.murmur2; unsigned arithmetic reproduces Java's int wrap-around
  // and >>> (logical shift).
  const auto length = static_cast<std::uint32_t>(data.size());
  const std::uint32_t seed = 0x9747b28c;
  const std::uint32_t m = 0x5bd1e995;
  const int r = 24;
  std::uint32_t h = seed ^ length;
  const std::uint32_t length4 = length / 4;
  const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
  for (std::uint32_t i = 0; i < length4; ++i) {
    const std::uint32_t i4 = i * 4;
    std::uint32_t k = static_cast<std::uint32_t>(bytes[i4 + 0]) |
                      (static_cast<std::uint32_t>(bytes[i4 + 1]) << 8) |
                      (static_cast<std::uint32_t>(bytes[i4 + 2]) << 16) |
                      (static_cast<std::uint32_t>(bytes[i4 + 3]) << 24);
    k *= m;
    k ^= k >> r;
    k *= m;
    h *= m;
    h ^= k;
  }
  const std::uint32_t tail = length & ~3u;
  switch (length % 4) {
    case 3: h ^= static_cast<std::uint32_t>(bytes[tail + 2]) << 16; [[fallthrough]];
    case 2: h ^= static_cast<std::uint32_t>(bytes[tail + 1]) << 8; [[fallthrough]];
    case 1:
      h ^= static_cast<std::uint32_t>(bytes[tail]);
      h *= m;
  }
  h ^= h >> 13;
  h *= m;
  h ^= h >> 15;
  return static_cast<std::int32_t>(h);
}

std::int32_t partition_for_key(std::string_view key, std::int32_t partitions) {
  assert(partitions > 0);
  const std::int32_t positive = kafka_murmur2(key) & 0x7fffffff;
  return positive % partitions;
}

}  // namespace axion::events
