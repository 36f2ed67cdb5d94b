// KafkaEventLog: the EventLog port on Apache Kafka through librdkafka's C++ API. Producers are
// idempotent and transactional (acks=all); concurrent appends share one transaction (group
// commit); consumed offsets go through send_offsets_to_transaction; consumers are
// read_committed with manual offset management. A second producer with the same
// transactional.id fences the first, which then fails with FAILED_PRECONDITION.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

#include "common/status.h"
#include "events/event_log.h"
#include "events/log_limits.h"

namespace axion::infra::kafka {

struct KafkaConfig {
  std::string brokers;                           // bootstrap.servers, e.g. "127.0.0.1:39092"
  std::chrono::milliseconds timeout{10000};      // connect / metadata / transaction timeout
  events::LogLimits limits;
  std::string client_id = "axion";
  std::int16_t replication_factor = 1;           // for topics this log creates
  // Least time between the end of one transaction and the start of the next (gathers appends)
  std::chrono::milliseconds batch_linger{1};
  // A consumer that stops heartbeating (crashed) loses its partitions after this long; the
  // broker allows 6 s .. 30 min by default.
  std::chrono::milliseconds session_timeout{10000};
  std::map<std::string, std::string> overrides;  // extra librdkafka properties (tests: mock cluster)
  bool log_client_events = false;                // print librdkafka's log lines to stderr
};

// Opens the log: checks the brokers answer within config.timeout (else UNAVAILABLE naming the
// brokers and the timeout).
Result<std::unique_ptr<events::EventLog>> open_kafka_event_log(const KafkaConfig& config);

}  // namespace axion::infra::kafka
