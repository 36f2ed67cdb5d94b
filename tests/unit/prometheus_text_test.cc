// infra/http/prometheus_text.h: each family once with HELP and TYPE whatever order samples come
// in, escaped label values and HELP text, value formatting, and histograms as cumulative
// buckets ending at le="+Inf" == _count — checked with the strict reader the e2e test uses.
#include "infra/http/prometheus_text.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

#include "tests/support/prometheus_parse.h"

namespace axion::infra::http {
namespace {

using ::testing::HasSubstr;
using testing::parse_prometheus;

TEST(PrometheusText, PrintsEachFamilyOnceWithItsSamplesTogether) {
  PrometheusText out;
  out.gauge("axion_deployments", "Deployments by status.", 2, {{"status", "SUCCESS"}});
  out.counter("axion_commands_total", "Commands decided.", 7);
  out.gauge("axion_deployments", "ignored: the first help wins", 0, {{"status", "FAILED"}});
  const std::string page = out.str();
  EXPECT_EQ(page,
            "# HELP axion_deployments Deployments by status.\n"
            "# TYPE axion_deployments gauge\n"
            "axion_deployments{status=\"SUCCESS\"} 2\n"
            "axion_deployments{status=\"FAILED\"} 0\n"
            "# HELP axion_commands_total Commands decided.\n"
            "# TYPE axion_commands_total counter\n"
            "axion_commands_total 7\n");
  const auto parsed = parse_prometheus(page);
  EXPECT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.sum("axion_deployments", {{"status", "SUCCESS"}}), 2);
}

TEST(PrometheusText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(escape_label_value("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
  EXPECT_EQ(escape_help("line\\one\ntwo \"quoted\""), "line\\\\one\\ntwo \"quoted\"");
  PrometheusText out;
  out.gauge("axion_x", "Help with \\ and\na line feed.", 1, {{"path", "C:\\dir \"q\"\n"}});
  const std::string page = out.str();
  EXPECT_THAT(page, HasSubstr("# HELP axion_x Help with \\\\ and\\na line feed.\n"));
  EXPECT_THAT(page, HasSubstr("axion_x{path=\"C:\\\\dir \\\"q\\\"\\n\"} 1\n"));
  const auto parsed = parse_prometheus(page);
  ASSERT_EQ(parsed.error, "");
  ASSERT_EQ(parsed.samples.size(), 1u);
  EXPECT_EQ(parsed.samples[0].labels.at("path"), "C:\\dir \"q\"\n");  // reads back as written
}

TEST(PrometheusText, FormatsValuesAsPrometheusReadsThem) {
  EXPECT_EQ(format_value(0), "0");
  EXPECT_EQ(format_value(42), "42");
  EXPECT_EQ(format_value(-3), "-3");
  EXPECT_EQ(format_value(0.0025), "0.0025");
  EXPECT_EQ(format_value(0.0005), "0.0005");
  EXPECT_EQ(format_value(123456.25), "123456.25");
  EXPECT_EQ(std::stod(format_value(1e-9)), 1e-9);
  EXPECT_EQ(format_value(1.5), "1.5");
  EXPECT_EQ(format_value(INFINITY), "+Inf");
  EXPECT_EQ(format_value(-INFINITY), "-Inf");
  EXPECT_EQ(format_value(NAN), "NaN");
  EXPECT_EQ(std::stod(format_value(1e300)), 1e300);
}

TEST(PrometheusText, HistogramsAreCumulativeAndEndAtInfEqualToCount) {
  Histogram h({0.001, 0.01, 0.1});
  for (double v : {0.0005, 0.001, 0.002, 0.05, 0.05, 3.0}) h.observe(v);
  PrometheusText out;
  out.histogram("axion_log_append_seconds", "Appends.", h.snapshot(), {{"writer", "commands"}});
  out.histogram("axion_log_append_seconds", "Appends.", Histogram({0.001, 0.01, 0.1}).snapshot(),
                {{"writer", "saga"}});
  const std::string page = out.str();
  EXPECT_THAT(page,
              HasSubstr("# TYPE axion_log_append_seconds histogram\n"
                        "axion_log_append_seconds_bucket{writer=\"commands\",le=\"0.001\"} 2\n"
                        "axion_log_append_seconds_bucket{writer=\"commands\",le=\"0.01\"} 3\n"
                        "axion_log_append_seconds_bucket{writer=\"commands\",le=\"0.1\"} 5\n"
                        "axion_log_append_seconds_bucket{writer=\"commands\",le=\"+Inf\"} 6\n"
                        "axion_log_append_seconds_sum{writer=\"commands\"} 3.1035\n"
                        "axion_log_append_seconds_count{writer=\"commands\"} 6\n"));
  EXPECT_THAT(page, HasSubstr("axion_log_append_seconds_count{writer=\"saga\"} 0\n"));
  const auto parsed = parse_prometheus(page);
  EXPECT_EQ(parsed.error, "");
  EXPECT_EQ(parsed.types.at("axion_log_append_seconds"), "histogram");
  EXPECT_EQ(parsed.sum("axion_log_append_seconds_count"), 6);
}

// The strict reader itself refuses what a scraper would choke on (so the e2e check means it).
TEST(PrometheusParse, RefusesUndeclaredSplitOrBrokenFamilies) {
  using testing::parse_prometheus;
  EXPECT_NE(parse_prometheus("axion_x 1\n").error, "");  // no TYPE
  EXPECT_NE(parse_prometheus("# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 2\n").error,
            "");  // a's lines split
  EXPECT_NE(parse_prometheus("# TYPE a gauge\n# TYPE a gauge\na 1\n").error, "");
  EXPECT_NE(parse_prometheus("# TYPE a gauge\na{x=\"\\t\"} 1\n").error, "");  // bad escape
  EXPECT_NE(parse_prometheus("# TYPE a gauge\na 1\na 2\n").error, "");        // repeated series
  EXPECT_NE(parse_prometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
                             "h_sum 1\nh_count 1\n")
                .error,
            "");  // not cumulative
  EXPECT_NE(parse_prometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\n"
                             "h_sum 1\nh_count 3\n")
                .error,
            "");  // +Inf != count
  EXPECT_NE(
      parse_prometheus("# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n").error,
      "");  // no +Inf
  EXPECT_EQ(parse_prometheus("# HELP h x\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\n"
                             "h_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 2\n")
                .error,
            "");
}

}  // namespace
}  // namespace axion::infra::http
