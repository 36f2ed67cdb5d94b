// The input checks every EventLog adapter shares: topic names, partition counts, record sizes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "events/log_limits.h"

namespace axion::events {
namespace {

using ::testing::HasSubstr;

TEST(TopicNames, AcceptsKafkaLegalNames) {
  EXPECT_TRUE(validate_topic_name("axion.deployment.events.v1").ok());
  EXPECT_TRUE(validate_topic_name("a_b-C.9").ok());
  EXPECT_TRUE(validate_topic_name(std::string(249, 'x')).ok());
}

TEST(TopicNames, RefusesIllegalNamesWithAReason) {
  for (const std::string& bad : std::vector<std::string>{"", ".", "..", "has space", "slash/x", "semi;colon", "new\nline",
                          std::string("nul\0x", 5), std::string(250, 'x')}) {
    Status s = validate_topic_name(bad);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(s.message().empty());
  }
  EXPECT_THAT(validate_topic_name("a b").message(), HasSubstr("letters, digits"));
}

TEST(Partitions, MustBePositiveAndBounded) {
  EXPECT_TRUE(validate_partitions(1).ok());
  EXPECT_EQ(validate_partitions(0).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(validate_partitions(-3).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(validate_partitions(10001).code(), StatusCode::kInvalidArgument);
}

TEST(Appends, RefuseOversizedRecordsNamingSizeAndLimit) {
  LogLimits limits;
  limits.max_record_bytes = 100;
  std::vector<Record> records{{"t", "k", std::string(60, 'v'), {{"h", std::string(40, 'x')}}, {}}};
  Status s = validate_append(records, limits);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(s.message(), HasSubstr("102 bytes"));
  EXPECT_THAT(s.message(), HasSubstr("100 bytes"));
  records[0].headers.clear();
  EXPECT_TRUE(validate_append(records, limits).ok());
}

TEST(Appends, RefuseNegativePartitionsAndTooManyRecords) {
  LogLimits limits;
  limits.max_records_per_append = 2;
  EXPECT_EQ(validate_append({{"t", "k", "v", {}, -1}}, limits).code(),
            StatusCode::kInvalidArgument);
  std::vector<Record> three(3, Record{"t", "k", "v", {}, {}});
  EXPECT_THAT(validate_append(three, limits).message(), HasSubstr("exceeds the limit"));
}

TEST(Identifiers, RefuseEmptyAndNonPrintable) {
  EXPECT_TRUE(validate_identifier("group", "axion-projections").ok());
  EXPECT_EQ(validate_identifier("group", "").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(validate_identifier("group", "a b").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(validate_identifier("group", std::string(256, 'g')).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace axion::events
