// Internals of the Kubernetes generator (codegen/kubernetes.h): the YAML emitting helpers every
// object uses, the Kubernetes-specific checks, and one emitter per object kind. The rule that
// keeps user data from being injected lives in the helpers: every string value, and every map
// key that comes from a user, is emitted YAML::DoubleQuoted; only our own constant keys are plain.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "axion/v1/project.pb.h"
#include "codegen/kubernetes.h"
#include "common/status.h"

namespace axion::codegen::k8s {

using StringMap = std::map<std::string, std::string>;

// --- YAML helpers (kubernetes_yaml.cc) ---
void quoted(YAML::Emitter& out, const std::string& value);
void key(YAML::Emitter& out, const char* name);
void kv(YAML::Emitter& out, const char* name, const std::string& value);
void kv(YAML::Emitter& out, const char* name, std::int64_t value);
// A map with sorted, double-quoted keys and values.
void string_map(YAML::Emitter& out, const StringMap& map);
// A sequence of double-quoted strings.
void string_seq(YAML::Emitter& out, const std::vector<std::string>& values);

// app.kubernetes.io/name (+ part-of): what selectors match.
StringMap selector_labels(const std::string& service, const KubernetesOptions& options);
// The selector labels plus managed-by=axion: what every object carries.
StringMap object_labels(const std::string& service, const KubernetesOptions& options);
// `metadata:` with name, namespace, labels and the release annotation.
void metadata(YAML::Emitter& out, const std::string& name, const std::string& service,
              const KubernetesOptions& options);
// `matchLabels:` of a service's selector labels.
void match_labels(YAML::Emitter& out, const std::string& service, const KubernetesOptions& options);

// Kubernetes expands $(VAR) in command, args and exec probes and turns "$$" into "$"; doubling
// every '$' makes the argv literal again.
std::string escape_dollars(const std::string& value);
std::vector<std::string> escape_dollars(const google::protobuf::RepeatedPtrField<std::string>& v);

// "TCP" or "UDP".
const char* protocol_name(axion::v1::PortProtocol protocol);
// Replicas with 0 read as 1.
std::uint32_t replicas_of(const axion::v1::Service& service);
// Name of a service's ConfigMap.
std::string config_map_name(const std::string& service);
// Kubernetes Secret key a SecretRef reads: its key, or "value" when empty.
std::string secret_key(const axion::v1::SecretRef& secret);

// --- Checks (kubernetes_checks.cc) ---
Status check_options(const KubernetesOptions& options);
// What the graph validator allows but a manifest cannot carry.
Status check_service(const axion::v1::Service& service, int index);
// Names of a service's ports in its Kubernetes Service, aligned with service.ports(): the
// port's name, or "<tcp|udp>-<port>" for an unnamed one when there are several (Kubernetes
// requires names then); INVALID_ARGUMENT when a derived name collides.
Result<std::vector<std::string>> service_port_names(const axion::v1::Service& service, int index);

// --- Objects (kubernetes_workload.cc, kubernetes_network.cc) ---
struct ServicePlan {
  const axion::v1::Service& service;
  std::string image;                    // resolved: the image, or the build prefix's
  std::vector<std::string> port_names;  // service_port_names()
};

void emit_namespace(YAML::Emitter& out, const KubernetesOptions& options);
void emit_config_map(YAML::Emitter& out, const ServicePlan& plan, const KubernetesOptions& options);
void emit_deployment(YAML::Emitter& out, const ServicePlan& plan, const KubernetesOptions& options);
void emit_service(YAML::Emitter& out, const ServicePlan& plan, const KubernetesOptions& options);
void emit_network_policy(YAML::Emitter& out, const ServicePlan& plan,
                         const axion::v1::GraphVersion& graph, const KubernetesOptions& options);
void emit_autoscaler(YAML::Emitter& out, const ServicePlan& plan, const KubernetesOptions& options);
void emit_disruption_budget(YAML::Emitter& out, const ServicePlan& plan,
                            const KubernetesOptions& options);

}  // namespace axion::codegen::k8s
