// YAML helpers and small shared mappings of the Kubernetes generator (impl/kubernetes_internal.h):
// double-quoted string scalars, labels, metadata, '$' escaping for argv.
#include <algorithm>
#include <string>
#include <vector>

#include "codegen/impl/kubernetes_internal.h"

namespace axion::codegen::k8s {

void quoted(YAML::Emitter& out, const std::string& value) { out << YAML::DoubleQuoted << value; }

void key(YAML::Emitter& out, const char* name) { out << YAML::Key << name << YAML::Value; }

void kv(YAML::Emitter& out, const char* name, const std::string& value) {
  key(out, name);
  quoted(out, value);
}

void kv(YAML::Emitter& out, const char* name, std::int64_t value) {
  key(out, name);
  out << value;
}

void string_map(YAML::Emitter& out, const StringMap& map) {
  out << YAML::BeginMap;
  for (const auto& [k, v] : map) {  // std::map: sorted keys
    out << YAML::Key;
    quoted(out, k);
    out << YAML::Value;
    quoted(out, v);
  }
  out << YAML::EndMap;
}

void string_seq(YAML::Emitter& out, const std::vector<std::string>& values) {
  out << YAML::BeginSeq;
  for (const auto& v : values) quoted(out, v);
  out << YAML::EndSeq;
}

StringMap selector_labels(const std::string& service, const KubernetesOptions& options) {
  StringMap labels{{"app.kubernetes.io/name", service}};
  if (!options.project_name.empty()) labels["app.kubernetes.io/part-of"] = options.project_name;
  return labels;
}

StringMap object_labels(const std::string& service, const KubernetesOptions& options) {
  StringMap labels = selector_labels(service, options);
  labels["app.kubernetes.io/managed-by"] = "axion";
  return labels;
}

void metadata(YAML::Emitter& out, const std::string& name, const std::string& service,
              const KubernetesOptions& options) {
  key(out, "metadata");
  out << YAML::BeginMap;
  kv(out, "name", name);
  if (!options.namespace_name.empty()) kv(out, "namespace", options.namespace_name);
  key(out, "labels");
  string_map(out, object_labels(service, options));
  if (!options.release.empty()) {
    key(out, "annotations");
    string_map(out, {{"axion.io/release", options.release}});
  }
  out << YAML::EndMap;
}

void match_labels(YAML::Emitter& out, const std::string& service,
                  const KubernetesOptions& options) {
  out << YAML::BeginMap;
  key(out, "matchLabels");
  string_map(out, selector_labels(service, options));
  out << YAML::EndMap;
}

std::string escape_dollars(const std::string& value) {
  std::string out;
  out.reserve(value.size() + static_cast<std::size_t>(std::count(value.begin(), value.end(), '$')));
  for (char c : value) {
    out += c;
    if (c == '$') out += '$';
  }
  return out;
}

std::vector<std::string> escape_dollars(const google::protobuf::RepeatedPtrField<std::string>& v) {
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(v.size()));
  for (const auto& s : v) out.push_back(escape_dollars(s));
  return out;
}

const char* protocol_name(axion::v1::PortProtocol protocol) {
  return protocol == axion::v1::PORT_PROTOCOL_UDP ? "UDP" : "TCP";
}

std::uint32_t replicas_of(const axion::v1::Service& service) {
  return service.replicas() == 0 ? 1 : service.replicas();
}

std::string config_map_name(const std::string& service) { return service + "-env"; }

std::string secret_key(const axion::v1::SecretRef& secret) {
  return secret.key().empty() ? "value" : secret.key();
}

}  // namespace axion::codegen::k8s
