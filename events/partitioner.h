// Kafka's default partitioner for keyed records: murmur2 (Kafka's variant, seed 0x9747b28c) of
// the key bytes, made positive by masking the sign bit, modulo the partition count. Identical to
// Java's BuiltInPartitioner/DefaultPartitioner and librdkafka's "murmur2_random", so other
// services that produce or partition by our keys agree with us byte for byte.
#pragma once

#include <cstdint>
#include <string_view>

namespace axion::events {

// Kafka's org.apache.kafka.common.utils.Utils.murmur2.
std::int32_t kafka_murmur2(std::string_view data);
// REQUIRES: partitions > 0.
std::int32_t partition_for_key(std::string_view key, std::int32_t partitions);

}  // namespace axion::events
