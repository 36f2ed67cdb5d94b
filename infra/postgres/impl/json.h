// Proto3 JSON of a message by reflection — proto field names, default values omitted, 64-bit
// integers as strings, enums by name — the document google::protobuf::util::
// MessageToJsonString prints with preserve_proto_field_names, about ten times faster (that one
// serializes the message and re-reads it through a type resolver, ~10-30 us per read model,
// which dominated a 10,000-row commit). Well-known types other than Timestamp and Duration are
// handed to MessageToJsonString. nullopt when the message cannot be printed (a Timestamp out of
// range).
#pragma once

#include <google/protobuf/message.h>

#include <optional>
#include <string>

namespace axion::infra::postgres::impl {

std::optional<std::string> to_json(const google::protobuf::Message& message);

// Appends `s` as a JSON string literal.
void append_json_string(std::string& out, std::string_view s);

}  // namespace axion::infra::postgres::impl
