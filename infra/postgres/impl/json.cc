#include "infra/postgres/impl/json.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>

#include <charconv>
#include <cmath>
#include <vector>

namespace axion::infra::postgres::impl {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

void append_base64(std::string& out, const std::string& bytes) {
  static const char kChars[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  out.push_back('"');
  std::size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    const std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8) |
                            static_cast<unsigned char>(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out.push_back(kChars[(v >> shift) & 63]);
  }
  if (i + 1 == bytes.size()) {
    const std::uint32_t v = static_cast<unsigned char>(bytes[i]) << 16;
    out.push_back(kChars[(v >> 18) & 63]);
    out.push_back(kChars[(v >> 12) & 63]);
    out += "==";
  } else if (i + 2 == bytes.size()) {
    const std::uint32_t v = (static_cast<unsigned char>(bytes[i]) << 16) |
                            (static_cast<unsigned char>(bytes[i + 1]) << 8);
    out.push_back(kChars[(v >> 18) & 63]);
    out.push_back(kChars[(v >> 12) & 63]);
    out.push_back(kChars[(v >> 6) & 63]);
    out.push_back('=');
  }
  out.push_back('"');
}

template <typename Float>
void append_float(std::string& out, Float v) {
  if (std::isnan(v)) {
    out += "\"NaN\"";
  } else if (std::isinf(v)) {
    out += v > 0 ? "\"Infinity\"" : "\"-Infinity\"";
  } else {
    char buf[64];
    const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
    out.append(buf, end);
  }
}

bool append_message(std::string& out, const Message& message);

// One value of field `f`: index < 0 for a singular field.
bool append_value(std::string& out, const Message& m, const FieldDescriptor* f, int index) {
  const Reflection* r = m.GetReflection();
  const bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      out += std::to_string(rep ? r->GetRepeatedInt32(m, f, index) : r->GetInt32(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_UINT32:
      out += std::to_string(rep ? r->GetRepeatedUInt32(m, f, index) : r->GetUInt32(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_INT64:
      out += "\"" + std::to_string(rep ? r->GetRepeatedInt64(m, f, index) : r->GetInt64(m, f)) +
             "\"";
      return true;
    case FieldDescriptor::CPPTYPE_UINT64:
      out += "\"" +
             std::to_string(rep ? r->GetRepeatedUInt64(m, f, index) : r->GetUInt64(m, f)) + "\"";
      return true;
    case FieldDescriptor::CPPTYPE_FLOAT:
      append_float(out, rep ? r->GetRepeatedFloat(m, f, index) : r->GetFloat(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      append_float(out, rep ? r->GetRepeatedDouble(m, f, index) : r->GetDouble(m, f));
      return true;
    case FieldDescriptor::CPPTYPE_BOOL:
      out += (rep ? r->GetRepeatedBool(m, f, index) : r->GetBool(m, f)) ? "true" : "false";
      return true;
    case FieldDescriptor::CPPTYPE_ENUM: {
      const int number = rep ? r->GetRepeatedEnumValue(m, f, index) : r->GetEnumValue(m, f);
      const auto* value = f->enum_type()->FindValueByNumber(number);
      if (value) {
        append_json_string(out, value->name());
      } else {
        out += std::to_string(number);
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string scratch;
      const std::string& s = rep ? r->GetRepeatedStringReference(m, f, index, &scratch)
                                 : r->GetStringReference(m, f, &scratch);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        append_base64(out, s);
      } else {
        append_json_string(out, s);
      }
      return true;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE:
      return append_message(out, rep ? r->GetRepeatedMessage(m, f, index) : r->GetMessage(m, f));
  }
  return false;
}

bool append_message(std::string& out, const Message& message) {
  const auto* descriptor = message.GetDescriptor();
  if (descriptor->file()->package() == "google.protobuf") {
    if (const auto* ts = dynamic_cast<const google::protobuf::Timestamp*>(&message)) {
      if (ts->seconds() < -62135596800 || ts->seconds() > 253402300799 || ts->nanos() < 0 ||
          ts->nanos() > 999999999) {
        return false;
      }
      append_json_string(out, google::protobuf::util::TimeUtil::ToString(*ts));
      return true;
    }
    if (const auto* d = dynamic_cast<const google::protobuf::Duration*>(&message)) {
      const bool valid = d->seconds() >= -315576000000 && d->seconds() <= 315576000000 &&
                         d->nanos() > -1000000000 && d->nanos() < 1000000000 &&
                         !(d->seconds() > 0 && d->nanos() < 0) &&
                         !(d->seconds() < 0 && d->nanos() > 0);
      if (!valid) return false;
      append_json_string(out, google::protobuf::util::TimeUtil::ToString(*d));
      return true;
    }
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    std::string json;
    if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) return false;
    out += json;
    return true;
  }
  const Reflection* r = message.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(message, &fields);
  out.push_back('{');
  bool first = true;
  for (const FieldDescriptor* f : fields) {
    if (!first) out.push_back(',');
    first = false;
    append_json_string(out, f->name());
    out.push_back(':');
    if (f->is_map()) {
      const FieldDescriptor* key = f->message_type()->map_key();
      const FieldDescriptor* value = f->message_type()->map_value();
      out.push_back('{');
      const int n = r->FieldSize(message, f);
      for (int i = 0; i < n; ++i) {
        const Message& entry = r->GetRepeatedMessage(message, f, i);
        if (i) out.push_back(',');
        // Map keys are strings in JSON whatever their type.
        std::string k;
        if (!append_value(k, entry, key, -1)) return false;
        if (k.front() == '"') {
          out += k;
        } else {
          append_json_string(out, k);
        }
        out.push_back(':');
        if (!append_value(out, entry, value, -1)) return false;
      }
      out.push_back('}');
    } else if (f->is_repeated()) {
      out.push_back('[');
      const int n = r->FieldSize(message, f);
      for (int i = 0; i < n; ++i) {
        if (i) out.push_back(',');
        if (!append_value(out, message, f, i)) return false;
      }
      out.push_back(']');
    } else if (!append_value(out, message, f, -1)) {
      return false;
    }
  }
  out.push_back('}');
  return true;
}

}  // namespace

void append_json_string(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c < 0x20) {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

std::optional<std::string> to_json(const google::protobuf::Message& message) {
  std::string out;
  if (!append_message(out, message)) return std::nullopt;
  return out;
}

}  // namespace axion::infra::postgres::impl
