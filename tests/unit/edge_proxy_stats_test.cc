// HAProxy's `show stat` parsed into per-server counts, and the traffic report of some instances
// that a canary's error-rate gate reads.
#include "agent/edge_proxy_stats.h"

#include <gtest/gtest.h>

namespace axion::agent::proxy {
namespace {

// The columns that matter, in HAProxy's order, with the others it prints around them.
const char* kStat =
    "# pxname,svname,qcur,qmax,scur,smax,slim,stot,bin,bout,dreq,dresp,ereq,econ,eresp,wretr,"
    "wredis,status,weight,hrsp_1xx,hrsp_2xx,hrsp_3xx,hrsp_4xx,hrsp_5xx,hrsp_other,\n"
    "fe_web,FRONTEND,,,0,1,,300,0,0,0,0,0,,,,,OPEN,,0,250,0,0,50,0,\n"
    "be_web,web-v1-0,0,0,0,1,,150,0,0,,0,,0,0,0,0,UP,100,0,150,0,0,0,0,\n"
    "be_web,web-v2-0,0,0,0,1,,150,0,0,,0,,2,1,1,0,UP,100,0,97,0,3,47,0,\n"
    "be_web,BACKEND,0,0,0,1,,300,0,0,0,0,,2,1,1,0,UP,200,0,247,0,3,47,0,\n"
    "fe_db,FRONTEND,,,0,1,,40,0,0,0,0,0,,,,,OPEN,,,,,,,,\n"
    "be_db,db-v2-0,0,0,0,1,,40,0,0,,0,,4,0,0,0,UP,100,,,,,,,\n"
    "be_db,broken-row\n";

TEST(EdgeProxyStats, ParsesServerRowsByTheHeader) {
  const auto rows = parse_stat_csv(kStat);
  ASSERT_EQ(rows.size(), 3u);  // three servers; the short row is skipped
  EXPECT_EQ(rows[0].backend, "be_web");
  EXPECT_EQ(rows[0].server, "web-v1-0");
  EXPECT_EQ(rows[0].requests, 150u);
  EXPECT_EQ(rows[0].failed, 0u);
  // HTTP: 97 + 3 + 47 answers + 2 connection + 1 response errors; 47 5xx + 3 errors failed.
  EXPECT_EQ(rows[1].requests, 150u);
  EXPECT_EQ(rows[1].failed, 50u);
  // TCP (no hrsp_*): sessions, connection errors.
  EXPECT_EQ(rows[2].server, "db-v2-0");
  EXPECT_EQ(rows[2].requests, 40u);
  EXPECT_EQ(rows[2].failed, 4u);
  EXPECT_TRUE(parse_stat_csv("").empty());
  EXPECT_TRUE(parse_stat_csv("be_web,web-v1-0,1,2,3\n").empty()) << "no header, no rows";
}

TEST(EdgeProxyStats, ReportsTheNamedInstancesOfAService) {
  const auto rows = parse_stat_csv(kStat);
  const auto v2 = report_traffic(rows, "web", {"web-v2-0", "web-v2-1"});
  ASSERT_TRUE(v2.ok()) << v2.status().message();
  EXPECT_EQ(v2->requests, 150u);
  EXPECT_EQ(v2->failed, 50u);
  EXPECT_NEAR(v2->error_rate, 1.0 / 3, 1e-9);
  EXPECT_EQ(v2->detail,
            "web: 50 of 150 requests failed (33.3%): web-v2-0 50/150, web-v2-1 not in the proxy");
  const auto both = report_traffic(rows, "web", {"web-v1-0", "web-v2-0"});
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(both->requests, 300u);
  const auto idle =
      report_traffic(parse_stat_csv("# pxname,svname,stot,econ,eresp\nbe_web,web-v3-0,0,0,0\n"),
                     "web", {"web-v3-0"});
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(idle->error_rate, 0) << "no requests, no errors";
  const auto none = report_traffic(rows, "api", {"api-v2-0"});
  EXPECT_EQ(none.status().code(), StatusCode::kNotFound);
  EXPECT_NE(none.status().message().find("no backend be_api"), std::string::npos);
}

}  // namespace
}  // namespace axion::agent::proxy
