// The shared input checks (commands/validators.h) the Cluster aggregate relies on: escaping in
// messages, host canonicalization for host:port uniqueness, endpoints, ports and ids.
#include <gtest/gtest.h>

#include "commands/validators.h"

namespace axion::commands {
namespace {

TEST(Quoted, EscapesAndTruncatesHostileValues) {
  EXPECT_EQ(in_quotes("web-1"), "\"web-1\"");
  EXPECT_EQ(in_quotes("a\nb\"c\\"), "\"a\\x0ab\\\"c\\\\\"");
  EXPECT_EQ(in_quotes(std::string(100, 'x')), "\"" + std::string(64, 'x') + "\"...");
}

TEST(CanonicalHost, ComparesHostsTheWayResolversDo) {
  EXPECT_EQ(canonical_host("Web-1.Example.COM"), "web-1.example.com");
  EXPECT_EQ(canonical_host("10.0.0.5"), "10.0.0.5");
  EXPECT_EQ(canonical_host("::1"), "0000:0000:0000:0000:0000:0000:0000:0001");
  EXPECT_EQ(canonical_host("2001:DB8::1"), canonical_host("2001:db8:0:0:0:0:0:1"));
  EXPECT_EQ(canonical_host("::ffff:192.0.2.1"), canonical_host("::ffff:c000:201"));
  EXPECT_NE(canonical_host("::1"), canonical_host("::2"));
}

TEST(Endpoint, BracketsIpv6) {
  EXPECT_EQ(endpoint("10.0.0.5", 22), "10.0.0.5:22");
  EXPECT_EQ(endpoint("2001:db8::1", 2222), "[2001:db8::1]:2222");
}

TEST(Ipv6, ParsesOnlyWellFormedLiterals) {
  for (const char* ok : {"::", "::1", "1::", "1:2:3:4:5:6:7:8", "1::8", "1:2:3:4:5:6::8",
                         "::1.2.3.4", "1:2:3:4:5:6:1.2.3.4"}) {
    EXPECT_TRUE(is_ipv6(ok)) << ok;
  }
  for (const char* bad : {"", ":", ":::", "1:2:3:4:5:6:7:8::", "1:2:3:4:5:6:7", "1::2::3",
                          "g::1", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3", "::01.2.3.4", "1.2.3.4::"}) {
    EXPECT_FALSE(is_ipv6(bad)) << bad;
  }
}

TEST(EffectiveSshPort, ZeroMeansTwentyTwo) {
  EXPECT_EQ(*effective_ssh_port("port", 0), 22u);
  EXPECT_EQ(*effective_ssh_port("port", 2222), 2222u);
  const auto bad = effective_ssh_port("port", 65536);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().field(), "port");
}

TEST(Ids, AllowUuidsAndDerivedIdsOnly) {
  EXPECT_TRUE(is_id("0b7e2c4a-5a8f-4e8e-9a55-9c1f0d5b2e11"));
  EXPECT_TRUE(is_id("srv-0123456789abcdef0123"));
  for (const char* bad : {"", "-x", "a b", "a/b", "a;b", "$(x)"}) EXPECT_FALSE(is_id(bad)) << bad;
  EXPECT_FALSE(is_id(std::string(129, 'a')));
}

}  // namespace
}  // namespace axion::commands
