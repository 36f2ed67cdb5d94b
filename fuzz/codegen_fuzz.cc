// codegen_fuzz: well-formed graphs (the shop of the codegen tests) whose env values, arguments,
// commands and labels are arbitrary strings. For every such graph the validator accepts:
// - docker-compose.yml is produced, parses as YAML, and every env value, argument and label
//   reads back as the same one string (with `$` doubled for compose), under its own key;
// - the output is byte-stable;
// - the Kubernetes ConfigMap holds the same env values unchanged;
// - each generated Dockerfile consists only of the instructions the generator writes;
// - text YAML cannot keep as is (not UTF-8, NUL, DEL, noncharacters) is refused instead.
#include <fuzzer/FuzzedDataProvider.h>
#include <yaml-cpp/yaml.h>

#include <cstddef>
#include <cstdint>
#include <sstream>

#include "codegen/compose.h"
#include "codegen/dockerfile.h"
#include "codegen/kubernetes.h"
#include "codegen/yaml_text.h"
#include "commands/graph_validation.h"
#include "fuzz/fuzz_check.h"
#include "tests/unit/codegen_graphs.h"

namespace {

std::string compose_literal(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '$' ? std::string("$$") : std::string(1, c);
  return out;
}

bool allowed_dockerfile_line(const std::string& line) {
  for (const char* prefix : {"# ", "ARG ", "FROM ", "WORKDIR ", "COPY ", "EXPOSE ", "LABEL ",
                             "HEALTHCHECK ", "ENTRYPOINT ", "CMD "}) {
    if (line.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider in(data, size);
  auto graph = axion::codegen::testing_graphs::shop_graph();
  auto* web = graph.mutable_services(0);
  auto* api = graph.mutable_services(1);
  std::vector<std::string> env_values, args;
  for (int i = 0; i < 4 && in.remaining_bytes() > 0; ++i) {
    env_values.push_back(in.ConsumeRandomLengthString(256));
    (*web->mutable_env())["F" + std::to_string(i)] = env_values.back();
  }
  for (int i = 0; i < 3 && in.remaining_bytes() > 0; ++i) {
    args.push_back(in.ConsumeRandomLengthString(128));
    api->add_args(args.back());
  }
  const std::string label = in.ConsumeRandomLengthString(128);
  (*api->mutable_labels())["note"] = label;
  const std::string command = in.ConsumeRandomLengthString(64);
  if (!command.empty()) api->set_command(0, command);
  if (!axion::commands::validate_graph(graph).ok()) return 0;

  // Text YAML cannot keep as is is refused, and only that.
  bool plain_text = axion::codegen::yaml_text_problem(label).empty() &&
                    axion::codegen::yaml_text_problem(command).empty();
  for (const auto& v : env_values) plain_text &= axion::codegen::yaml_text_problem(v).empty();
  for (const auto& a : args) plain_text &= axion::codegen::yaml_text_problem(a).empty();
  const auto compose = axion::codegen::generate_compose(graph);
  if (!plain_text) {
    FUZZ_CHECK(compose.status().code() == axion::StatusCode::kInvalidArgument,
               "text YAML cannot keep was accepted: " + compose.status().to_string());
    return 0;
  }
  FUZZ_CHECK(compose.ok(), compose.status().to_string());
  YAML::Node doc;
  try {
    doc = YAML::Load(compose->content);
  } catch (const YAML::Exception& e) {
    FUZZ_CHECK(false, std::string("not YAML: ") + e.what());
  }
  const auto services = doc["services"];
  FUZZ_CHECK(services.size() == 3, compose->content);
  for (std::size_t i = 0; i < env_values.size(); ++i) {
    const auto value = services["web"]["environment"]["F" + std::to_string(i)];
    FUZZ_CHECK(value && value.as<std::string>() == compose_literal(env_values[i]),
               compose->content);
  }
  const auto command_seq = services["api"]["command"];
  FUZZ_CHECK(command_seq.size() == 2 + args.size(), compose->content);
  for (std::size_t i = 0; i < args.size(); ++i) {
    FUZZ_CHECK(command_seq[2 + i].as<std::string>() == compose_literal(args[i]), compose->content);
  }
  FUZZ_CHECK(services["api"]["labels"]["note"].as<std::string>() == compose_literal(label),
             compose->content);
  FUZZ_CHECK(services["api"]["entrypoint"][0].as<std::string>() == compose_literal(api->command(0)),
             compose->content);
  FUZZ_CHECK(axion::codegen::generate_compose(graph)->content == compose->content,
             "two runs differ");

  // Kubernetes: the env values are the ConfigMap's data, unchanged (never $-expanded there).
  axion::codegen::KubernetesOptions k8s;
  k8s.image_for_build_prefix = "registry.example/acme";
  const auto manifests = axion::codegen::generate_kubernetes(graph, k8s);
  FUZZ_CHECK(manifests.ok(), manifests.status().to_string());
  bool seen = false;
  for (const auto& m : *manifests) {
    if (m.path != "k8s/web.yaml") continue;
    for (const auto& doc : YAML::LoadAll(m.content)) {
      if (doc["kind"].as<std::string>() != "ConfigMap") continue;
      seen = true;
      for (std::size_t i = 0; i < env_values.size(); ++i) {
        const auto value = doc["data"]["F" + std::to_string(i)];
        FUZZ_CHECK(value && value.as<std::string>() == env_values[i], m.content);
      }
    }
  }
  FUZZ_CHECK(seen || env_values.empty(), "no ConfigMap for web");

  const auto dockerfiles = axion::codegen::generate_dockerfiles(graph);
  FUZZ_CHECK(dockerfiles.ok(), dockerfiles.status().to_string());
  for (const auto& file : *dockerfiles) {
    std::istringstream lines(file.content);
    for (std::string line; std::getline(lines, line);) {
      FUZZ_CHECK(allowed_dockerfile_line(line), file.content);
    }
  }
  return 0;
}
