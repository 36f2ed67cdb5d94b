// axion-agent's pure parts: /proc/stat and /proc/meminfo parsing, CPU use between two samples,
// the runtime a task needs, and the answer to a task no available runtime can run.
#include <gtest/gtest.h>

#include <vector>

#include "agent/host_metrics.h"
#include "agent/runtime.h"

namespace axion::agent {
namespace {

namespace v1 = axion::v1;

TEST(ProcStat, ReadsTheAggregateCpuLine) {
  const CpuTimes t = parse_proc_stat(
      "cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 50 2 25 400 10 1 1 0 0 0\nintr 12345\n");
  EXPECT_EQ(t.total, 980u);
  EXPECT_EQ(t.busy, 980u - 800u - 20u);  // idle and iowait are not busy
  EXPECT_EQ(parse_proc_stat("intr 1\n").total, 0u);
}

TEST(ProcStat, CpuPercentIsTheBusyShareBetweenSamples) {
  EXPECT_DOUBLE_EQ(cpu_percent({100, 1000}, {150, 1100}), 50.0);
  EXPECT_DOUBLE_EQ(cpu_percent({100, 1000}, {100, 1000}), 0.0);  // no time passed
  EXPECT_DOUBLE_EQ(cpu_percent({100, 1000}, {90, 900}), 0.0);    // counters went back
}

TEST(MemInfo, ReadsTotalAndAvailable) {
  const MemInfo m = parse_meminfo(
      "MemTotal:        8048576 kB\nMemFree:          123456 kB\nMemAvailable:    4024288 kB\n");
  EXPECT_EQ(m.total_kb, 8048576u);
  EXPECT_EQ(m.available_kb, 4024288u);
}

class RecordingSink final : public TaskSink {
 public:
  void update(const v1::TaskUpdate& u) override { updates.push_back(u); }
  std::vector<v1::TaskUpdate> updates;
};

class FakeRuntime final : public Runtime {
 public:
  explicit FakeRuntime(bool available) : available_(available) {}
  std::string_view name() const override { return "process"; }
  bool available() const override { return available_; }
  void start(const v1::Task& task, TaskSink&) override { started.push_back(task.task_id()); }
  void cancel(const std::string&) override {}
  std::vector<std::string> started;

 private:
  bool available_;
};

TEST(Runtimes, ATaskNoAvailableRuntimeCanRunFailsSayingSo) {
  Runtimes none;
  RecordingSink sink;
  v1::Task task;
  task.set_task_id("t-1");
  task.set_kind(v1::TASK_KIND_APPLY_COMPOSE);
  none.dispatch(task, sink);
  ASSERT_EQ(sink.updates.size(), 1u);
  EXPECT_EQ(sink.updates[0].task_id(), "t-1");
  EXPECT_EQ(sink.updates[0].state(), v1::TASK_STATE_FAILED);
  EXPECT_EQ(sink.updates[0].detail(),
            "runtime 'compose' is not available on this agent (it offers: none)");
  EXPECT_TRUE(none.available().empty());
}

TEST(Runtimes, AvailableRuntimesAreAdvertisedAndRunTheirTasks) {
  Runtimes runtimes;
  auto process = std::make_unique<FakeRuntime>(true);
  FakeRuntime* p = process.get();
  runtimes.add(std::move(process));
  EXPECT_EQ(runtimes.available(), std::vector<std::string>{"process"});
  RecordingSink sink;
  v1::Task start;
  start.set_task_id("t-2");
  start.set_kind(v1::TASK_KIND_START_SERVICE);
  runtimes.dispatch(start, sink);
  EXPECT_EQ(p->started, std::vector<std::string>{"t-2"});
  EXPECT_TRUE(sink.updates.empty());
  v1::Task compose;
  compose.set_task_id("t-3");
  compose.set_kind(v1::TASK_KIND_APPLY_COMPOSE);
  runtimes.dispatch(compose, sink);
  ASSERT_EQ(sink.updates.size(), 1u);
  EXPECT_NE(sink.updates[0].detail().find("it offers: process"), std::string::npos);
}

}  // namespace
}  // namespace axion::agent
