// The edge proxy against a real HAProxy and real HTTP services: a version switch under load
// (weights through the runtime API, a server added through a seamless reload) fails no request;
// a bad spec fails and changes nothing; a new runtime adopts the running HAProxy; a traffic
// report counts the requests and failures of the instances it names.
#include "agent/edge_proxy.h"

#include <gtest/gtest.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "tests/integration/edge_proxy_support.h"

namespace axion::testing {
namespace {

using agent::EdgeProxyOptions;
using agent::EdgeProxyRuntime;

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Alive and not a zombie waiting for its reaper (HAProxy's master is a daemon).
bool process_alive(pid_t pid) {
  if (pid <= 0 || kill(pid, 0) != 0) return false;
  const std::string stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  const auto paren = stat.rfind(')');
  return paren != std::string::npos && paren + 2 < stat.size() && stat[paren + 2] != 'Z';
}

class EdgeProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty()) << "cannot create a scratch directory";
    ASSERT_GT(v1_.port(), 0);
    ASSERT_GT(v2_.port(), 0);
    ASSERT_GT(v3_.port(), 0);
    runtime_ = make_runtime();
    // HAProxy is a test dependency (scripts/install-deps --test): missing, the test fails.
    ASSERT_TRUE(runtime_->available())
        << "haproxy is not installed: run scripts/install-deps --test (or set AXION_AGENT_HAPROXY)";
    listen_port_ = free_port();
    const auto done = switch_traffic({{"v1", v1_.address(), 100}, {"v2", v2_.address(), 0}});
    ASSERT_EQ(done.state(), axion::v1::TASK_STATE_SUCCEEDED) << done.detail();
    EXPECT_NE(done.detail().find("started HAProxy"), std::string::npos) << done.detail();
  }

  void TearDown() override {
    if (runtime_) runtime_->shutdown();
  }

  std::unique_ptr<EdgeProxyRuntime> make_runtime() {
    return std::make_unique<EdgeProxyRuntime>(EdgeProxyOptions{dir_.path(), "127.0.0.1", ""});
  }

  axion::v1::Task task(std::vector<std::tuple<std::string, std::string, unsigned>> backends,
                       const std::string& service = "web") {
    axion::v1::Task t;
    t.set_task_id("switch-" + std::to_string(++tasks_));
    t.set_kind(axion::v1::TASK_KIND_SWITCH_TRAFFIC);
    auto* p = t.mutable_spec()->mutable_proxy();
    p->set_service(service);
    p->set_listen_port(static_cast<unsigned>(listen_port_));
    p->set_protocol(axion::v1::PORT_PROTOCOL_HTTP);
    for (const auto& [id, address, weight] : backends) {
      auto* b = p->add_backends();
      b->set_instance_id(id);
      b->set_address(address);
      b->set_weight(weight);
    }
    return t;
  }

  axion::v1::TaskUpdate run(const axion::v1::Task& t) {
    runtime_->start(t, sink_);
    return sink_.wait_terminal(t.task_id());
  }

  axion::v1::TaskUpdate switch_traffic(
      std::vector<std::tuple<std::string, std::string, unsigned>> backends) {
    return run(task(std::move(backends)));
  }

  // Versions of `n` requests on fresh connections.
  std::map<std::string, int> sample(int n) {
    std::map<std::string, int> seen;
    for (int i = 0; i < n; ++i) ++seen[get_version_once(listen_port_)];
    return seen;
  }

  ScratchDir dir_;
  TestService v1_{"v1", "web-v1"};
  TestService v2_{"v2", "web-v2"};
  TestService v3_{"v3", "web-v3"};
  RecordingSink sink_;
  std::unique_ptr<EdgeProxyRuntime> runtime_;
  int listen_port_ = 0;
  int tasks_ = 0;
};

