// The EventLog implementations every contract test runs against, and small helpers shared by
// the log tests. Kafka is reached through KAFKA_BROKERS, which scripts/test sets after starting
// a real broker; without it the Kafka cases fail with a message saying so (never skipped).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "events/event_log.h"

namespace axion::testing {

struct LogBackend {
  std::string name;
  // Opens the log kept under `dir` (the embedded log) or on the broker. Called again after the
  // previous instance is destroyed to simulate a restart of the process.
  std::function<Result<std::unique_ptr<events::EventLog>>(const std::string& dir)> open;
};

std::vector<LogBackend> all_log_backends();
LogBackend log_backend(const std::string& name);

// A name unique to this run, usable for topics, groups and transactional ids.
std::string unique_name(const std::string& prefix);
// A fresh empty directory under the test run dir.
// Removed when the test process exits (unless AXION_KEEP_TEST_DATA=1).
std::string scratch_dir(const std::string& prefix);
// Removes a scratch directory now (a fixture's, in TearDown, once its processes are gone).
void remove_scratch_dir(const std::string& dir);

// Polls until `count` records arrived or `timeout` passed.
Result<std::vector<events::StoredRecord>> poll_at_least(events::Consumer& consumer,
                                                        std::size_t count,
                                                        std::chrono::milliseconds timeout);
// Reads every committed record of a topic, all partitions.
Result<std::vector<events::StoredRecord>> read_all(events::EventLog& log, const std::string& topic);

}  // namespace axion::testing
