// /metrics end to end (tests/e2e/deployment_fixture.h): after a real deployment through the
// real axion-server and two real axion-agents, the page parses strictly as Prometheus text
// (tests/support/prometheus_parse.h) and shows the deployment by status, the append and command
// latency histograms, the commands and the agents online — which follow an agent that goes
// away; and the health endpoints answer 200.
#include "tests/e2e/deployment_fixture.h"
#include "tests/support/prometheus_parse.h"

namespace axion::testing {
namespace {

class MetricsE2E : public DeploymentE2E {
 protected:
  PromPage scrape() {
    httplib::Client http("127.0.0.1", http_port_);
    auto res = http.Get("/metrics");
    if (!res || res->status != 200) {
      PromPage failed;
      failed.error = res ? "HTTP " + std::to_string(res->status) : "no answer";
      return failed;
    }
    EXPECT_THAT(res->get_header_value("Content-Type"), ::testing::HasSubstr("text/plain"));
    return parse_prometheus(res->body);
  }
};

TEST_F(MetricsE2E, AfterADeploymentMetricsParseStrictlyAndCountWhatHappened) {
  publish("v1");
  const auto done = wait_end(deploy());
  ASSERT_EQ(done.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << done.ShortDebugString();

  const PromPage page = scrape();
  ASSERT_EQ(page.error, "") << server_->log();
  // Deployments by status: every status a series, the success counted (the views showed it).
  EXPECT_EQ(page.types.at("axion_deployments"), "gauge");
  for (const char* status :
       {"PENDING", "BUILDING", "PROVISIONING", "DEPLOYING", "SUCCESS", "FAILED", "CANCELLED"}) {
    bool found = false;
    for (const auto& s : page.samples)
      found = found || (s.name == "axion_deployments" && s.labels.at("status") == status);
    EXPECT_TRUE(found) << "no axion_deployments{status=\"" << status << "\"}";
  }
  EXPECT_GE(page.sum("axion_deployments", {{"status", "SUCCESS"}}), 1);
  EXPECT_EQ(page.sum("axion_deployments", {{"status", "FAILED"}}), 0);
  // The write path: commands decided, their appends and their latency measured.
  EXPECT_GT(page.sum("axion_commands_total"), 0);
  EXPECT_EQ(page.types.at("axion_log_append_seconds"), "histogram");
  EXPECT_GT(page.sum("axion_log_append_seconds_count", {{"writer", "commands"}}), 0);
  EXPECT_GT(page.sum("axion_log_append_seconds_count", {{"writer", "saga"}}), 0);
  EXPECT_GT(page.sum("axion_log_append_seconds_sum"), 0);
  EXPECT_EQ(page.types.at("axion_command_duration_seconds"), "histogram");
  EXPECT_GE(page.sum("axion_command_duration_seconds_count"), page.sum("axion_commands_total"))
      << "every decided command is timed (the saga's too: they all carry issued_at)";
  // Both agents are connected to this server.
  EXPECT_EQ(page.types.at("axion_agents_online"), "gauge");
  EXPECT_EQ(page.sum("axion_agents_online"), 2);

  httplib::Client http("127.0.0.1", http_port_);
  for (const char* path : {"/healthz", "/livez", "/readyz"}) {
    auto res = http.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path << ": " << res->body;
  }

  // An agent that goes away is no longer online.
  agents_running_.pop_back();  // SIGKILL: its stream ends
  EXPECT_TRUE(eventually([&] {
    const PromPage later = scrape();
    return later.error.empty() && later.sum("axion_agents_online") == 1;
  })) << server_->log();
}

// A server asked to stop while it is scraped and probed stops cleanly: the probes and the page
// never read a part stop() has destroyed (the sanitizer passes would see it), and the page
// keeps parsing until the HTTP server goes.
TEST_F(MetricsE2E, StoppingWhileScrapedAndProbedEndsCleanly) {
  publish("v1");
  ASSERT_EQ(wait_end(deploy()).status(), v1::DEPLOYMENT_STATUS_SUCCESS);
  std::atomic<bool> done{false};
  std::atomic<int> pages{0};
  std::atomic<int> broken{0};
  std::vector<std::thread> scrapers;
  for (int t = 0; t < 3; ++t) {
    scrapers.emplace_back([&, t] {
      httplib::Client http("127.0.0.1", http_port_);
      http.set_connection_timeout(std::chrono::seconds(1));
      http.set_read_timeout(std::chrono::seconds(5));
      while (!done) {
        auto res = http.Get(t == 0 ? "/readyz" : "/metrics");
        if (!res || t == 0) continue;
        if (res->status == 200 && !parse_prometheus(res->body).error.empty()) ++broken;
        ++pages;
      }
    });
  }
  EXPECT_TRUE(eventually([&] { return pages.load() > 10; }));
  server_->signal(SIGTERM);
  const int code = server_->wait_exit(std::chrono::milliseconds(60000));
  done = true;
  for (auto& t : scrapers) t.join();
  EXPECT_EQ(code, 0) << server_->log();
  EXPECT_EQ(broken.load(), 0);
}

}  // namespace
}  // namespace axion::testing
