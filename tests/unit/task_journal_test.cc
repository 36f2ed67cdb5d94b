// The agent's task journal: a task is known once journaled, the first terminal update wins,
// unacknowledged results and unfinished tasks survive a reopen, damaged files are set aside.
#include "agent/task_journal.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace axion::agent {
namespace {

namespace v1 = axion::v1;

std::string temp_dir() {
  auto dir = std::filesystem::temp_directory_path() /
             ("axion-journal-" + std::to_string(::getpid()) + "-" +
              ::testing::UnitTest::GetInstance()->current_test_info()->name());
  std::filesystem::remove_all(dir);
  return dir.string();
}

v1::Task task(const std::string& id) {
  v1::Task t;
  t.set_task_id(id);
  t.set_kind(v1::TASK_KIND_START_SERVICE);
  return t;
}

v1::TaskUpdate done(const std::string& id, v1::TaskState state) {
  v1::TaskUpdate u;
  u.set_task_id(id);
  u.set_state(state);
  return u;
}

TEST(TaskJournal, ATaskIsRunOnceAndItsFirstResultIsKeptAcrossAReopen) {
  const std::string dir = temp_dir();
  {
    TaskJournal journal(dir);
    ASSERT_TRUE(journal.open().ok());
    EXPECT_TRUE(*journal.record_task(task("t1")));
    EXPECT_FALSE(*journal.record_task(task("t1")));
    EXPECT_TRUE(*journal.record_task(task("t2")));
    EXPECT_TRUE(*journal.record_terminal(done("t1", v1::TASK_STATE_SUCCEEDED)));
    EXPECT_FALSE(*journal.record_terminal(done("t1", v1::TASK_STATE_FAILED)));
  }
  TaskJournal reopened(dir);
  ASSERT_TRUE(reopened.open().ok());
  EXPECT_TRUE(reopened.known("t1"));
  EXPECT_FALSE(*reopened.record_task(task("t1")));
  ASSERT_TRUE(reopened.terminal_of("t1").has_value());
  EXPECT_EQ(reopened.terminal_of("t1")->state(), v1::TASK_STATE_SUCCEEDED);
  ASSERT_EQ(reopened.unfinished().size(), 1u);
  EXPECT_EQ(reopened.unfinished()[0].task_id(), "t2");
  ASSERT_EQ(reopened.unacked_results().size(), 1u);
  EXPECT_EQ(reopened.open_ids(), (std::vector<std::string>{"t1", "t2"}));
  ASSERT_TRUE(reopened.record_acked("t1").ok());
  EXPECT_TRUE(reopened.unacked_results().empty());
  EXPECT_EQ(reopened.open_ids(), (std::vector<std::string>{"t2"}));
  std::filesystem::remove_all(dir);
}

TEST(TaskJournal, RefusesIdsThatCannotNameAFileAndSetsDamagedFilesAside) {
  const std::string dir = temp_dir();
  TaskJournal journal(dir);
  ASSERT_TRUE(journal.open().ok());
  for (const std::string& bad : std::vector<std::string>{"", "..", "a/b", "a b", std::string(129, 'x')}) {
    EXPECT_EQ(journal.record_task(task(bad)).status().code(), StatusCode::kInvalidArgument)
        << bad;
  }
  std::ofstream(dir + "/junk.task") << "not a protobuf \xff\xff";
  TaskJournal reopened(dir);
  ASSERT_TRUE(reopened.open().ok());
  EXPECT_FALSE(reopened.known("junk"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/junk.task.damaged"));
  std::filesystem::remove_all(dir);
}

TEST(TaskJournal, PrunesOnlyAcknowledgedResultsOlderThanItKeepsThem) {
  const std::string dir = temp_dir();
  TaskJournal journal(dir, std::chrono::hours(0));
  ASSERT_TRUE(journal.open().ok());
  ASSERT_TRUE(journal.record_task(task("t1")).ok());
  ASSERT_TRUE(journal.record_task(task("t2")).ok());
  ASSERT_TRUE(journal.record_terminal(done("t1", v1::TASK_STATE_FAILED)).ok());
  ASSERT_TRUE(journal.record_terminal(done("t2", v1::TASK_STATE_FAILED)).ok());
  ASSERT_TRUE(journal.record_acked("t1").ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(journal.prune(), 1u);
  EXPECT_FALSE(journal.known("t1"));
  EXPECT_TRUE(journal.known("t2"));  // its result is not acknowledged yet
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace axion::agent
