// What the generators share to emit YAML that user strings cannot change the shape of:
// `quoted(s)` emits one scalar double-quoted (yaml-cpp escapes quotes, backslashes and control
// characters there, so a value stays one string however it looks: `yes`, `0123`, `*x`, `a: b`,
// a newline), and `sorted(map)` gives a protobuf map in key order, for byte-stable output.
#pragma once

#include <google/protobuf/map.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>
#include <string_view>

namespace axion::codegen {

struct Quoted {
  std::string text;
};

inline Quoted quoted(std::string text) { return Quoted{std::move(text)}; }

inline YAML::Emitter& operator<<(YAML::Emitter& out, const Quoted& q) {
  return out << YAML::DoubleQuoted << q.text;
}

// Empty when `s` is text every YAML parser reads back unchanged — strict UTF-8 (no overlong
// forms, surrogates or code points past U+10FFFF) without NUL, DEL or noncharacters, which
// yaml-cpp would write raw or replace and PyYAML (docker-compose) and Kubernetes refuse — else
// the reason ("invalid UTF-8 at byte 3").
std::string yaml_text_problem(std::string_view s);

template <typename K, typename V>
std::map<K, V> sorted(const google::protobuf::Map<K, V>& map) {
  return std::map<K, V>(map.begin(), map.end());
}

}  // namespace axion::codegen
