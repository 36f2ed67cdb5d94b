// EventEnvelope helpers: building, CloudEvents headers, record conversion and parsing.
#include "events/envelope.h"

#include <string_view>
#include <utility>

#include <google/protobuf/util/time_util.h>

namespace axion::events {
namespace {

using axion::v1::EventEnvelope;
using google::protobuf::util::TimeUtil;

// Any's type URLs are "<prefix>/<full name>"; the prefix is not ours to rely on.
bool type_url_names(std::string_view type_url, std::string_view full_name) {
  const auto slash = type_url.rfind('/');
  return slash != std::string_view::npos && type_url.substr(slash + 1) == full_name;
}

std::string describe(const StoredRecord& record) {
  return "record " + record.tp.to_string() + "@" + std::to_string(record.offset);
}

}  // namespace

namespace {

EventEnvelope envelope_without_payload(const EnvelopeMeta& meta) {
  EventEnvelope envelope;
  envelope.set_event_id(meta.event_id);
  envelope.set_aggregate_type(meta.aggregate_type);
  envelope.set_aggregate_id(meta.aggregate_id);
  envelope.set_partition_key(meta.partition_key);
  envelope.set_sequence(meta.sequence);
  // MillisecondsToTimestamp floors toward -inf, so pre-1970 times keep 0 <= nanos < 1e9.
  *envelope.mutable_occurred_at() = TimeUtil::MillisecondsToTimestamp(meta.occurred_at_ms);
  envelope.set_actor(meta.actor);
  envelope.set_correlation_id(meta.correlation_id);
  envelope.set_causation_id(meta.causation_id);
  envelope.set_schema_version(meta.schema_version);
  return envelope;
}

}  // namespace

EventEnvelope make_envelope(const google::protobuf::Message& payload, const EnvelopeMeta& meta) {
  EventEnvelope envelope = envelope_without_payload(meta);
  envelope.set_type(payload.GetDescriptor()->full_name());
  // Packing a generated message only fails past protobuf's 2 GiB limit, far beyond the log's
  // record size limit, which rejects the record on append anyway.
  (void)envelope.mutable_payload()->PackFrom(payload);
  return envelope;
}

EventEnvelope make_envelope(const google::protobuf::Any& payload, const EnvelopeMeta& meta) {
  EventEnvelope envelope = envelope_without_payload(meta);
  const std::string& url = payload.type_url();
  envelope.set_type(url.substr(url.rfind('/') + 1));
  *envelope.mutable_payload() = payload;
  return envelope;
}

std::string cloudevents_source(const EventEnvelope& envelope) {
  const std::string& kind =
      envelope.aggregate_type().empty() ? std::string("unknown") : envelope.aggregate_type();
  return "/axion/" + kind + "/" + envelope.aggregate_id();
}

std::vector<Header> cloudevents_headers(const EventEnvelope& envelope) {
  std::vector<Header> headers;
  headers.reserve(10);
  auto add = [&headers](std::string_view key, std::string value) {
    headers.push_back(Header{std::string(key), std::move(value)});
  };
  add(kCeSpecVersionHeader, std::string(kCeSpecVersion));
  add(kCeIdHeader, envelope.event_id());
  add(kCeSourceHeader, cloudevents_source(envelope));
  add(kCeTypeHeader, envelope.type());
  if (envelope.has_occurred_at()) add(kCeTimeHeader, TimeUtil::ToString(envelope.occurred_at()));
  add(kCeSubjectHeader, envelope.aggregate_id());
  add(kCeSequenceHeader, std::to_string(envelope.sequence()));
  if (!envelope.correlation_id().empty()) add(kCeCorrelationIdHeader, envelope.correlation_id());
  if (!envelope.causation_id().empty()) add(kCeCausationIdHeader, envelope.causation_id());
  add(kContentTypeHeader, std::string(kProtobufContentType));
  return headers;
}

const std::string& record_key(const EventEnvelope& envelope) {
  return envelope.partition_key().empty() ? envelope.aggregate_id() : envelope.partition_key();
}

Record to_record(std::string topic, const EventEnvelope& envelope) {
  Record record;
  record.topic = std::move(topic);
  record.key = record_key(envelope);
  // Serialization of a message in memory cannot fail short of the 2 GiB limit (see above).
  (void)envelope.SerializeToString(&record.value);
  record.headers = cloudevents_headers(envelope);
  return record;
}

Result<EventEnvelope> parse_envelope(const StoredRecord& record) {
  EventEnvelope envelope;
  if (!envelope.ParseFromString(record.value)) {
    return data_loss(describe(record) + ": value (" + std::to_string(record.value.size()) +
                     " bytes) does not parse as axion.v1.EventEnvelope");
  }
  // Many byte strings happen to parse as *some* protobuf message (the empty one does); an
  // envelope without identity or type is corrupt or not an envelope at all.
  if (envelope.event_id().empty() || envelope.type().empty()) {
    return data_loss(describe(record) + ": not an axion.v1.EventEnvelope (missing " +
                     (envelope.event_id().empty() ? "event_id" : "type") + ")");
  }
  if (!type_url_names(envelope.payload().type_url(), envelope.type())) {
    return data_loss(describe(record) + ": event " + envelope.event_id() + " has type '" +
                     envelope.type() + "' but its payload is '" + envelope.payload().type_url() +
                     "'");
  }
  return envelope;
}

}  // namespace axion::events
