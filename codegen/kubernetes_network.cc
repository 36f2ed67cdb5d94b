// The other objects of the Kubernetes generator (impl/kubernetes_internal.h): Namespace, the
// ClusterIP Service, the NetworkPolicy derived from edges, and the HorizontalPodAutoscaler and
// PodDisruptionBudget of a replicated service.
#include <map>
#include <set>
#include <string>
#include <utility>

#include "codegen/impl/kubernetes_internal.h"

namespace axion::codegen::k8s {

namespace {

using axion::v1::Service;
using PortSet = std::set<std::pair<std::string, std::uint32_t>>;  // (protocol, port), sorted

void emit_ports(YAML::Emitter& out, const PortSet& ports) {
  key(out, "ports");
  out << YAML::BeginSeq;
  for (const auto& [protocol, port] : ports) {
    out << YAML::BeginMap;
    kv(out, "protocol", protocol);
    kv(out, "port", static_cast<std::int64_t>(port));
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

}  // namespace

void emit_namespace(YAML::Emitter& out, const KubernetesOptions& options) {
  out << YAML::BeginDoc << YAML::BeginMap;
  kv(out, "apiVersion", "v1");
  kv(out, "kind", "Namespace");
  key(out, "metadata");
  out << YAML::BeginMap;
  kv(out, "name", options.namespace_name);
  key(out, "labels");
  StringMap labels{{"app.kubernetes.io/managed-by", "axion"}};
  if (!options.project_name.empty()) labels["app.kubernetes.io/part-of"] = options.project_name;
  string_map(out, labels);
  out << YAML::EndMap << YAML::EndMap;
}

void emit_service(YAML::Emitter& out, const ServicePlan& plan, const KubernetesOptions& options) {
  const Service& s = plan.service;
  out << YAML::BeginDoc << YAML::BeginMap;
  kv(out, "apiVersion", "v1");
  kv(out, "kind", "Service");
  metadata(out, s.name(), s.name(), options);
  key(out, "spec");
  out << YAML::BeginMap;
  kv(out, "type", "ClusterIP");
  key(out, "selector");
  string_map(out, selector_labels(s.name(), options));
  key(out, "ports");
  out << YAML::BeginSeq;
  for (int i = 0; i < s.ports_size(); ++i) {
    const auto& p = s.ports(i);
    out << YAML::BeginMap;
    if (!plan.port_names[static_cast<std::size_t>(i)].empty())
      kv(out, "name", plan.port_names[static_cast<std::size_t>(i)]);
    kv(out, "protocol", std::string(protocol_name(p.protocol())));
    kv(out, "port", static_cast<std::int64_t>(p.container_port()));
    kv(out, "targetPort", static_cast<std::int64_t>(p.container_port()));
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap << YAML::EndMap;
}

// Ingress only from the services with a TRAFFIC edge here, on the edge's port (both transports
// when the service declares the number for TCP and UDP), and from anywhere on published ports
// (host_port: meant to be reached from outside the graph). START_ORDER edges carry no traffic.
// Egress stays open: services also call what the graph does not describe (cluster DNS, external
// APIs and databases), and each callee's ingress rule already enforces the edges.
void emit_network_policy(YAML::Emitter& out, const ServicePlan& plan,
                         const axion::v1::GraphVersion& graph, const KubernetesOptions& options) {
  const Service& s = plan.service;
  std::map<std::string, PortSet> from;  // source service -> ports, sorted by name
  for (const auto& e : graph.edges()) {
    if (e.kind() != axion::v1::EDGE_KIND_TRAFFIC || e.to_service() != s.name()) continue;
    for (const auto& p : s.ports())
      if (p.container_port() == e.port())
        from[e.from_service()].emplace(protocol_name(p.protocol()), p.container_port());
  }
  PortSet published;
  for (const auto& p : s.ports())
    if (p.has_host_port()) published.emplace(protocol_name(p.protocol()), p.container_port());

  out << YAML::BeginDoc << YAML::BeginMap;
  kv(out, "apiVersion", "networking.k8s.io/v1");
  kv(out, "kind", "NetworkPolicy");
  metadata(out, s.name(), s.name(), options);
  key(out, "spec");
  out << YAML::BeginMap;
  key(out, "podSelector");
  match_labels(out, s.name(), options);
  key(out, "policyTypes");
  string_seq(out, {"Ingress"});
  key(out, "ingress");
  out << YAML::BeginSeq;  // empty: no ingress at all
  for (const auto& [source, ports] : from) {
    out << YAML::BeginMap;
    key(out, "from");
    out << YAML::BeginSeq << YAML::BeginMap;
    key(out, "podSelector");
    match_labels(out, source, options);
    out << YAML::EndMap << YAML::EndSeq;
    emit_ports(out, ports);
    out << YAML::EndMap;
  }
  if (!published.empty()) {
    out << YAML::BeginMap;
    emit_ports(out, published);
    out << YAML::EndMap;
  }
  out << YAML::EndSeq << YAML::EndMap << YAML::EndMap;
}

// Between replicas and twice as many on 80% CPU of the request (needs resources.cpu_millis).
void emit_autoscaler(YAML::Emitter& out, const ServicePlan& plan,
                     const KubernetesOptions& options) {
  const Service& s = plan.service;
  out << YAML::BeginDoc << YAML::BeginMap;
  kv(out, "apiVersion", "autoscaling/v2");
  kv(out, "kind", "HorizontalPodAutoscaler");
  metadata(out, s.name(), s.name(), options);
  key(out, "spec");
  out << YAML::BeginMap;
  key(out, "scaleTargetRef");
  out << YAML::BeginMap;
  kv(out, "apiVersion", "apps/v1");
  kv(out, "kind", "Deployment");
  kv(out, "name", s.name());
  out << YAML::EndMap;
  kv(out, "minReplicas", static_cast<std::int64_t>(replicas_of(s)));
  kv(out, "maxReplicas", 2 * static_cast<std::int64_t>(replicas_of(s)));
  key(out, "metrics");
  out << YAML::BeginSeq << YAML::BeginMap;
  kv(out, "type", "Resource");
  key(out, "resource");
  out << YAML::BeginMap;
  kv(out, "name", "cpu");
  key(out, "target");
  out << YAML::BeginMap;
  kv(out, "type", "Utilization");
  kv(out, "averageUtilization", 80);
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap << YAML::EndSeq;
  out << YAML::EndMap << YAML::EndMap;
}

void emit_disruption_budget(YAML::Emitter& out, const ServicePlan& plan,
                            const KubernetesOptions& options) {
  const Service& s = plan.service;
  out << YAML::BeginDoc << YAML::BeginMap;
  kv(out, "apiVersion", "policy/v1");
  kv(out, "kind", "PodDisruptionBudget");
  metadata(out, s.name(), s.name(), options);
  key(out, "spec");
  out << YAML::BeginMap;
  kv(out, "minAvailable", 1);
  key(out, "selector");
  match_labels(out, s.name(), options);
  out << YAML::EndMap << YAML::EndMap;
}

}  // namespace axion::codegen::k8s
