// The event tail (projections/event_tail.*) behind `axion events tail`, on a generated history
// in the embedded log: the latest events of one project or of all, oldest first; each line the
// same bytes as the audit export's; events appended while following arrive in log order; a tail
// over the limit is refused.
#include "projections/event_tail.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "events/topics.h"
#include "projections/replay.h"
#include "tests/integration/log_backends.h"
#include "tools/history/history.h"

namespace axion::testing {
namespace {

constexpr std::uint64_t kEvents = 6000;

class EventTail : public ::testing::Test {
 protected:
  void SetUp() override {
    auto log = log_backend("rocksdb").open(scratch_dir("event-tail"));
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    log_ = std::move(log).value();
    for (std::string_view t :
         {events::kDeploymentEventsTopic, events::kInfrastructureEventsTopic}) {
      ASSERT_TRUE(log_->ensure_topic({std::string(t), events::kDefaultPartitions}).ok());
    }
    tools::HistoryOptions options;
    options.events = kEvents;
    options.projects = 3;
    options.clusters = 1;
    auto history = tools::write_history(*log_, options);
    ASSERT_TRUE(history.ok()) << history.status().to_string();
    history_ = *history;
  }

  std::vector<projections::TailedEvent> tail(const projections::TailOptions& options) {
    std::vector<projections::TailedEvent> out;
    Status s = projections::tail_events(
        *log_, options, [] { return false; },
        [&](const projections::TailedEvent& e) {
          out.push_back(e);
          return true;
        });
    EXPECT_TRUE(s.ok()) << s.to_string();
    return out;
  }

  std::unique_ptr<events::EventLog> log_;
  tools::HistorySummary history_;
};

std::int64_t ms(const google::protobuf::Timestamp& t) {
  return t.seconds() * 1000 + t.nanos() / 1000000;
}

TEST_F(EventTail, OneProjectsLatestEventsOldestFirstAsTheAuditExportWritesThem) {
  const std::string project = history_.project_ids.at(1);
  const std::uint64_t last_sequence = history_.aggregates.at(project).events;
  ASSERT_GT(last_sequence, 100u);
  projections::TailOptions options;
  options.project_id = project;
  options.last = 40;
  auto events = tail(options);
  ASSERT_EQ(events.size(), 40u);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].entry.aggregate_id(), project);
    EXPECT_EQ(events[i].entry.sequence(), last_sequence - 39 + i) << "at " << i;
  }
  // Each line is the audit export's line for the same event, byte for byte.
  std::ostringstream exported;
  ASSERT_TRUE(projections::export_audit(*log_, project, exported).ok());
  std::vector<std::string> lines;
  std::istringstream in(exported.str());
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), last_sequence);
  for (std::size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ(events[i].json, lines[lines.size() - 40 + i]);
  }
  EXPECT_EQ(nlohmann::json::parse(events.back().json)["event_id"], events.back().entry.event_id());
  // The default is 20.
  EXPECT_EQ(tail({.project_id = project}).size(), projections::kDefaultTail);
}

TEST_F(EventTail, AllProjectsLatestEventsAcrossPartitionsInTimeOrder) {
  auto events = tail({.last = 100});
  ASSERT_EQ(events.size(), 100u);
  std::set<std::string> projects;
  for (std::size_t i = 1; i < events.size(); ++i) {
    EXPECT_LE(ms(events[i - 1].entry.occurred_at()), ms(events[i].entry.occurred_at()));
  }
  for (const auto& e : events) projects.insert(e.entry.aggregate_id());
  EXPECT_GT(projects.size(), 1u) << "the latest events of several projects interleave";
  // They are the latest: each project's last event is among them, and nothing older than the
  // first one shown is newer than anything shown (the generator spaces events in time).
  for (const auto& id : history_.project_ids) {
    const std::int64_t last_ms = history_.aggregates.at(id).last_ms;
    if (last_ms >= ms(events.front().entry.occurred_at())) {
      EXPECT_TRUE(std::any_of(events.begin(), events.end(), [&](const auto& e) {
        return e.entry.aggregate_id() == id && ms(e.entry.occurred_at()) == last_ms;
      })) << id;
    }
  }
  const std::uint64_t project_events = history_.project_events;
  EXPECT_EQ(tail({.last = projections::kMaxTail}).size(),
            std::min<std::uint64_t>(projections::kMaxTail, project_events));
}

TEST_F(EventTail, FollowingDeliversEventsAppendedLaterInLogOrderUntilStopped) {
  std::mutex mu;
  std::vector<projections::TailedEvent> seen;
  std::atomic<bool> stop{false};
  Status followed;
  std::thread follower([&] {
    projections::TailOptions options;
    options.last = 1;
    options.follow = true;
    options.poll = std::chrono::milliseconds(20);
    followed = projections::tail_events(
        *log_, options, [&] { return stop.load(); },
        [&](const projections::TailedEvent& e) {
          std::lock_guard lock(mu);
          seen.push_back(e);
          return true;
        });
  });
  const auto count = [&] {
    std::lock_guard lock(mu);
    return seen.size();
  };
  for (int i = 0; i < 2000 && count() < 1; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_EQ(count(), 1u) << "the latest event first";
  tools::HistoryOptions more;
  more.events = 300;
  more.projects = 2;
  more.clusters = 1;
  more.id_prefix = "later";
  more.transactional_id = "history-later";
  more.start_ms = history_.last_ms + 1000;
  auto later = tools::write_history(*log_, more);
  ASSERT_TRUE(later.ok()) << later.status().to_string();
  for (int i = 0; i < 6000 && count() < 1 + later->project_events; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  stop = true;
  follower.join();
  ASSERT_TRUE(followed.ok()) << followed.to_string();
  ASSERT_EQ(seen.size(), 1 + later->project_events);
  // Each later project's events arrive once each, in sequence order.
  std::map<std::string, std::uint64_t> next;
  for (std::size_t i = 1; i < seen.size(); ++i) {
    const auto& e = seen[i].entry;
    EXPECT_EQ(e.aggregate_id().rfind("later", 0), 0u) << e.aggregate_id();
    EXPECT_EQ(e.sequence(), ++next[e.aggregate_id()]) << e.aggregate_id();
  }
  for (const auto& id : later->project_ids) {
    EXPECT_EQ(next[id], later->aggregates.at(id).events) << id;
  }
}

TEST_F(EventTail, MoreThanTheLimitIsRefusedNamingIt) {
  Status s = projections::tail_events(
      *log_, {.last = projections::kMaxTail + 1}, [] { return false; },
      [](const projections::TailedEvent&) { return true; });
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s.field(), "last");
  EXPECT_NE(s.message().find("at most 1000"), std::string::npos) << s.message();
}

TEST_F(EventTail, AnEmitterThatGoesAwayEndsTheTail) {
  int calls = 0;
  Status s = projections::tail_events(
      *log_, {.last = 50, .follow = true}, [] { return false; },
      [&](const projections::TailedEvent&) { return ++calls < 3; });
  EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(calls, 3);
}

}  // namespace
}  // namespace axion::testing
