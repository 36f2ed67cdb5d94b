// graph_fuzz: arbitrary bytes as a PublishGraph command. Parsing and validation never crash;
// a graph that validates is rendered by every generator (compose, Dockerfiles, Kubernetes), which
// either succeeds or refuses with INVALID_ARGUMENT (never another error), and what succeeds parses
// back as YAML with one service per graph service.
#include <google/protobuf/stubs/logging.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>

#include "codegen/compose.h"
#include "codegen/dockerfile.h"
#include "codegen/kubernetes.h"
#include "commands/content_hash.h"
#include "commands/graph_validation.h"
#include "fuzz/fuzz_check.h"

// Protobuf logs every string field that is not UTF-8 (and then refuses the parse): quiet.
extern "C" int LLVMFuzzerInitialize(int*, char***) {
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  axion::v1::PublishGraph command;
  if (!command.ParseFromArray(data, static_cast<int>(size))) return 0;
  if (!axion::commands::validate_graph(command).ok()) return 0;
  axion::v1::GraphVersion graph;
  graph.set_project_id(command.project_id());
  graph.set_version(1);
  *graph.mutable_services() = command.services();
  *graph.mutable_edges() = command.edges();
  graph.set_content_hash(axion::commands::graph_content_hash(command.services(), command.edges()));

  const auto compose = axion::codegen::generate_compose(graph);
  if (compose.ok()) {
    YAML::Node doc;
    try {
      doc = YAML::Load(compose->content);
    } catch (const YAML::Exception& e) {
      FUZZ_CHECK(false, std::string("compose output is not YAML: ") + e.what());
    }
    FUZZ_CHECK(doc["services"].size() == static_cast<std::size_t>(graph.services_size()),
               compose->content);
  } else {
    FUZZ_CHECK(compose.status().code() == axion::StatusCode::kInvalidArgument,
               compose.status().to_string());
  }
  const auto dockerfiles = axion::codegen::generate_dockerfiles(graph);
  FUZZ_CHECK(dockerfiles.ok() || dockerfiles.status().code() == axion::StatusCode::kInvalidArgument,
             dockerfiles.status().to_string());
  axion::codegen::KubernetesOptions k8s;
  k8s.image_for_build_prefix = "registry.example/acme";
  const auto manifests = axion::codegen::generate_kubernetes(graph, k8s);
  if (!manifests.ok()) {
    FUZZ_CHECK(manifests.status().code() == axion::StatusCode::kInvalidArgument,
               manifests.status().to_string());
    return 0;
  }
  for (const auto& m : *manifests) {
    try {
      FUZZ_CHECK(!YAML::LoadAll(m.content).empty(), m.path);
    } catch (const YAML::Exception& e) {
      FUZZ_CHECK(false, m.path + " is not YAML: " + e.what());
    }
  }
  return 0;
}
