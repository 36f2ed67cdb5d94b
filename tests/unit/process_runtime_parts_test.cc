// The process runtime's pure parts: health thresholds, log rotation naming, the instance record
// round trip, the service environment with its ports, the restart policy, and following output
// files line by line (LogLines).
#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "agent/health_probe.h"
#include "agent/instance_env.h"
#include "agent/instance_logs.h"
#include "agent/instance_record.h"
#include "agent/process_runtime.h"

namespace axion::agent {
namespace {

namespace v1 = axion::v1;
using Verdict = HealthTracker::Verdict;

TEST(HealthTracker, BecomesHealthyAfterConsecutivePasses) {
  HealthPolicy p;
  p.healthy_threshold = 2;
  HealthTracker t(p);
  EXPECT_EQ(t.record(true, false), Verdict::kPending);
  EXPECT_EQ(t.record(false, false), Verdict::kPending);  // resets the passes
  EXPECT_EQ(t.record(true, false), Verdict::kPending);
  EXPECT_EQ(t.record(true, false), Verdict::kHealthy);
}

TEST(HealthTracker, FailuresInTheStartPeriodDoNotCount) {
  HealthPolicy p;
  p.unhealthy_threshold = 2;
  HealthTracker t(p);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.record(false, true), Verdict::kPending);
  EXPECT_EQ(t.record(false, false), Verdict::kPending);
  EXPECT_EQ(t.record(false, false), Verdict::kUnhealthy);
}

TEST(HealthPolicy, DefaultsFillWhatIsUnset) {
  v1::HealthCheck check;
  check.mutable_interval()->set_nanos(200000000);
  check.set_unhealthy_threshold(5);
  const HealthPolicy p = health_policy(check);
  EXPECT_EQ(p.interval.count(), 200);
  EXPECT_EQ(p.timeout.count(), 1000);
  EXPECT_EQ(p.healthy_threshold, 1u);
  EXPECT_EQ(p.unhealthy_threshold, 5u);
}

TEST(ProbePort, MapsTheContainerPortToTheAllocatedOne) {
  const std::vector<PortBinding> ports{{"http", 8080, 41000}, {"admin", 9090, 41001}};
  EXPECT_EQ(probe_port(9090, ports), 41001u);
  EXPECT_EQ(probe_port(0, ports), 41000u);
  EXPECT_EQ(probe_port(7000, ports), 7000u);
}

TEST(LogRotation, ShiftsOldestFirstAndKeepsN) {
  EXPECT_EQ(rotated_name("out.log", 0), "out.log");
  EXPECT_EQ(rotated_name("out.log", 2), "out.log.2");
  const auto renames = rotation_renames("out.log", 3);
  ASSERT_EQ(renames.size(), 2u);
  EXPECT_EQ(renames[0], std::make_pair(std::string("out.log.2"), std::string("out.log.3")));
  EXPECT_EQ(renames[1], std::make_pair(std::string("out.log.1"), std::string("out.log.2")));
  EXPECT_TRUE(rotation_renames("out.log", 1).empty());
}

TEST(InstanceRecord, RoundTripsThroughJson) {
  InstanceRecord r;
  r.instance_id = "web-1";
  r.service = "web";
  r.task_id = "t-1";
  r.pid = 4242;
  r.start_time = 123456789;
  r.ports = {{"http", 8080, 41000}};
  r.state = "running";
  r.restart_count = 2;
  r.finished = true;
  r.terminal_state = v1::TASK_STATE_FAILED;
  r.detail = "exited with code 2";
  r.exit_code = 2;
  r.output = "bad \xff byte\n";
  r.spec.set_service("web");
  r.spec.add_argv("/bin/true");
  (*r.spec.mutable_env())["A"] = "b";
  r.spec_hash = spec_hash(r.spec);
  auto back = record_from_json(record_to_json(r));
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  r.output = back->output;  // invalid UTF-8 is replaced, not kept
  EXPECT_EQ(*back, r);
  EXPECT_FALSE(record_from_json("{\"pid\": 1}").ok());
}

TEST(SpecHash, ChangesWithTheSpecOnly) {
  v1::ProcessSpec a;
  a.add_argv("/bin/x");
  (*a.mutable_env())["K"] = "1";
  (*a.mutable_env())["L"] = "2";
  v1::ProcessSpec b = a;
  EXPECT_EQ(spec_hash(a), spec_hash(b));
  b.add_argv("--flag");
  EXPECT_NE(spec_hash(a), spec_hash(b));
}

TEST(Environment, ExportsInstanceServiceAndPorts) {
  v1::ProcessSpec spec;
  spec.set_service("web");
  spec.set_instance_id("web-1");
  (*spec.mutable_env())["GREETING"] = "hi";
  (*spec.mutable_env())["PORT"] = "1";  // the agent's allocation wins
  const auto env =
      build_environment(spec, {{"http", 0, 41000}, {"admin-api", 0, 41001}}, "/usr/bin");
  const auto has = [&](const std::string& v) {
    return std::find(env.begin(), env.end(), v) != env.end();
  };
  EXPECT_TRUE(has("AXION_INSTANCE_ID=web-1"));
  EXPECT_TRUE(has("AXION_SERVICE=web"));
  EXPECT_TRUE(has("GREETING=hi"));
  EXPECT_TRUE(has("PORT=41000"));
  EXPECT_TRUE(has("PORT_HTTP=41000"));
  EXPECT_TRUE(has("PORT_ADMIN_API=41001"));
  EXPECT_TRUE(has("PATH=/usr/bin"));
  EXPECT_FALSE(has("PORT=1"));
}

TEST(RestartPolicy, DecidesByPolicyAndExit) {
  const ExitStatus clean{true, 0, 0}, crashed{true, 137, 9}, unknown{false, -1, 0};
  EXPECT_FALSE(should_restart(v1::RESTART_POLICY_NO, crashed));
  EXPECT_TRUE(should_restart(v1::RESTART_POLICY_ALWAYS, clean));
  EXPECT_FALSE(should_restart(v1::RESTART_POLICY_UNSPECIFIED, clean));
  EXPECT_TRUE(should_restart(v1::RESTART_POLICY_ON_FAILURE, crashed));
  EXPECT_TRUE(should_restart(v1::RESTART_POLICY_ON_FAILURE, unknown));
  EXPECT_EQ(next_backoff(std::chrono::milliseconds(1000), std::chrono::milliseconds(30000)).count(),
            2000);
  EXPECT_EQ(
      next_backoff(std::chrono::milliseconds(20000), std::chrono::milliseconds(30000)).count(),
      30000);
}

}  // namespace
}  // namespace axion::agent

