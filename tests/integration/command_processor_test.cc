// The command side end to end over a real log (embedded and the real Kafka broker): commands go
// through the CommandBus, the CommandProcessor decides them with the Project aggregate, and the
// events, results and offsets land in one atomic append. Covers positions in results, idempotent
// retries, optimistic concurrency, refusals that append nothing, state rebuilt after a restart,
// and one accepted deployment out of many concurrent ones.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/project.pb.h"
#include "commands/aggregate_kinds.h"
#include "commands/command_bus.h"
#include "commands/command_processor.h"
#include "events/envelope.h"
#include "events/topics.h"
#include "tests/integration/log_backends.h"
#include "tests/integration/project_commands.h"

namespace axion::testing {
namespace {

using std::chrono::milliseconds;
namespace v1 = axion::v1;

constexpr auto kWait = milliseconds(60000);

class CommandSide : public ::testing::TestWithParam<LogBackend> {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("commands-" + GetParam().name);
    auto log = GetParam().open(dir_);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    log_ = std::move(log).value();
    // Fresh topic names per test, so runs on the shared broker never see each other.
    suffix_ = unique_name("t");
    options_.commands_topic = "cmd-" + suffix_;
    options_.results_topic = "res-" + suffix_;
    for (const auto& t : {options_.commands_topic, options_.results_topic,
                          std::string(events::kDeploymentEventsTopic),
                          std::string(events::kInfrastructureEventsTopic)}) {
      ASSERT_TRUE(log_->ensure_topic({t, events::kDefaultPartitions}).ok());
    }
    options_.group = "processor-" + suffix_;
    options_.transactional_id = "processor-" + suffix_;
    options_.clock = wall_ms;
    start_processor();
    bus_ = std::make_unique<commands::CommandBus>(*log_, "gw-" + suffix_, options_.commands_topic,
                                                  options_.results_topic);
    Status bus_started = bus_->start();
    ASSERT_TRUE(bus_started.ok()) << bus_started.to_string();
  }
  void TearDown() override {
    bus_.reset();
    processor_.reset();
  }

  void start_processor() {
    processor_ = std::make_unique<commands::CommandProcessor>(
        *log_, std::vector<const commands::AggregateKind*>{&commands::project_kind(),
                                                           &commands::cluster_kind()},
        options_);
    ASSERT_TRUE(processor_->start().ok());
  }

  v1::CommandResult submit(const v1::CommandEnvelope& c) {
    auto result = bus_->submit(c, kWait);
    EXPECT_TRUE(result.ok()) << result.status().to_string();
    return result.ok() ? *result : v1::CommandResult();
  }

  std::int64_t events_end(const std::string& project) {
    std::int64_t total = 0;
    for (int p = 0; p < events::kDefaultPartitions; ++p) {
      auto e = log_->end_offset({std::string(events::kDeploymentEventsTopic), p});
      total += e.ok() ? *e : 0;
    }
    (void)project;
    return total;
  }

  std::string dir_, suffix_;
  std::unique_ptr<events::EventLog> log_;
  commands::ProcessorOptions options_;
  std::unique_ptr<commands::CommandProcessor> processor_;
  std::unique_ptr<commands::CommandBus> bus_;
};

TEST_P(CommandSide, AcceptedCommandAnswersWithThePositionsOfItsEvents) {
  const std::string project = unique_name("proj");
  auto result = submit(envelope(project, register_project(project)));
  ASSERT_EQ(result.status_code(), 0) << result.message();
  ASSERT_EQ(result.positions_size(), 1);
  EXPECT_EQ(result.aggregate_version(), 1u);
  const auto& pos = result.positions(0);
  auto read = log_->read({pos.topic(), pos.partition()}, pos.offset(), 1, milliseconds(5000));
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 1u);
  auto event = events::parse_envelope(read->front());
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->type(), "axion.v1.ProjectRegistered");
  EXPECT_EQ(event->aggregate_id(), project);
  EXPECT_EQ(event->sequence(), 1u);
  EXPECT_EQ(event->actor(), "alice");
  EXPECT_EQ(event->causation_id(), result.command_id());
}

