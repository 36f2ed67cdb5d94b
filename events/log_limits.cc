#include "events/log_limits.h"

#include <exception>
#include <string>

namespace axion::events {

Status validate_topic_name(std::string_view topic) {
  std::string quoted = "'";
  quoted.append(topic.substr(0, 300));
  quoted.push_back('\'');
  if (topic.empty()) return invalid_argument("topic name is empty");
  if (topic.size() > 249) {
    return invalid_argument("topic name is " + std::to_string(topic.size()) +
                            " characters long; the limit is 249");
  }
  if (topic == "." || topic == "..") {
    return invalid_argument("topic name " + quoted + " is not allowed");
  }
  for (char c : topic) {
    const bool legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                       (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!legal) {
      return invalid_argument("topic name " + quoted +
                              " is invalid: use only letters, digits, '.', '_' and '-'");
    }
  }
  return ok_status();
}

Status validate_partitions(std::int32_t partitions) {
  if (partitions < 1 || partitions > 10000) {
    return invalid_argument("partition count " + std::to_string(partitions) +
                            " is out of range: use 1..10000");
  }
  return ok_status();
}

std::size_t record_size(const Record& record) {
  std::size_t size = record.key.size() + record.value.size();
  for (const auto& h : record.headers) size += h.key.size() + h.value.size();
  return size;
}

Status validate_append(const std::vector<Record>& records, const LogLimits& limits) {
  if (records.size() > limits.max_records_per_append) {
    return invalid_argument("append of " + std::to_string(records.size()) +
                            " records exceeds the limit of " +
                            std::to_string(limits.max_records_per_append) + " per append");
  }
  for (std::size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    AXION_RETURN_IF_ERROR(validate_topic_name(r.topic));
    const std::size_t size = record_size(r);
    if (size > limits.max_record_bytes) {
      return invalid_argument("record " + std::to_string(i) + " for topic '" + r.topic + "' is " +
                              std::to_string(size) + " bytes; the maximum record size is " +
                              std::to_string(limits.max_record_bytes) + " bytes");
    }
    if (r.partition && *r.partition < 0) {
      return invalid_argument("record " + std::to_string(i) + " has negative partition " +
                              std::to_string(*r.partition));
    }
  }
  return ok_status();
}

Status validate_identifier(std::string_view what, std::string_view id) {
  if (id.empty() || id.size() > 255) {
    return invalid_argument(std::string(what) + " must be 1..255 characters long");
  }
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) {
      return invalid_argument(std::string(what) + " '" + std::string(id) +
                              "' may hold only printable ASCII without spaces");
    }
  }
  return ok_status();
}

// Builds a trailer's records and validates them as an append's records are (the count limit
// covers the records and the trailer together), so a bad trailer fails its append the same way.
Result<std::vector<Record>> build_trailer(const Producer::Trailer& trailer,
                                         const std::vector<LogPosition>& positions,
                                         const LogLimits& limits) {
  std::vector<Record> records;
  try {
    records = trailer(positions);
  } catch (const std::exception& e) {  // it runs on the committer thread: never let it escape
    return internal_error(std::string("the append's trailer failed: ") + e.what());
  } catch (...) {
    return internal_error("the append's trailer failed with an unknown exception");
  }
  if (positions.size() + records.size() > limits.max_records_per_append) {
    return invalid_argument("append of " + std::to_string(positions.size()) + " records and " +
                            std::to_string(records.size()) + " trailer records exceeds the " +
                            "limit of " + std::to_string(limits.max_records_per_append) +
                            " per append");
  }
  if (Status s = validate_append(records, limits); !s.ok()) {
    return Status(s.code(), "trailer " + s.message(), s.retryable());
  }
  return records;
}

}  // namespace axion::events
