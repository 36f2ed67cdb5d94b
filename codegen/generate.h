// Everything a deployment generates from its graph version, at once: the artifacts as a
// content-addressed bundle, and the GeneratedConfig (hashes by role) that DeploymentConfigGenerated
// records. The graph is validated first (commands::validate_graph); a format that cannot express
// it refuses it: INVALID_ARGUMENT naming the service and field, and nothing is generated.
#pragma once

#include <string>
#include <vector>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/project.pb.h"
#include "codegen/artifacts.h"
#include "codegen/compose.h"
#include "codegen/kubernetes.h"
#include "common/status.h"

namespace axion::codegen {

// Recorded with the hashes: a change of the generators' output is a new version.
inline constexpr const char* kGeneratorVersion = "axion-codegen/1";

struct GenerateOptions {
  ComposeOptions compose;
  // Kubernetes manifests too (a graph Kubernetes cannot run, e.g. restart policy NO, is then
  // refused). Built images are tagged with the compose prefix unless these options name one.
  bool kubernetes = true;
  KubernetesOptions kubernetes_options;
  // For a deployment that runs neither the compose file nor the manifests (the process
  // runtime): a target that refuses the graph (compose: several replicas on one published
  // port) is left out, its reason kept in Generated::skipped, instead of failing everything.
  // Graph validation and Dockerfiles still fail the generation.
  bool best_effort_targets = false;
};

struct Generated {
  Bundle bundle;
  axion::v1::GeneratedConfig config;
  std::vector<std::string> skipped;  // "compose: <reason>" for targets left out (best effort)
};

Result<Generated> generate_deployment(const axion::v1::GraphVersion& graph,
                                      const GenerateOptions& options);

}  // namespace axion::codegen
