// The axion CLI's refusals end to end, against a real axion-server (tests/e2e/agent_fixture.h):
// each kind of bad input or unreachable server exits with the code cli/connection.h documents
// (2 invalid input, 3 unreachable or unauthenticated, 1 refused by the server — NOT_FOUND among
// them) and says what is wrong in words a person can act on.
#include "tests/e2e/agent_fixture.h"
#include "tests/e2e/cli_runner.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliInputE2E : public AgentE2E {
 protected:
  CliResult axion(const std::vector<std::string>& args) {
    return run_cli(args, {"AXION_ADDR=" + address(), "AXION_TOKEN=" + kApiToken});
  }
};

TEST_F(CliInputE2E, AProjectFileWithAnErrorExitsTwoNamingFileLineColumnAndField) {
  const std::string dir = scratch_dir("cli-input");
  const std::string file = dir + "/axion.yaml";
  const std::string bad_line = "    ports: [{name: http, port: 70000}]";
  std::ofstream(file) << "project: shop\n"
                         "services:\n"
                         "  web:\n"
                         "    command: [web-server]\n"
                      << bad_line << "\n";
  const auto column = std::to_string(bad_line.find("70000") + 1);
  const auto r = axion({"project", "publish", "-f", file});
  EXPECT_EQ(r.exit, 2) << r.said();
  EXPECT_THAT(r.err, HasSubstr(file + ":5:" + column + ": services.web.ports[0].port: "))
      << r.said();
  EXPECT_THAT(r.err, HasSubstr("70000")) << r.said();
  // Refused before anything reached the server: no project was registered.
  const auto listed = axion({"project", "list"});
  ASSERT_EQ(listed.exit, 0) << listed.said();
  EXPECT_THAT(listed.out, Not(HasSubstr("shop"))) << listed.said();
}

TEST_F(CliInputE2E, AMissingProjectFileExitsTwoNamingIt) {
  const std::string file = scratch_dir("cli-input") + "/nowhere.yaml";
  const auto r = axion({"project", "publish", "-f", file});
  EXPECT_EQ(r.exit, 2) << r.said();
  EXPECT_THAT(r.err, HasSubstr("cannot read " + file)) << r.said();
}

TEST_F(CliInputE2E, AnUnknownFlagExitsTwoNamingIt) {
  const auto r = axion({"project", "list", "--no-such-flag"});
  EXPECT_EQ(r.exit, 2) << r.said();
  EXPECT_THAT(r.err, HasSubstr("--no-such-flag")) << r.said();
  const auto strategy = axion({"deploy", "-p", "shop", "--strategy", "sideways"});
  EXPECT_EQ(strategy.exit, 2) << strategy.said();
  EXPECT_THAT(strategy.err, HasSubstr("sideways")) << strategy.said();
}

TEST_F(CliInputE2E, AClosedPortExitsThreeSayingTheServerCannotBeReached) {
  const std::string closed = "127.0.0.1:" + std::to_string(free_port());
  const auto r = run_cli({"--addr", closed, "project", "list"}, {"AXION_TOKEN=" + kApiToken});
  EXPECT_EQ(r.exit, 3) << r.said();
  EXPECT_THAT(r.err, HasSubstr("cannot reach axion-server at " + closed)) << r.said();
  EXPECT_THAT(r.err, HasSubstr("--addr")) << r.said();
  EXPECT_EQ(r.out, "") << r.said();
}

TEST_F(CliInputE2E, AWrongTokenExitsThreeSayingTheTokenWasRefused) {
  const auto r = run_cli({"--token", "not-the-token-0123456789", "project", "list"},
                         {"AXION_ADDR=" + address()});
  EXPECT_EQ(r.exit, 3) << r.said();
  EXPECT_THAT(r.err, HasSubstr("refused the API token")) << r.said();
  const auto none = run_cli({"project", "list"}, {"AXION_ADDR=" + address()});
  EXPECT_EQ(none.exit, 3) << none.said();
  EXPECT_THAT(none.err, HasSubstr("AXION_TOKEN")) << none.said();
}

TEST_F(CliInputE2E, StatusOfAnUnknownDeploymentExitsOneSayingItIsNotFound) {
  const std::string id = "0b7a1c1e-0000-4000-8000-000000000000";
  const auto r = axion({"status", id});
  EXPECT_EQ(r.exit, 1) << r.said();
  EXPECT_THAT(r.err, HasSubstr(id)) << r.said();
  const auto cancel = axion({"cancel", id});
  EXPECT_EQ(cancel.exit, 1) << cancel.said();
}

}  // namespace
}  // namespace axion::testing