TEST_F(EdgeProxyTest, SwitchingVersionsUnderLoadFailsNoRequest) {
  EXPECT_EQ(sample(10), (std::map<std::string, int>{{"v1", 10}}));

  LoadGenerator load(listen_port_, 4);
  const auto progressed = [&](long from) {
    return eventually([&] { return load.total() >= from + 200; });
  };
  ASSERT_TRUE(progressed(0));

  auto half = switch_traffic({{"v1", v1_.address(), 50}, {"v2", v2_.address(), 50}});
  ASSERT_EQ(half.state(), axion::v1::TASK_STATE_SUCCEEDED) << half.detail();
  EXPECT_NE(half.detail().find("v1 weight 100->50; v2 weight 0->50"), std::string::npos)
      << half.detail();
  EXPECT_NE(half.detail().find("no reload"), std::string::npos) << half.detail();
  ASSERT_TRUE(eventually([&] { return load.answered_by("v2") >= 100; }));

  auto all = switch_traffic({{"v1", v1_.address(), 0}, {"v2", v2_.address(), 100}});
  ASSERT_EQ(all.state(), axion::v1::TASK_STATE_SUCCEEDED) << all.detail();
  EXPECT_NE(all.detail().find("no reload"), std::string::npos) << all.detail();
  ASSERT_TRUE(progressed(load.total()));

  // Adding (or removing) a server reloads HAProxy; a few reloads make a connection racing the
  // old worker's exit likely if the hand-over were not seamless.
  const pid_t master = runtime_->haproxy_pid().value_or(0);
  for (int round = 0; round < 3; ++round) {
    const bool with_v3 = round % 2 == 0;
    std::vector<std::tuple<std::string, std::string, unsigned>> backends = {
        {"v1", v1_.address(), 0}, {"v2", v2_.address(), 100}};
    if (with_v3) backends.emplace_back("v3", v3_.address(), 0);
    auto reloaded = switch_traffic(backends);
    ASSERT_EQ(reloaded.state(), axion::v1::TASK_STATE_SUCCEEDED) << reloaded.detail();
    EXPECT_NE(reloaded.detail().find("reloaded HAProxy"), std::string::npos) << reloaded.detail();
    EXPECT_NE(reloaded.detail().find(with_v3 ? "added server v3" : "removed server v3"),
              std::string::npos)
        << reloaded.detail();
    EXPECT_EQ(runtime_->haproxy_pid().value_or(-1), master) << "a reload keeps the master";
    ASSERT_TRUE(progressed(load.total()));
  }
  load.stop();

  EXPECT_EQ(load.failures(), 0) << [&] {
    std::string all_errors;
    for (const auto& e : load.errors()) all_errors += e + "\n";
    return all_errors;
  }();
  EXPECT_GT(load.answered_by("v1"), 0);
  EXPECT_GT(load.answered_by("v2"), 0);
  EXPECT_EQ(load.answered_by("v3"), 0) << "v3 was added drained";
  EXPECT_EQ(sample(20), (std::map<std::string, int>{{"v2", 20}}));
  // The config the next reload reads has the weights too.
  const std::string cfg = read_file(dir_.path() + "/proxy/haproxy.cfg");
  EXPECT_NE(cfg.find(" weight 100 check"), std::string::npos) << cfg;
}

TEST_F(EdgeProxyTest, BadSpecFailsWithAPreciseDetailAndChangesNothing) {
  const std::string cfg_before = read_file(dir_.path() + "/proxy/haproxy.cfg");
  const std::string state_before = read_file(dir_.path() + "/proxy/table.json");
  ASSERT_FALSE(cfg_before.empty());
  LoadGenerator load(listen_port_, 2);

  auto hostile = run(task({{"v1", v1_.address(), 100}}, "a;rm -rf /"));
  EXPECT_EQ(hostile.state(), axion::v1::TASK_STATE_FAILED);
  EXPECT_NE(hostile.detail().find("spec.proxy.service 'a;rm -rf /' is not a DNS label"),
            std::string::npos)
      << hostile.detail();
  auto heavy = switch_traffic({{"v1", v1_.address(), 300}, {"v2", v2_.address(), 0}});
  EXPECT_EQ(heavy.state(), axion::v1::TASK_STATE_FAILED);
  EXPECT_NE(heavy.detail().find("spec.proxy.backends[0].weight 300 is out of range"),
            std::string::npos)
      << heavy.detail();
  auto injected = switch_traffic({{"v1", v1_.address() + "\n    server x 1.2.3.4:80", 100}});
  EXPECT_EQ(injected.state(), axion::v1::TASK_STATE_FAILED);
  EXPECT_NE(injected.detail().find("spec.proxy.backends[0].address"), std::string::npos)
      << injected.detail();

  EXPECT_EQ(read_file(dir_.path() + "/proxy/haproxy.cfg"), cfg_before);
  EXPECT_EQ(read_file(dir_.path() + "/proxy/table.json"), state_before);
  const long before = load.total();
  ASSERT_TRUE(eventually([&] { return load.total() >= before + 100; }));
  load.stop();
  EXPECT_EQ(load.failures(), 0);
  EXPECT_EQ(load.answered_by("v2"), 0);
  EXPECT_EQ(sample(5), (std::map<std::string, int>{{"v1", 5}}));

  // A redelivered task is not run again: its terminal update is repeated.
  const axion::v1::Task again = task({{"v1", v1_.address(), 100}}, "a;rm -rf /");
  runtime_->start(again, sink_);
  ASSERT_EQ(sink_.wait_terminal(again.task_id()).state(), axion::v1::TASK_STATE_FAILED);
  runtime_->start(again, sink_);
  EXPECT_TRUE(eventually([&] { return sink_.of(again.task_id()).size() >= 4; }));
  runtime_->cancel(again.task_id());  // finished: ignored
  runtime_->cancel("never-seen");
}

