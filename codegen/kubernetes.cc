// generate_kubernetes (codegen/kubernetes.h): validates the graph and the options, resolves each
// service's image, and writes one multi-document YAML artifact per service (plus the namespace)
// with the object emitters of kubernetes_workload.cc and kubernetes_network.cc.
#include "codegen/kubernetes.h"

#include <algorithm>
#include <string>
#include <vector>

#include "codegen/impl/kubernetes_internal.h"
#include "commands/content_hash.h"
#include "commands/field_checks.h"
#include "commands/graph_validation.h"

namespace axion::codegen {

namespace {

using axion::v1::Service;

// The graph's content hash: the recorded one, or computed when absent (a graph assembled by
// hand). It tags images built from source.
Result<std::string> graph_hash(const axion::v1::GraphVersion& graph) {
  std::string hash = graph.content_hash();
  if (hash.empty()) hash = commands::graph_content_hash(graph.services(), graph.edges());
  const bool hex = std::all_of(hash.begin(), hash.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
  if (hash.size() < 12 || !hex)
    return invalid_field("content_hash", "graph content hash " + commands::quote(hash) +
                                             " is not a lowercase hex SHA-256");
  return hash;
}

Result<std::string> image_of(const Service& s, int index, const std::string& hash,
                             const KubernetesOptions& options) {
  if (s.has_image()) return s.image();  // validated by validate_graph
  const std::string who = "service '" + s.name() + "' (services[" + std::to_string(index) + "])";
  if (options.image_for_build_prefix.empty())
    return invalid_field("image_for_build_prefix",
                         who +
                             " is built from source, so its image needs a registry prefix: "
                             "set image_for_build_prefix (e.g. registry.example.com/acme); "
                             "the image is then <prefix>/" +
                             s.name() + ":<graph hash>");
  std::string image = options.image_for_build_prefix + "/" + s.name() + ":" + hash.substr(0, 12);
  if (auto p = commands::detail::image_reference_problem(image, 512); !p.empty())
    return invalid_field("image_for_build_prefix",
                         "image_for_build_prefix " +
                             commands::quote(options.image_for_build_prefix) +
                             " does not make a valid image reference for " + who + " (" + p +
                             "): use [registry/]repository, e.g. registry.example.com/acme");
  return image;
}

Result<Artifact> render_service(const axion::v1::GraphVersion& graph, int index,
                                const std::string& hash, const KubernetesOptions& options) {
  const Service& s = graph.services(index);
  AXION_RETURN_IF_ERROR(k8s::check_service(s, index));
  auto image = image_of(s, index, hash, options);
  if (!image.ok()) return image.status();
  auto port_names = k8s::service_port_names(s, index);
  if (!port_names.ok()) return port_names.status();
  const k8s::ServicePlan plan{s, std::move(image).value(), std::move(port_names).value()};

  // Apply order: the ConfigMap before the Deployment that reads it.
  YAML::Emitter out;
  if (!s.env().empty()) k8s::emit_config_map(out, plan, options);
  k8s::emit_deployment(out, plan, options);
  if (!s.ports().empty()) k8s::emit_service(out, plan, options);
  k8s::emit_network_policy(out, plan, graph, options);
  if (k8s::replicas_of(s) > 1) {
    k8s::emit_autoscaler(out, plan, options);
    k8s::emit_disruption_budget(out, plan, options);
  }
  if (!out.good())  // unbalanced Begin/End: a bug here, not bad input
    return internal_error("kubernetes manifest of service '" + s.name() +
                          "' is malformed: " + out.GetLastError());
  return make_artifact("k8s/" + s.name() + ".yaml", std::string(out.c_str()) + "\n");
}

}  // namespace

Result<std::vector<Artifact>> generate_kubernetes(const axion::v1::GraphVersion& graph,
                                                  const KubernetesOptions& options) {
  AXION_RETURN_IF_ERROR(commands::validate_graph(graph));
  AXION_RETURN_IF_ERROR(k8s::check_options(options));
  auto hash = graph_hash(graph);
  if (!hash.ok()) return hash.status();

  std::vector<Artifact> artifacts;
  if (!options.namespace_name.empty()) {
    YAML::Emitter out;
    k8s::emit_namespace(out, options);
    artifacts.push_back(make_artifact("k8s/namespace.yaml", std::string(out.c_str()) + "\n"));
  }
  for (int i = 0; i < graph.services_size(); ++i) {
    auto artifact = render_service(graph, i, hash.value(), options);
    if (!artifact.ok()) return artifact.status();
    artifacts.push_back(std::move(artifact).value());
  }
  return artifacts;
}

}  // namespace axion::codegen
