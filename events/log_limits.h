// Checks shared by every EventLog adapter, so both refuse the same bad input with the same
// precise error before anything is written.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "events/event_log.h"

namespace axion::events {

struct LogLimits {
  // Key + value + headers of one record. Kafka's default message.max.bytes is ~1 MiB.
  std::size_t max_record_bytes = 1000 * 1000;
  std::size_t max_records_per_append = 100000;
};

// Kafka's rules: 1..249 characters of [a-zA-Z0-9._-], not "." or "..".
Status validate_topic_name(std::string_view topic);
Status validate_partitions(std::int32_t partitions);
// Bytes a record counts against max_record_bytes.
std::size_t record_size(const Record& record);
// Name, size and count checks; does not check the topic exists.
Status validate_append(const std::vector<Record>& records, const LogLimits& limits);
// Group ids and transactional ids: 1..255 printable ASCII characters.
Status validate_identifier(std::string_view what, std::string_view id);

// Calls an append's trailer with the positions its records received and checks the trailer's
// records like an append's (the count limit covers both), so every adapter fails a bad trailer
// the same way. A throwing trailer is INTERNAL: it runs on the log's own thread.
Result<std::vector<Record>> build_trailer(const Producer::Trailer& trailer,
                                         const std::vector<LogPosition>& positions,
                                         const LogLimits& limits);

}  // namespace axion::events
