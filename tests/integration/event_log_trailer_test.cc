// The EventLog contract for trailers: records built from the positions an append's records
// received, appended in the same atomic append (how a command's result carries its events'
// positions). Runs against every backend with the rest of the contract suite.
#include <atomic>
#include <map>
#include <thread>

#include "tests/integration/event_log_contract.h"

namespace axion::testing {
namespace {


// "topic/partition@offset;" per position: what a trailer writes, to compare on read-back.
std::string encode_positions(const std::vector<events::LogPosition>& positions) {
  std::string out;
  for (const auto& p : positions) out += p.tp.to_string() + "@" + std::to_string(p.offset) + ";";
  return out;
}

// Every committed record of a topic by position.
std::map<events::LogPosition, events::StoredRecord> by_position(EventLog& log,
                                                                const std::string& topic) {
  std::map<events::LogPosition, events::StoredRecord> out;
  auto all = read_all(log, topic);
  EXPECT_TRUE(all.ok()) << all.status().to_string();
  if (!all.ok()) return out;
  for (auto& r : *all) out.emplace(events::LogPosition{r.tp, r.offset}, std::move(r));
  return out;
}

TEST_P(EventLogContract, TrailerRecordCarriesThePositionsItsRecordsLandedAt) {
  const std::string in = topic(1);
  const std::string events_topic = topic(3);
  const std::string results = topic(1);
  const std::string group = unique_name("group");
  auto p = producer(unique_name("tx"));
  std::vector<Record> batch = records(events_topic, "a", 2);
  batch.push_back({events_topic, "b", "value-b", {}, {}});
  batch.push_back({events_topic, "c", "value-c", {}, 2});
  std::vector<events::LogPosition> given;
  int calls = 0;
  auto trailer = [&](const std::vector<events::LogPosition>& positions) {
    ++calls;  // more than once only if a Kafka transaction ran again
    given = positions;
    return std::vector<Record>{{results, "cmd-1", encode_positions(positions), {}, {}}};
  };
  OffsetCommit offsets{group, {{{in, 0}, 7}}, nullptr};
  auto appended = p->append(batch, &offsets, trailer);
  ASSERT_TRUE(appended.ok()) << appended.status().to_string();
  EXPECT_GE(calls, 1);
  ASSERT_EQ(appended->size(), batch.size() + 1);
  ASSERT_EQ(given.size(), batch.size());
  EXPECT_TRUE(std::equal(given.begin(), given.end(), appended->begin()));
  EXPECT_EQ(given[3].tp.partition, 2);
  EXPECT_EQ(appended->back().tp, (TopicPartition{results, 0}));

  auto stored = by_position(*log_, events_topic);
  ASSERT_EQ(stored.size(), batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    auto it = stored.find(given[i]);
    ASSERT_NE(it, stored.end()) << "nothing at " << encode_positions({given[i]});
    EXPECT_EQ(it->second.value, batch[i].value);
  }
  auto result = by_position(*log_, results);
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result.begin()->first, appended->back());
  EXPECT_EQ(result.begin()->second.value, encode_positions(given));
  auto committed = log_->committed_offset(group, {in, 0});
  ASSERT_TRUE(committed.ok()) << committed.status().to_string();
  EXPECT_EQ(committed->value_or(-1), 7);
}

TEST_P(EventLogContract, InvalidTrailerRecordFailsTheWholeAppendAndNothingLands) {
  const std::string in = topic(1);
  const std::string out = topic(2);
  const std::string group = unique_name("group");
  auto p = producer(unique_name("tx"));
  OffsetCommit offsets{group, {{{in, 0}, 5}}, nullptr};
  auto with_trailer = [&](Record bad) {
    return p->append(records(out, "k", 3), &offsets, [&](const std::vector<events::LogPosition>&) {
      return std::vector<Record>{{out, "ok", "fine", {}, {}}, bad};
    });
  };
  auto nothing_landed = [&] {
    EXPECT_EQ(end({out, 0}) + end({out, 1}), 0);
    EXPECT_TRUE(by_position(*log_, out).empty());
    auto committed = log_->committed_offset(group, {in, 0});
    ASSERT_TRUE(committed.ok()) << committed.status().to_string();
    EXPECT_FALSE(committed->has_value());
  };

  auto oversized = with_trailer({out, "k", std::string(2 * 1000 * 1000, 'x'), {}, {}});
  EXPECT_EQ(oversized.status().code(), StatusCode::kInvalidArgument)
      << oversized.status().to_string();
  EXPECT_THAT(oversized.status().message(), ::testing::HasSubstr("maximum record size"));
  nothing_landed();
  auto unknown = with_trailer({unique_name("no-such-topic"), "k", "v", {}, {}});
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound) << unknown.status().to_string();
  nothing_landed();
  auto out_of_range = with_trailer({out, "k", "v", {}, 9});
  EXPECT_EQ(out_of_range.status().code(), StatusCode::kInvalidArgument)
      << out_of_range.status().to_string();
  nothing_landed();