TEST_P(CommandSide, RetryWithTheSameIdempotencyKeyReturnsTheFirstResultAndAppendsNothing) {
  const std::string project = unique_name("proj");
  auto first = submit(envelope(project, register_project(project), "key-1"));
  ASSERT_EQ(first.status_code(), 0) << first.message();
  const std::int64_t before = events_end(project);
  auto again = submit(envelope(project, register_project(project), "key-1"));
  EXPECT_EQ(again.status_code(), 0);
  ASSERT_EQ(again.positions_size(), 1);
  EXPECT_EQ(again.positions(0).offset(), first.positions(0).offset());
  EXPECT_EQ(again.first_command_id(), first.command_id());
  EXPECT_EQ(events_end(project), before);
  // Without the key, the same command is a new one — and refused: the project exists.
  auto fresh = submit(envelope(project, register_project(project)));
  EXPECT_EQ(fresh.status_code(), static_cast<int>(StatusCode::kAlreadyExists));
  EXPECT_EQ(events_end(project), before);
}

TEST_P(CommandSide, StaleExpectedVersionIsAbortedAndBadInputIsRefusedWithItsField) {
  const std::string project = unique_name("proj");
  ASSERT_EQ(submit(envelope(project, register_project(project))).status_code(), 0);
  const std::int64_t before = events_end(project);
  auto stale = envelope(project, graph(project));
  stale.set_expected_version(7);
  EXPECT_EQ(submit(stale).status_code(), static_cast<int>(StatusCode::kAborted));
  for (const std::string& hostile :
       std::vector<std::string>{"a;rm -rf /", "$(x)", "line\nbreak", std::string(64, 'a')}) {
    auto bad = graph(project);
    bad.mutable_services(0)->set_name(hostile);
    auto result = submit(envelope(project, bad));
    EXPECT_EQ(result.status_code(), static_cast<int>(StatusCode::kInvalidArgument)) << hostile;
    EXPECT_EQ(result.field(), "services[0].name") << hostile;
  }
  EXPECT_EQ(events_end(project), before);
  auto ok = envelope(project, graph(project));
  ok.set_expected_version(1);
  auto published = submit(ok);
  EXPECT_EQ(published.status_code(), 0) << published.message();
  EXPECT_EQ(published.aggregate_version(), 2u);
}

TEST_P(CommandSide, RestartedProcessorRebuildsStateAndIdempotencyFromTheLog) {
  const std::string project = unique_name("proj");
  auto registered = submit(envelope(project, register_project(project), "reg"));
  ASSERT_EQ(registered.status_code(), 0);
  processor_.reset();  // the process dies; a new one takes over the partitions
  start_processor();
  auto retried = submit(envelope(project, register_project(project), "reg"));
  EXPECT_EQ(retried.status_code(), 0);
  EXPECT_EQ(retried.first_command_id(), registered.command_id());
  auto published = submit(envelope(project, graph(project)));
  ASSERT_EQ(published.status_code(), 0) << published.message();
  EXPECT_EQ(published.aggregate_version(), 2u);  // continues the stream: no gap, no repeat
}

TEST_P(CommandSide, OneOfManyConcurrentDeploymentsToTheSameEnvironmentIsAccepted) {
  const std::string project = unique_name("proj");
  ASSERT_EQ(submit(envelope(project, register_project(project))).status_code(), 0);
  ASSERT_EQ(submit(envelope(project, graph(project))).status_code(), 0);
  constexpr int kCalls = 100;
  std::atomic<int> accepted{0}, refused{0}, other{0};
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&] {
      v1::DeployProject deploy;
      deploy.set_project_id(project);
      deploy.set_environment("production");
      auto result = bus_->submit(envelope(project, deploy), kWait);
      if (!result.ok()) {
        ++other;
      } else if (result->status_code() == 0) {
        ++accepted;
      } else if (result->status_code() == static_cast<int>(StatusCode::kFailedPrecondition)) {
        ++refused;
      } else {
        ++other;
      }
    });
  }
  for (auto& t : callers) t.join();
  EXPECT_EQ(accepted.load(), 1);
  EXPECT_EQ(refused.load(), kCalls - 1);
  EXPECT_EQ(other.load(), 0);
}

INSTANTIATE_TEST_SUITE_P(AllBackends, CommandSide, ::testing::ValuesIn(all_log_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace axion::testing
