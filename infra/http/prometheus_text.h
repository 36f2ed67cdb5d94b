// PrometheusText: builds a /metrics page in the Prometheus text exposition format (0.0.4). Each
// metric family is printed once — HELP, TYPE, then all its samples together, whatever order the
// samples were added in — with label values and HELP text escaped as the format requires, and
// histograms as cumulative _bucket{le=...} series ending at le="+Inf" == _count, then _sum.
// Not thread-safe: one page per scrape.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/histogram.h"

namespace axion::infra::http {

using Labels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  // One sample of a counter or gauge family. The first call for `name` declares the family
  // with `help`; later calls add samples to it (their help is ignored). REQUIRES: `name` and
  // label names match [a-zA-Z_:][a-zA-Z0-9_:]* and a name keeps one type (asserted).
  void counter(std::string_view name, std::string_view help, double value, Labels labels = {});
  void gauge(std::string_view name, std::string_view help, double value, Labels labels = {});
  // One histogram series: `name`_bucket{...,le="..."} (cumulative), _sum and _count.
  void histogram(std::string_view name, std::string_view help, const Histogram::Snapshot& h,
                 Labels labels = {});

  // The page: families in the order they were first declared.
  std::string str() const;

 private:
  struct Family {
    std::string name, type, help;
    std::string samples;  // rendered sample lines
  };
  Family& family(std::string_view name, std::string_view type, std::string_view help);
  std::vector<Family> families_;
};

// Label value escaping: backslash, double quote and line feed as \\, \" and \n.
std::string escape_label_value(std::string_view value);
// HELP text escaping: backslash and line feed as \\ and \n.
std::string escape_help(std::string_view help);
// A sample value as Prometheus reads it: integers without exponent or point, +Inf, -Inf, NaN.
std::string format_value(double value);

}  // namespace axion::infra::http
