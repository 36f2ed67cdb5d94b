// Kafka's murmur2 partitioner, checked against values computed by Kafka's own Java
// Utils.murmur2 / toPositive (the vectors of Kafka's UtilsTest plus UTF-8, empty and binary keys).
#include <gtest/gtest.h>

#include <string>

#include "events/partitioner.h"

namespace axion::events {
namespace {

struct Vector {
  std::string key;
  std::int32_t murmur2;
  std::int32_t partition_of_7;
};

TEST(KafkaMurmur2, MatchesJavaUtilsMurmur2) {
  const Vector vectors[] = {
      {"21", -973932308, 3},
      {"foobar", -790332482, 0},
      {"a-little-bit-long-string", -985981536, 1},
      {"a-little-bit-longer-string", -1486304829, 0},
      {"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971, 3},
      {"abc", 479470107, 4},
      {"", 275646681, 2},
      {"project-42", 697410549, 3},
      {"\xd0\xb4\xd0\xb5\xd0\xbf\xd0\xbb\xd0\xbe\xd0\xb9-\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", -1383685486, 1},
  };
  for (const auto& v : vectors) {
    EXPECT_EQ(kafka_murmur2(v.key), v.murmur2) << v.key;
    EXPECT_EQ(partition_for_key(v.key, 7), v.partition_of_7) << v.key;
  }
}

TEST(KafkaMurmur2, HashesEveryByteValue) {
  std::string all_bytes;
  for (int i = 0; i < 256; ++i) all_bytes.push_back(static_cast<char>(i));
  EXPECT_EQ(kafka_murmur2(all_bytes), -1948347274);
}

TEST(KafkaMurmur2, PartitionIsAlwaysInRange) {
  for (int i = 0; i < 10000; ++i) {
    const std::int32_t p = partition_for_key("key-" + std::to_string(i), 13);
    ASSERT_GE(p, 0);
    ASSERT_LT(p, 13);
  }
}

}  // namespace
}  // namespace axion::events
