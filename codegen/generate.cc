#include "codegen/generate.h"

#include "codegen/dockerfile.h"
#include "commands/graph_validation.h"

namespace axion::codegen {

Result<Generated> generate_deployment(const axion::v1::GraphVersion& graph,
                                      const GenerateOptions& options) {
  // The generators assume a graph a publish accepted; say so first if it is not one.
  AXION_RETURN_IF_ERROR(commands::validate_graph(graph));
  Generated out;
  auto& config = out.config;
  config.set_generator_version(kGeneratorVersion);
  std::vector<Artifact> all;

  auto compose = generate_compose(graph, options.compose);
  if (compose.ok()) {
    config.set_compose_hash(compose->sha256);
    all.push_back(std::move(*compose));
  } else if (options.best_effort_targets) {
    out.skipped.push_back("compose: " + compose.status().message());
  } else {
    return compose.status();
  }

  auto dockerfiles = generate_dockerfiles(graph);
  if (!dockerfiles.ok()) return dockerfiles.status();
  for (const auto& s : graph.services()) {
    const std::string path = generated_dockerfile_artifact(s);
    for (const auto& a : *dockerfiles) {
      if (!path.empty() && a.path == path)
        (*config.mutable_dockerfile_hashes())[s.name()] = a.sha256;
    }
  }
  all.insert(all.end(), dockerfiles->begin(), dockerfiles->end());

  if (options.kubernetes) {
    KubernetesOptions k8s = options.kubernetes_options;
    if (k8s.image_for_build_prefix.empty()) {
      k8s.image_for_build_prefix = options.compose.build_image_prefix;
    }
    auto manifests = generate_kubernetes(graph, k8s);
    if (manifests.ok()) {
      for (const auto& a : *manifests)
        (*config.mutable_k8s_manifest_hashes())[a.path] = a.sha256;
      all.insert(all.end(), manifests->begin(), manifests->end());
    } else if (options.best_effort_targets) {
      out.skipped.push_back("kubernetes: " + manifests.status().message());
    } else {
      return manifests.status();
    }
  }
  out.bundle = make_bundle(std::move(all));
  return out;
}

}  // namespace axion::codegen