TEST_F(EdgeProxyTest, TrafficReportCountsTheFailuresOfTheNamedInstances) {
  TestService broken("v4", "web-v4", {"--error-percent", "50"});
  ASSERT_GT(broken.port(), 0);
  auto both = switch_traffic({{"v1", v1_.address(), 100}, {"v4", broken.address(), 100}});
  ASSERT_EQ(both.state(), axion::v1::TASK_STATE_SUCCEEDED) << both.detail();
  const auto seen = sample(200);
  int failed = 0;
  for (const auto& [answer, n] : seen)
    if (answer.rfind("HTTP 500", 0) == 0) failed += n;
  ASSERT_GT(failed, 20) << "the broken instance answered no 500s";

  const auto report = [&](std::vector<std::string> instances, const std::string& service) {
    axion::v1::Task t;
    t.set_task_id("report-" + std::to_string(++tasks_));
    t.set_kind(axion::v1::TASK_KIND_REPORT_TRAFFIC);
    t.mutable_spec()->mutable_proxy()->set_service(service);
    for (const auto& i : instances)
      t.mutable_spec()->mutable_proxy()->add_backends()->set_instance_id(i);
    return run(t);
  };
  const auto bad = report({"v4"}, "web");
  ASSERT_EQ(bad.state(), axion::v1::TASK_STATE_SUCCEEDED) << bad.detail();
  EXPECT_EQ(bad.failed_requests(), static_cast<std::uint64_t>(failed)) << bad.detail();
  EXPECT_GE(bad.requests(), bad.failed_requests());
  EXPECT_GT(bad.error_rate(), 0.3) << bad.detail();
  EXPECT_LT(bad.error_rate(), 0.7) << bad.detail();
  EXPECT_NE(bad.detail().find("v4 " + std::to_string(failed) + "/"), std::string::npos)
      << bad.detail();
  const auto good = report({"v1", "gone"}, "web");
  ASSERT_EQ(good.state(), axion::v1::TASK_STATE_SUCCEEDED) << good.detail();
  EXPECT_EQ(good.failed_requests(), 0u);
  EXPECT_GT(good.requests(), 50u);
  EXPECT_EQ(good.error_rate(), 0);
  EXPECT_NE(good.detail().find("gone not in the proxy"), std::string::npos) << good.detail();
  EXPECT_EQ(bad.requests() + good.requests(), 200u);

  const auto unknown = report({"v1"}, "api");
  EXPECT_EQ(unknown.state(), axion::v1::TASK_STATE_FAILED);
  EXPECT_NE(unknown.detail().find("routes no traffic of service 'api'"), std::string::npos)
      << unknown.detail();
  const auto hostile = report({"v1;reload"}, "web");
  EXPECT_EQ(hostile.state(), axion::v1::TASK_STATE_FAILED);
  EXPECT_NE(hostile.detail().find("instance ids must be DNS labels"), std::string::npos)
      << hostile.detail();
}

TEST_F(EdgeProxyTest, ANewRuntimeAdoptsTheRunningHaproxy) {
  const auto master = runtime_->haproxy_pid();
  ASSERT_TRUE(master.has_value());
  runtime_.reset();  // the agent stops; HAProxy keeps serving
  EXPECT_TRUE(process_alive(*master));
  EXPECT_EQ(sample(3), (std::map<std::string, int>{{"v1", 3}}));

  runtime_ = make_runtime();
  EXPECT_EQ(runtime_->haproxy_pid(), master);
  auto moved = switch_traffic({{"v1", v1_.address(), 0}, {"v2", v2_.address(), 10}});
  ASSERT_EQ(moved.state(), axion::v1::TASK_STATE_SUCCEEDED) << moved.detail();
  EXPECT_NE(moved.detail().find("no reload"), std::string::npos) << moved.detail();
  EXPECT_EQ(runtime_->haproxy_pid(), master) << "not started twice";
  EXPECT_EQ(sample(10), (std::map<std::string, int>{{"v2", 10}}));

  runtime_->shutdown();
  EXPECT_TRUE(eventually([&] { return !process_alive(*master); }));
  EXPECT_FALSE(runtime_->haproxy_pid().has_value());
  EXPECT_FALSE(agent::proxy::tcp_accepts("127.0.0.1", static_cast<std::uint16_t>(listen_port_)));
}

}  // namespace
}  // namespace axion::testing
