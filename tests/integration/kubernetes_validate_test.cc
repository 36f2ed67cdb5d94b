// The Kubernetes manifests of codegen/kubernetes.h checked by an external validator:
// kubernetes-validate (PyPI, Kubernetes' JSON schemas) in strict mode, which also rejects unknown
// fields. Its path comes from AXION_KUBERNETES_VALIDATE (scripts/test exports it; installed by
// scripts/install-deps --test); the test fails when it is unset or missing rather than skip.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "codegen/kubernetes.h"
#include "tests/support/kubernetes_graphs.h"

extern char** environ;

namespace axion::codegen {
namespace {

namespace fs = std::filesystem;

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs argv (no shell) with stdout and stderr to a file, and waits for it.
RunResult run(const std::vector<std::string>& argv, const fs::path& log) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  RunResult result;
  if (rc != 0) {
    result.output = "posix_spawn " + argv[0] + " failed: " + std::strerror(rc);
    return result;
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  result.output = text.str();
  return result;
}

class KubernetesValidate : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* v = std::getenv("AXION_KUBERNETES_VALIDATE");
    ASSERT_TRUE(v != nullptr && *v != '\0')
        << "AXION_KUBERNETES_VALIDATE is not set: run the suite through scripts/test, or set it "
           "to .run/tools/kubernetes-validate/bin/kubernetes-validate (scripts/install-deps "
           "--test installs it)";
    validator_ = v;
    ASSERT_TRUE(fs::exists(validator_))
        << "AXION_KUBERNETES_VALIDATE=" << validator_
        << " does not exist: run scripts/install-deps --test";
    std::string dir_template = (fs::temp_directory_path() / "axion-k8s-XXXXXX").string();
    ASSERT_NE(mkdtemp(dir_template.data()), nullptr);
    dir_ = dir_template;
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  // Writes the artifacts under dir_ and validates them all in one run.
  RunResult validate(const std::vector<Artifact>& artifacts) {
    std::vector<std::string> argv{validator_, "--strict", "--no-warn"};
    for (const auto& a : artifacts) {
      const fs::path path = dir_ / a.path;
      fs::create_directories(path.parent_path());
      std::ofstream(path, std::ios::binary) << a.content;
      argv.push_back(path.string());
    }
    return run(argv, dir_ / "validate.log");
  }

  std::string validator_;
  fs::path dir_;
};

KubernetesOptions options() {
  return {"acme-prod", "shop", "dep-42: \"v7\" # not a comment", "registry.example.com/acme"};
}

TEST_F(KubernetesValidate, HostileExampleGraphPassesStrictSchemaValidation) {
  auto graph = axion::testing::example_graph();
  graph.mutable_services(2)->set_replicas(2);  // db gets an HPA and a PDB too
  auto* exec = graph.mutable_services(2)->mutable_health_check();
  exec->mutable_exec()->add_argv("pg_isready");
  exec->mutable_exec()->add_argv("-h $(HOST) \"x\"");
  exec->mutable_interval()->set_seconds(5);
  exec->mutable_timeout()->set_seconds(1);
  exec->set_healthy_threshold(1);
  exec->set_unhealthy_threshold(5);
  auto generated = generate_kubernetes(graph, options());
  ASSERT_TRUE(generated.ok()) << generated.status().to_string();
  ASSERT_EQ(generated->size(), 4u);
  const auto result = validate(generated.value());
  EXPECT_EQ(result.exit_code, 0) << result.output;
  // One "passed" line per object: 1 + 6 (api) + 2 (worker) + 5 (db).
  std::size_t passed = 0;
  for (std::size_t at = 0; (at = result.output.find(" passed ", at)) != std::string::npos; ++at)
    ++passed;
  EXPECT_EQ(passed, 14u) << result.output;
}

TEST_F(KubernetesValidate, TheValidatorRejectsABrokenManifest) {
  // A control: the same run fails on a manifest the schemas refuse, so a pass above means
  // something.
  const auto result = validate({make_artifact(
      "k8s/bad.yaml",
      "---\napiVersion: \"apps/v1\"\nkind: \"Deployment\"\nmetadata:\n  name: \"x\"\n"
      "spec:\n  replicas: \"three\"\n  unknownField: 1\n")});
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("replicas"), std::string::npos) << result.output;
}

}  // namespace
}  // namespace axion::codegen
