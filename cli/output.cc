#include "cli/output.h"

#include <google/protobuf/util/json_util.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>

namespace axion::cli {

namespace {

void emit(YAML::Emitter& out, const nlohmann::json& j) {
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (const auto& [key, value] : j.items()) {
      out << YAML::Key << key << YAML::Value;
      emit(out, value);
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const auto& value : j) emit(out, value);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    // Quoted: "yes", "0123" or "a: b" stay strings for every YAML reader.
    out << YAML::DoubleQuoted << j.get<std::string>();
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();
  }
}

// Every field, empty lists and zero values included, so a script finds the keys it looks for
// whatever the answer holds.
google::protobuf::util::JsonPrintOptions print_options(bool whitespace) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = whitespace;
  options.preserve_proto_field_names = false;
  options.always_print_primitive_fields = true;
  return options;
}

}  // namespace

Result<Format> parse_format(const std::string& name) {
  if (name == "table") return Format::kTable;
  if (name == "json") return Format::kJson;
  if (name == "yaml") return Format::kYaml;
  return invalid_argument("-o must be table, json or yaml, not '" + name + "'");
}

std::string to_json(const google::protobuf::Message& message) {
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, print_options(true));
  return out;
}

std::string to_yaml(const google::protobuf::Message& message) {
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(message, &json, print_options(false));
  YAML::Emitter out;
  emit(out, nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false));
  return std::string(out.c_str()) + "\n";
}

std::string Table::render() const {
  std::vector<std::size_t> width(headers.size(), 0);
  const auto measure = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size() && i < width.size(); ++i)
      width[i] = std::max(width[i], row[i].size());
  };
  measure(headers);
  for (const auto& row : rows) measure(row);
  std::string out;
  const auto line = [&](const std::vector<std::string>& row) {
    std::string text;
    for (std::size_t i = 0; i < width.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      text += cell;
      if (i + 1 < width.size()) text += std::string(width[i] - cell.size() + 2, ' ');
    }
    while (!text.empty() && text.back() == ' ') text.pop_back();
    out += text + "\n";
  };
  line(headers);
  for (const auto& row : rows) line(row);
  return out;
}

std::string render(Format format, const google::protobuf::Message& message, const Table& table) {
  switch (format) {
    case Format::kJson:
      return to_json(message);
    case Format::kYaml:
      return to_yaml(message);
    default:
      return table.render();
  }
}

}  // namespace axion::cli