  // The producer is still usable, and only the good append lands.
  auto good = p->append(records(out, "k", 3), &offsets,
                        [&](const std::vector<events::LogPosition>&) {
                          return std::vector<Record>{{out, "ok", "fine", {}, {}}};
                        });
  ASSERT_TRUE(good.ok()) << good.status().to_string();
  // Counted, not taken from end offsets: on Kafka the aborted attempts used up offsets.
  EXPECT_EQ(by_position(*log_, out).size(), 4u);
}

TEST_P(EventLogContract, ConcurrentTrailersEachGetTheirOwnRecordsPositions) {
  const std::string t = topic(4);
  const std::string results = topic(2);
  constexpr int kThreads = 16, kAppends = 10, kRecords = 2;
  struct Outcome {
    std::string tag;
    std::vector<events::LogPosition> given;
    Result<std::vector<events::LogPosition>> positions = internal_error("not run");
  };
  std::vector<std::vector<Outcome>> outcomes(kThreads);
  for (auto& per_writer : outcomes) per_writer.reserve(kAppends);  // trailers hold references
  std::vector<std::thread> threads;
  auto shared = producer(unique_name("tx"));
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kAppends; ++i) {
        Outcome& o = outcomes[w].emplace_back();
        o.tag = std::to_string(w) + ":" + std::to_string(i);
        std::vector<Record> batch;
        for (int j = 0; j < kRecords; ++j) {
          const std::string value = o.tag + ":" + std::to_string(j);
          batch.push_back({t, "writer-" + std::to_string(w), value, {}, {}});
        }
        auto trailer = [&](const std::vector<events::LogPosition>& ps) {
          o.given = ps;  // read after append returns, which orders it after this call
          return std::vector<Record>{{results, o.tag, encode_positions(ps), {{"tag", o.tag}}, {}}};
        };
        o.positions = shared->append(batch, nullptr, trailer);
      }
    });
  }
  for (auto& th : threads) th.join();
  auto stored = by_position(*log_, t);
  auto result = by_position(*log_, results);
  EXPECT_EQ(stored.size(), static_cast<std::size_t>(kThreads * kAppends * kRecords));
  EXPECT_EQ(result.size(), static_cast<std::size_t>(kThreads * kAppends));
  for (const auto& per_writer : outcomes) {
    for (const Outcome& o : per_writer) {
      ASSERT_TRUE(o.positions.ok()) << o.tag << ": " << o.positions.status().to_string();
      ASSERT_EQ(o.positions->size(), static_cast<std::size_t>(kRecords + 1)) << o.tag;
      ASSERT_EQ(o.given.size(), static_cast<std::size_t>(kRecords)) << o.tag;
      for (int j = 0; j < kRecords; ++j) {
        EXPECT_EQ(o.given[j], (*o.positions)[j]) << o.tag;
        auto it = stored.find(o.given[j]);
        ASSERT_NE(it, stored.end()) << o.tag;
        EXPECT_EQ(it->second.value, o.tag + ":" + std::to_string(j));
      }
      auto r = result.find(o.positions->back());
      ASSERT_NE(r, result.end()) << o.tag;
      EXPECT_EQ(r->second.value, encode_positions(o.given)) << o.tag;
      EXPECT_THAT(r->second.headers, ::testing::Contains(events::Header{"tag", o.tag}));
    }
  }
}

}  // namespace
}  // namespace axion::testing
