// The axion.yaml readers of single fields (cli/project_file.cc composes them): each checks one
// node and either returns its value or throws FieldError naming where it is and what is wrong.
// Internal to the project-file parser, which turns FieldError into a Status once, at the top.
#pragma once

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/map.h>
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace axion::cli {

// A problem at a place in the file.
struct FieldError {
  YAML::Mark mark;
  std::string path;  // e.g. services.api.ports[0].port
  std::string what;
};

[[noreturn]] void fail(const YAML::Node& at, const std::string& path, std::string what);

// One scalar value.
std::string scalar(const YAML::Node& n, const std::string& path);
// A whole number in [lo, hi].
std::uint64_t number(const YAML::Node& n, const std::string& path, std::uint64_t lo,
                     std::uint64_t hi);
// true/false (or yes/no).
bool boolean(const YAML::Node& n, const std::string& path);
// A list of scalars.
std::vector<std::string> strings(const YAML::Node& n, const std::string& path);
// A mapping of names to scalar values.
void string_map(const YAML::Node& n, const std::string& path,
                google::protobuf::Map<std::string, std::string>* out);
// A mapping whose keys are all in `known` (a typo must not silently drop a setting).
void only_keys(const YAML::Node& n, const std::string& path, const std::set<std::string>& known);
// "500ms", "2s", "1m", "1h".
google::protobuf::Duration duration(const YAML::Node& n, const std::string& path);
// "250m" (thousandths), "0.5", "2" cores, as millicores.
std::uint32_t cpu_millis(const YAML::Node& n, const std::string& path);
// "128Mi", "1Gi", or a number of MiB.
std::uint64_t mebibytes(const YAML::Node& n, const std::string& path);

}  // namespace axion::cli
