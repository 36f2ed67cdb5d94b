// Interoperability with a gRPC client written by others: grpcurl (built by scripts/install-deps
// --test; its path in AXION_GRPCURL) discovers Axion's services through server reflection —
// no .proto files — and calls them with JSON, as an operator would.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "tests/e2e/cli_runner.h"
#include "tests/e2e/server_process.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct ToolRun {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

// Runs argv (never a shell string), capturing its output.
ToolRun run(const std::vector<std::string>& args) {
  const CliResult r = run_program(args.at(0), {args.begin() + 1, args.end()});
  return {r.exit, r.out + r.err};
}

TEST(GrpcurlInterop, DiscoversServicesByReflectionAndCallsThemWithJson) {
  const char* grpcurl = std::getenv("AXION_GRPCURL");
  ASSERT_TRUE(grpcurl && *grpcurl)
      << "AXION_GRPCURL is not set: run scripts/test, which builds grpcurl";
  const int http_port = free_port(), grpc_port = free_port();
  const std::string addr = "127.0.0.1:" + std::to_string(grpc_port);
  ServerProcess server({"AXION_DATA_DIR=" + scratch_dir("grpcurl-data"),
                        "AXION_HTTP_ADDR=127.0.0.1:" + std::to_string(http_port),
                        "AXION_GRPC_ADDR=" + addr, "AXION_API_TOKENS=ci=tok-interop-0123456789abcdef"});
  httplib::Client http("127.0.0.1", http_port);
  ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server.log();

  ToolRun list = run({grpcurl, "-plaintext", addr, "list"});
  ASSERT_EQ(list.exit_code, 0) << list.output;
  EXPECT_THAT(list.output, HasSubstr("axion.v1.ProjectService"));
  EXPECT_THAT(list.output, HasSubstr("axion.v1.DeploymentService"));
  EXPECT_THAT(list.output, HasSubstr("axion.v1.InfrastructureService"));

  const std::vector<std::string> call = {grpcurl, "-plaintext", "-H",
                                         "authorization: Bearer tok-interop-0123456789abcdef"};
  auto with = [&](std::vector<std::string> tail) {
    std::vector<std::string> args = call;
    args.insert(args.end(), tail.begin(), tail.end());
    return args;
  };
  ToolRun registered = run(with({"-d", R"({"name":"shop","owner":"team-a","idempotencyKey":"k-1"})",
                             addr, "axion.v1.ProjectService/RegisterProject"}));
  ASSERT_EQ(registered.exit_code, 0) << registered.output;
  EXPECT_THAT(registered.output, HasSubstr("\"project_id\""));
  EXPECT_THAT(registered.output, HasSubstr("\"positions\""));

  ToolRun retried = run(with({"-d", R"({"name":"shop","owner":"team-a","idempotencyKey":"k-1"})",
                          addr, "axion.v1.ProjectService/RegisterProject"}));
  ASSERT_EQ(retried.exit_code, 0) << retried.output;
  EXPECT_EQ(retried.output, registered.output);  // same ids, same positions

  ToolRun hostile = run(with({"-d", R"({"name":"a;rm -rf /"})", addr,
                          "axion.v1.ProjectService/RegisterProject"}));
  EXPECT_NE(hostile.exit_code, 0);
  EXPECT_THAT(hostile.output, HasSubstr("InvalidArgument"));

  ToolRun anonymous = run({grpcurl, "-plaintext", "-d", R"({"name":"shop2"})", addr,
                       "axion.v1.ProjectService/RegisterProject"});
  EXPECT_NE(anonymous.exit_code, 0);
  EXPECT_THAT(anonymous.output, HasSubstr("Unauthenticated"));
  EXPECT_THAT(server.log(), Not(HasSubstr("tok-interop-0123456789abcdef")));  // tokens are never logged
}

}  // namespace
}  // namespace axion::testing
