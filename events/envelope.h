// Helpers around axion.v1.EventEnvelope: wrap a payload into an envelope, turn an envelope into
// a log Record with CloudEvents (Kafka binary mode) headers, and parse a stored record back.
// Pure functions: ids and times are passed in, never drawn here, so callers (and tests) decide
// them and replays are reproducible. The mapping is specified in docs/SCHEMAS.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <google/protobuf/message.h>

#include "axion/v1/envelope.pb.h"
#include "common/status.h"
#include "events/event_log.h"

namespace axion::events {

// Values of EventEnvelope.aggregate_type; they name the aggregate in ce_source.
namespace aggregate_type {
inline constexpr std::string_view kProject = "project";
inline constexpr std::string_view kDeployment = "deployment";
inline constexpr std::string_view kCluster = "cluster";
inline constexpr std::string_view kServer = "server";
inline constexpr std::string_view kAgentTask = "agent-task";
}  // namespace aggregate_type

// CloudEvents header names and fixed values (binary content mode over Kafka).
inline constexpr std::string_view kCeSpecVersionHeader = "ce_specversion";
inline constexpr std::string_view kCeIdHeader = "ce_id";
inline constexpr std::string_view kCeSourceHeader = "ce_source";
inline constexpr std::string_view kCeTypeHeader = "ce_type";
inline constexpr std::string_view kCeTimeHeader = "ce_time";
inline constexpr std::string_view kCeSubjectHeader = "ce_subject";
inline constexpr std::string_view kCeSequenceHeader = "ce_sequence";
inline constexpr std::string_view kCeCorrelationIdHeader = "ce_correlationid";
inline constexpr std::string_view kCeCausationIdHeader = "ce_causationid";
inline constexpr std::string_view kContentTypeHeader = "content-type";
inline constexpr std::string_view kCeSpecVersion = "1.0";
inline constexpr std::string_view kProtobufContentType = "application/protobuf";

// Everything about an event except its payload.
struct EnvelopeMeta {
  std::string event_id;        // UUID string
  std::string aggregate_type;  // one of aggregate_type::k*
  std::string aggregate_id;
  std::string partition_key;   // log key; empty = aggregate_id
  std::uint64_t sequence = 0;  // per aggregate, from 1, no gaps
  std::int64_t occurred_at_ms = 0;  // Unix epoch milliseconds
  std::string actor;
  std::string correlation_id;
  std::string causation_id;
  std::uint32_t schema_version = 1;
};

// An envelope holding `payload`; type = the payload's full proto name.
axion::v1::EventEnvelope make_envelope(const google::protobuf::Message& payload,
                                       const EnvelopeMeta& meta);
// The same for a payload already packed (as aggregates' decisions hold them); type = the type
// name at the end of its type URL.
axion::v1::EventEnvelope make_envelope(const google::protobuf::Any& payload,
                                       const EnvelopeMeta& meta);

// The CloudEvents headers of an envelope, in a fixed order: ce_specversion, ce_id, ce_source,
// ce_type, ce_time (if occurred_at is set), ce_subject, ce_sequence, ce_correlationid and
// ce_causationid (if non-empty), content-type.
std::vector<Header> cloudevents_headers(const axion::v1::EventEnvelope& envelope);

// "/axion/<aggregate_type>/<aggregate_id>" ("unknown" if the type is empty).
std::string cloudevents_source(const axion::v1::EventEnvelope& envelope);

// The log key of an envelope: partition_key, else aggregate_id.
const std::string& record_key(const axion::v1::EventEnvelope& envelope);

// A record for `topic`: key = record_key(), value = the serialized envelope, CloudEvents headers.
Record to_record(std::string topic, const axion::v1::EventEnvelope& envelope);

// The envelope stored in a record's value. DATA_LOSS if the value does not parse or is not a
// well-formed envelope (no event_id or type, or a payload whose type URL disagrees with type).
Result<axion::v1::EventEnvelope> parse_envelope(const StoredRecord& record);

// The envelope's payload as T. FAILED_PRECONDITION if the envelope holds another type,
// DATA_LOSS if the payload bytes do not parse.
template <typename T>
Result<T> unpack_payload(const axion::v1::EventEnvelope& envelope) {
  T message;
  if (envelope.type() != T::descriptor()->full_name()) {
    return failed_precondition("event " + envelope.event_id() + " holds " + envelope.type() +
                               ", not " + T::descriptor()->full_name());
  }
  if (!envelope.payload().UnpackTo(&message)) {
    return data_loss("event " + envelope.event_id() + ": payload does not parse as " +
                     envelope.type());
  }
  return message;
}

}  // namespace axion::events
