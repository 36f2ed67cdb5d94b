// The CLI end-to-end tests' fixture: the deployment fixture's axion-server and two agents
// (tests/e2e/deployment_fixture.h), driven through the real `axion` command (cli_runner.h).
// The example project (examples/shop) is copied into the scratch directory with free published
// ports and the example's program, also copied there, named by its path: the agents find it
// without a PATH, and TearDown finds what they started by that path.
#pragma once

#include <nlohmann/json.hpp>
#include <regex>

#include "tests/e2e/cli_runner.h"
#include "tests/e2e/deployment_fixture.h"

namespace axion::testing {

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::trunc) << text;
}

// Replaces every `from` in `text`; how many there were.
inline int replace_all(std::string& text, const std::string& from, const std::string& to) {
  int n = 0;
  for (auto at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
    ++n;
  }
  return n;
}

// stdout as JSON; null (and a test failure naming what was said) if it is not JSON.
inline nlohmann::json json_of(const CliResult& r) {
  auto j = nlohmann::json::parse(r.out, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "not JSON: " << r.said();
    return nullptr;
  }
  return j;
}

// The id in a watch's headline "deployment <id> (<env>, graph v<n>): ..."; "" if none yet.
inline std::string headline_id(const std::string& out) {
  std::smatch m;
  static const std::regex headline(R"(deployment (\S+) \()");
  return std::regex_search(out, m, headline) ? m[1].str() : "";
}

class CliE2E : public DeploymentE2E {
 protected:
  void SetUp() override {
    DeploymentE2E::SetUp();
    if (HasFatalFailure()) return;
    shop_bin_ = dir_ + "/bin/axion-example-shop";
    std::filesystem::create_directories(dir_ + "/bin");
    std::filesystem::copy_file(AXION_EXAMPLE_SHOP_BIN, shop_bin_);
    web_port_ = free_port();
    api_port_ = free_port();
    worker_port_ = free_port();
    v1_file_ = copy_example("axion.yaml");
    v2_file_ = copy_example("axion.v2.yaml");
  }

  // examples/shop/<name> in the scratch directory, with this test's ports and program path.
  std::string copy_example(const std::string& name) {
    std::string text = read_file(std::string(AXION_EXAMPLES_DIR) + "/shop/" + name);
    EXPECT_EQ(replace_all(text, "18080", std::to_string(web_port_)), 2) << name;
    EXPECT_EQ(replace_all(text, "18081", std::to_string(api_port_)), 2) << name;
    EXPECT_EQ(replace_all(text, "18082", std::to_string(worker_port_)), 2) << name;
    // The path last: the ports are looked for in the example's text only.
    EXPECT_EQ(replace_all(text, "[axion-example-shop,", "[\"" + shop_bin_ + "\","), 3) << name;
    const std::string path = dir_ + "/" + name;
    write_text(path, text);
    return path;
  }

  // A one-service project `name` whose web is published on `port` with `health`.
  std::string one_service_project(const std::string& name, int port, const std::string& health) {
    const std::string path = dir_ + "/" + name + ".yaml";
    write_text(path, "project: " + name +
                         "\n"
                         "services:\n"
                         "  web:\n"
                         "    image: axion-example/shop:1\n"
                         "    command: [\"" +
                         shop_bin_ + "\", --role, web, --version, " + name +
                         "]\n"
                         "    ports: [{name: http, port: 8080, publish: " +
                         std::to_string(port) +
                         ", protocol: http}]\n"
                         "    health: " +
                         health + "\n");
    return path;
  }

  // `axion <args>` against the fixture's server with its API token (AXION_ADDR, AXION_TOKEN).
  CliResult axion(const std::vector<std::string>& args) { return run_cli(args, cli_env()); }
  std::vector<std::string> cli_env() const {
    return {"AXION_ADDR=" + address(), "AXION_TOKEN=" + kApiToken};
  }

  // Publishes `file`; fails the test unless the CLI says it did.
  void publish_file(const std::string& file) {
    const auto r = axion({"project", "publish", "-f", file});
    ASSERT_EQ(r.exit, 0) << r.said();
  }

  // `axion deploy -p <project> -e demo --watch -o json <extra>`: the result and the id.
  struct Watched {
    CliResult run;
    std::string id;
  };
  Watched deploy_watch(const std::string& project, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"deploy", "-p",      project, "-e",
                                     "demo",   "--watch", "-o",    "json"};
    args.insert(args.end(), extra.begin(), extra.end());
    Watched w{axion(args), ""};
    const auto j = json_of(w.run);
    if (j.is_object()) w.id = j.value("deploymentId", "");
    return w;
  }

  std::string shop_bin_, v1_file_, v2_file_;
  int web_port_ = 0, api_port_ = 0, worker_port_ = 0;
};

}  // namespace axion::testing
