// axion-server end to end: the real binary starts in embedded mode, answers its health
// endpoints and gRPC health, shuts down gracefully on SIGTERM, and refuses bad set-up (bad
// variables, a data dir in use, unreachable Kafka) with a clear message and a non-zero exit;
// and a kill -9 during a stream of commands loses or repeats no acknowledged command.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "axion/v1/project.grpc.pb.h"
#include "events/envelope.h"
#include "events/topics.h"
#include "tests/e2e/server_process.h"
#include "tests/integration/log_backends.h"


namespace axion::testing {
namespace {

using ::testing::HasSubstr;

TEST(AxionServer, ServesHealthInEmbeddedModeAndStopsGracefully) {
  const int http_port = free_port(), grpc_port = free_port();
  const std::string data = scratch_dir("server-data");
  ServerProcess server({"AXION_DATA_DIR=" + data,
                        "AXION_HTTP_ADDR=127.0.0.1:" + std::to_string(http_port),
                        "AXION_GRPC_ADDR=127.0.0.1:" + std::to_string(grpc_port),
                        "LOG_FORMAT=json"});
  ASSERT_GT(server.pid(), 0);
  httplib::Client http("127.0.0.1", http_port);
  ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server.log();

  auto health = http.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_THAT(health->body, HasSubstr("\"status\":\"ok\""));
  auto live = http.Get("/livez");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
  auto metrics = http.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_THAT(metrics->body, HasSubstr("axion_up 1"));
  EXPECT_THAT(metrics->body, HasSubstr("axion_log_embedded 1"));

  server.signal(SIGTERM);
  EXPECT_EQ(server.wait_exit(milliseconds(20000)), 0) << server.log();
  // Every log line is one JSON object.
  std::istringstream lines(server.log());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    EXPECT_EQ(line.front(), '{') << line;
    EXPECT_THAT(line, HasSubstr("\"level\":"));
  }
  EXPECT_GT(count, 1);
  EXPECT_THAT(server.log(), HasSubstr("axion-server stopped"));
}

TEST(AxionServer, RefusesBadConfigurationNamingTheVariable) {
  {
    ServerProcess server({"LOG_FORMAT=xml"});
    EXPECT_EQ(server.wait_exit(milliseconds(10000)), 2);
    EXPECT_THAT(server.log(), HasSubstr("LOG_FORMAT='xml'"));
  }
  {
    ServerProcess server({"AXION_TOPIC_PARTITIONS=lots"});
    EXPECT_EQ(server.wait_exit(milliseconds(10000)), 2);
    EXPECT_THAT(server.log(), HasSubstr("AXION_TOPIC_PARTITIONS='lots'"));
  }
  {
    ServerProcess server({"AXION_DATA_DIR=" + scratch_dir("server-data"),
                          "AXION_HTTP_ADDR=not-an-address"});
    EXPECT_EQ(server.wait_exit(milliseconds(10000)), 1);
    EXPECT_THAT(server.log(), HasSubstr("AXION_HTTP_ADDR='not-an-address'"));
  }
}

TEST(AxionServer, RefusesADataDirInUseByAnotherServer) {
  const std::string data = scratch_dir("server-data");
  const int http_port = free_port();
  ServerProcess first({"AXION_DATA_DIR=" + data,
                       "AXION_HTTP_ADDR=127.0.0.1:" + std::to_string(http_port),
                       "AXION_GRPC_ADDR=127.0.0.1:" + std::to_string(free_port())});
  httplib::Client http("127.0.0.1", http_port);
  ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << first.log();
  ServerProcess second({"AXION_DATA_DIR=" + data,
                        "AXION_HTTP_ADDR=127.0.0.1:" + std::to_string(free_port()),
                        "AXION_GRPC_ADDR=127.0.0.1:" + std::to_string(free_port())});
  EXPECT_EQ(second.wait_exit(milliseconds(10000)), 1);
  EXPECT_THAT(second.log(), HasSubstr("in use by another process"));
}

TEST(AxionServer, FailsClearlyWithinTheTimeoutWhenKafkaIsUnreachable) {
  ServerProcess server({"KAFKA_BROKERS=127.0.0.1:1", "AXION_KAFKA_TIMEOUT_MS=1500",
                        "AXION_HTTP_ADDR=127.0.0.1:" + std::to_string(free_port()),
                        "AXION_GRPC_ADDR=127.0.0.1:" + std::to_string(free_port())});
  // A hang guard, not a speed assertion: the server must give up on its own.
  EXPECT_EQ(server.wait_exit(milliseconds(30000)), 1) << server.log();
  EXPECT_THAT(server.log(), HasSubstr("127.0.0.1:1"));
  EXPECT_THAT(server.log(), HasSubstr("UNAVAILABLE"));
}

// kill -9 during a stream of RegisterProject commands: after a restart on the same data dir,
// every command acknowledged before the kill is answered the same on a retry with its
// idempotency key, and its ProjectRegistered event exists exactly once in the log.
TEST(AxionServer, AcknowledgedCommandsSurviveAKill9ExactlyOnce) {
  const std::string token = "e2e-token-0123456789abcdef";
  const std::string data = scratch_dir("server-data");
  const int http_port = free_port(), grpc_port = free_port();
  const std::vector<std::string> env = {
      "AXION_DATA_DIR=" + data, "AXION_HTTP_ADDR=127.0.0.1:" + std::to_string(http_port),
      "AXION_GRPC_ADDR=127.0.0.1:" + std::to_string(grpc_port),
      "AXION_API_TOKENS=alice=" + token};
  auto channel = [&] {
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(grpc_port),
                               grpc::InsecureChannelCredentials());
  };
  const auto send = [&](axion::v1::ProjectService::Stub& stub, int i,
                        axion::v1::RegisterProjectResponse* resp) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.AddMetadata("idempotency-key", "kill-" + std::to_string(i));
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    axion::v1::RegisterProjectRequest req;
    req.set_name("p-" + std::to_string(i));
    return stub.RegisterProject(&ctx, req, resp);
  };

  std::mutex mu;
  std::map<int, std::string> acked;  // command number -> project id
  {
    ServerProcess server(env);
    httplib::Client http("127.0.0.1", http_port);
    ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server.log();
    std::atomic<bool> stop{false};
    std::thread client([&] {
      auto stub = axion::v1::ProjectService::NewStub(channel());
      for (int i = 0; !stop; ++i) {
        axion::v1::RegisterProjectResponse resp;
        if (send(*stub, i, &resp).ok()) {
          std::lock_guard lock(mu);
          acked[i] = resp.project_id();
        }
      }
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      {
        std::lock_guard lock(mu);
        if (acked.size() >= 100) break;
      }
      std::this_thread::sleep_for(milliseconds(5));
    }
    server.signal(SIGKILL);  // mid-stream: calls are in flight
    EXPECT_EQ(server.wait_exit(milliseconds(10000)), 128 + SIGKILL);
    stop = true;
    client.join();
  }
  ASSERT_GE(acked.size(), 100u);

  {
    ServerProcess server(env);
    httplib::Client http("127.0.0.1", http_port);
    ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server.log();
    auto stub = axion::v1::ProjectService::NewStub(channel());
    for (const auto& [i, project] : acked) {
      axion::v1::RegisterProjectResponse resp;
      auto s = send(*stub, i, &resp);
      ASSERT_TRUE(s.ok()) << i << ": " << s.error_message();
      EXPECT_EQ(resp.project_id(), project) << i;
    }
    server.signal(SIGTERM);
    ASSERT_EQ(server.wait_exit(milliseconds(20000)), 0) << server.log();
  }

  auto log = log_backend("rocksdb").open(data + "/log");  // AXION_DATA_DIR/log
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  auto records = read_all(**log, std::string(events::kDeploymentEventsTopic));
  ASSERT_TRUE(records.ok()) << records.status().to_string();
  std::map<std::string, int> registered;
  for (const auto& r : *records) {
    auto e = events::parse_envelope(r);
    if (e.ok() && e->type() == "axion.v1.ProjectRegistered") ++registered[e->aggregate_id()];
  }
  for (const auto& [i, project] : acked) EXPECT_EQ(registered[project], 1) << i << " " << project;
}

TEST(AxionServer, RefusesBadApiTokensNamingTheVariableButNotTheToken) {
  ServerProcess server({"AXION_API_TOKENS=alice=short-secret"});
  EXPECT_EQ(server.wait_exit(milliseconds(10000)), 2);
  EXPECT_THAT(server.log(), HasSubstr("AXION_API_TOKENS entry 1"));
  EXPECT_THAT(server.log(), ::testing::Not(HasSubstr("short-secret")));
}

}  // namespace
}  // namespace axion::testing
