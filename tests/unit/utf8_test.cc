// common/utf8.h: text from outside made fit for a protobuf string field.
#include "common/utf8.h"

#include <gtest/gtest.h>

namespace axion {
namespace {

TEST(ValidUtf8, KeepsUtf8AndReplacesEveryBadByte) {
  EXPECT_EQ(valid_utf8("plain ascii\n"), "plain ascii\n");
  EXPECT_EQ(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80"),
            "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80");
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(valid_utf8("\xFF\xFE x"), r + r + " x");
  EXPECT_EQ(valid_utf8("cut \xE2\x82"), "cut " + r + r);     // a tail cut mid-character
  EXPECT_EQ(valid_utf8("\xC0\x80"), r + r);                  // overlong NUL
  EXPECT_EQ(valid_utf8("\xED\xA0\x80"), r + r + r);          // a surrogate
  EXPECT_EQ(valid_utf8("\xF4\x90\x80\x80"), r + r + r + r);  // past U+10FFFF
  EXPECT_EQ(valid_utf8(std::string("a\0b", 3)), std::string("a\0b", 3));  // NUL is UTF-8
  EXPECT_EQ(valid_utf8(valid_utf8("\x80 \xE2\x82\xAC")), valid_utf8("\x80 \xE2\x82\xAC"));
}

}  // namespace
}  // namespace axion
