// What the axion CLI prints: `-o table` (aligned columns for people), `-o json` (the API's JSON
// mapping of the answer, one document) and `-o yaml` (the same as YAML), so scripts can parse
// every read command's output.
#pragma once

#include <google/protobuf/message.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace axion::cli {

enum class Format { kTable, kJson, kYaml };

// "table", "json" or "yaml"; INVALID_ARGUMENT otherwise.
Result<Format> parse_format(const std::string& name);

// The message in the API's JSON mapping (lowerCamelCase fields, enums by name), every field
// printed: empty lists as [], zero values as 0, "" or the enum's zero name.
std::string to_json(const google::protobuf::Message& message);
// The same document as YAML (block style).
std::string to_yaml(const google::protobuf::Message& message);

// Rows under headers, each column as wide as its widest cell, two spaces apart.
struct Table {
  std::vector<std::string> headers;
  std::vector<std::vector<std::string>> rows;
  std::string render() const;
};

// The message in `format`: JSON or YAML of the message, else the table.
std::string render(Format format, const google::protobuf::Message& message, const Table& table);

}  // namespace axion::cli
