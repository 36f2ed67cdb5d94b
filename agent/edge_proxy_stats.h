// What the edge proxy saw of its backends: HAProxy's `show stat` counters per server, and the
// traffic report of a REPORT_TRAFFIC task (the requests some instances of a service answered and
// how many failed), the input of the canary and blue-green error-rate gates. Pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace axion::agent::proxy {

// One server row of `show stat`.
struct ServerCounters {
  std::string backend;         // pxname (be_<service>)
  std::string server;          // svname (the instance id)
  std::uint64_t requests = 0;  // see parse_stat_csv
  std::uint64_t failed = 0;
};

// Parses `show stat` CSV by its header ("# pxname,svname,..."), server rows only (not FRONTEND
// or BACKEND). HTTP backends (hrsp_* filled): requests = responses + connection errors (econ) +
// response errors (eresp), failed = 5xx responses + econ + eresp. TCP: requests = sessions
// (stot), failed = econ + eresp. failed never exceeds requests. Malformed rows are skipped.
std::vector<ServerCounters> parse_stat_csv(const std::string& text);

struct TrafficReport {
  std::uint64_t requests = 0;
  std::uint64_t failed = 0;
  double error_rate = 0;  // failed / requests; 0 with no requests
  std::string detail;     // "3 of 120 requests failed (2.5%): web-1a2b-0 1/60, web-1a2b-1 2/60"
};

// The counts of `instances` in `service`'s backend. NOT_FOUND if the proxy has no backend for
// the service; an instance the backend lacks counts nothing and the detail says so.
Result<TrafficReport> report_traffic(const std::vector<ServerCounters>& counters,
                                     const std::string& service,
                                     const std::vector<std::string>& instances);

}  // namespace axion::agent::proxy