namespace axion::agent {
namespace {

class LineFollowerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/axion-follow-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/stdout.log";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  void append(const std::string& text) { std::ofstream(path_, std::ios::app) << text; }

  std::string dir_, path_;
};

TEST_F(LineFollowerTest, ReturnsCompleteLinesAndHoldsAPartialOne) {
  append("before\n");
  LineFollower follow(path_, file_size(path_));  // starts after what was there
  EXPECT_TRUE(follow.next_lines(10, 100).empty());
  append("one\ntwo\nthr");
  EXPECT_EQ(follow.next_lines(10, 100), (std::vector<std::string>{"one", "two"}));
  EXPECT_TRUE(follow.next_lines(10, 100).empty());
  append("ee\n\n");
  EXPECT_EQ(follow.next_lines(10, 100), (std::vector<std::string>{"three", ""}));
}

TEST_F(LineFollowerTest, BoundsLinesPerCallAndCutsLongLines) {
  LineFollower follow(path_, 0);
  append("a\nb\nc\n" + std::string(25, 'x') + "\n");
  EXPECT_EQ(follow.next_lines(2, 10), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(follow.next_lines(10, 10),
            (std::vector<std::string>{"c", std::string(10, 'x'), std::string(10, 'x'),
                                      std::string(5, 'x')}));
  append(std::string(10, 'y'));  // exactly the limit, no newline yet: cut
  EXPECT_EQ(follow.next_lines(10, 10), (std::vector<std::string>{std::string(10, 'y')}));
  append("\nz\n");
  EXPECT_EQ(follow.next_lines(10, 10), (std::vector<std::string>{"", "z"}));
}

TEST_F(LineFollowerTest, FollowsARotatedFileFromItsStart) {
  append("old line that is long\n");
  LineFollower follow(path_, file_size(path_));
  std::filesystem::resize_file(path_, 0);  // rotation truncates in place
  append("new\n");
  EXPECT_EQ(follow.next_lines(10, 100), (std::vector<std::string>{"new"}));
  EXPECT_EQ(follow.offset(), 4u);
}

TEST_F(LineFollowerTest, AMissingFileHasNoLines) {
  LineFollower follow(dir_ + "/absent.log", 0);
  EXPECT_TRUE(follow.next_lines(10, 100).empty());
  EXPECT_EQ(file_size(dir_ + "/absent.log"), 0u);
}

}  // namespace
}  // namespace axion::agent
