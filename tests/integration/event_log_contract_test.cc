// The EventLog contract, run against every adapter (embedded RocksDB and the real Kafka
// broker): ordering, partitioning, atomic append-with-offsets, consumer-group resume after a
// restart, fencing, rebalancing, concurrency, large batches and bad input.
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "events/partitioner.h"
#include "tests/integration/event_log_contract.h"

namespace axion::testing {
namespace {

TEST_P(EventLogContract, KeepsOrderWithinAPartitionAndHeadersIntact) {
  const std::string t = topic(3);
  auto p = producer(unique_name("tx"));
  for (int batch = 0; batch < 5; ++batch) {
    auto positions = p->append(records(t, "same-key", 40, batch * 40));
    ASSERT_TRUE(positions.ok()) << positions.status().to_string();
    ASSERT_EQ(positions->size(), 40u);
  }
  auto all = read_all(*log_, t);
  ASSERT_TRUE(all.ok()) << all.status().to_string();
  ASSERT_EQ(all->size(), 200u);
  const std::int32_t expected_partition = events::partition_for_key("same-key", 3);
  for (int i = 0; i < 200; ++i) {
    const auto& r = (*all)[i];
    EXPECT_EQ(r.tp.partition, expected_partition);
    EXPECT_EQ(r.key, "same-key");
    EXPECT_EQ(r.value, "value-" + std::to_string(i));
    EXPECT_THAT(r.headers, ::testing::Contains(events::Header{"seq", std::to_string(i)}));
    if (i > 0) {
      EXPECT_GT(r.offset, (*all)[i - 1].offset);
    }
  }
}

TEST_P(EventLogContract, PutsKeysOnTheirMurmur2PartitionAndReportsPositions) {
  const std::string t = topic(7);
  auto p = producer(unique_name("tx"));
  std::vector<Record> batch;
  for (int i = 0; i < 100; ++i) batch.push_back({t, "project-" + std::to_string(i), "v", {}, {}});
  batch.push_back({t, "explicit", "v", {}, 6});
  auto positions = p->append(batch);
  ASSERT_TRUE(positions.ok()) << positions.status().to_string();
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ((*positions)[i].tp.partition,
              events::partition_for_key("project-" + std::to_string(i), 7));
  }
  EXPECT_EQ(positions->back().tp.partition, 6);
  for (const auto& pos : *positions) {
    auto got = log_->read(pos.tp, pos.offset, 1, milliseconds(2000));
    ASSERT_TRUE(got.ok()) << got.status().to_string();
    ASSERT_EQ(got->size(), 1u);
    EXPECT_EQ(got->front().offset, pos.offset);
  }
}

TEST_P(EventLogContract, AppendsRecordsAndConsumedOffsetsTogether) {
  const std::string in = topic(1);
  const std::string out = topic(1);
  const std::string group = unique_name("group");
  auto p = producer(unique_name("tx"));
  ASSERT_TRUE(p->append(records(in, "k", 10)).ok());

  auto consumer = log_->subscribe(group, {in});
  ASSERT_TRUE(consumer.ok()) << consumer.status().to_string();
  auto polled = poll_at_least(**consumer, 10, milliseconds(30000));
  ASSERT_TRUE(polled.ok()) << polled.status().to_string();
  ASSERT_EQ(polled->size(), 10u);

  std::vector<Record> outputs;
  for (const auto& r : *polled) outputs.push_back({out, r.key, "processed-" + r.value, {}, {}});
  OffsetCommit offsets{group, {{{in, 0}, polled->back().offset + 1}}, consumer->get()};
  auto appended = p->append(outputs, &offsets);
  ASSERT_TRUE(appended.ok()) << appended.status().to_string();

  auto committed = log_->committed_offset(group, {in, 0});
  ASSERT_TRUE(committed.ok()) << committed.status().to_string();
  EXPECT_EQ(committed->value_or(-1), polled->back().offset + 1);
  auto produced = read_all(*log_, out);
  ASSERT_TRUE(produced.ok());
  EXPECT_EQ(produced->size(), 10u);
}

TEST_P(EventLogContract, RefusedAppendLeavesNeitherRecordsNorOffsets) {
  const std::string in = topic(1);
  const std::string out = topic(2);
  const std::string group = unique_name("group");
  auto p = producer(unique_name("tx"));
  const TopicPartition out0{out, 0}, out1{out, 1};
  std::vector<Record> bad = records(out, "k", 3);
  bad.push_back({out, "k", "v", {}, 9});  // partition out of range
  OffsetCommit offsets{group, {{{in, 0}, 5}}, nullptr};
  auto result = p->append(bad, &offsets);
  EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << result.status().to_string();
  EXPECT_EQ(end(out0) + end(out1), 0);
  auto committed = log_->committed_offset(group, {in, 0});
  ASSERT_TRUE(committed.ok());
  EXPECT_FALSE(committed->has_value());

  std::vector<Record> unknown = records(out, "k", 2);
  unknown.push_back({unique_name("no-such-topic"), "k", "v", {}, {}});
  EXPECT_EQ(p->append(unknown, &offsets).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(end(out0) + end(out1), 0);
  committed = log_->committed_offset(group, {in, 0});
  ASSERT_TRUE(committed.ok());
  EXPECT_FALSE(committed->has_value());
}

TEST_P(EventLogContract, ConsumerGroupResumesFromCommittedOffsetsAfterRestart) {
  const std::string in = topic(2);
  const std::string group = unique_name("group");
  {
    auto p = producer(unique_name("tx"));
    for (int k = 0; k < 2; ++k) {
      auto batch = records(in, "key" + std::to_string(k), 10);
      for (auto& r : batch) r.partition = k;
      ASSERT_TRUE(p->append(batch).ok());
    }
    auto consumer = log_->subscribe(group, {in});
    ASSERT_TRUE(consumer.ok()) << consumer.status().to_string();
    auto polled = poll_at_least(**consumer, 20, milliseconds(30000));
    ASSERT_TRUE(polled.ok());
    ASSERT_EQ(polled->size(), 20u);
    // Commit half of each partition: the first 5 records seen per partition.
    std::map<TopicPartition, std::int64_t> next;
    std::map<TopicPartition, int> seen;
    for (const auto& r : *polled) {
      if (++seen[r.tp] <= 5) next[r.tp] = r.offset + 1;
    }
    OffsetCommit offsets{group, {}, consumer->get()};
    for (const auto& [tp, o] : next) offsets.offsets.push_back({tp, o});
    ASSERT_TRUE(p->append({}, &offsets).ok());
  }
  reopen();
  auto consumer = log_->subscribe(group, {in});
  ASSERT_TRUE(consumer.ok());
  auto polled = poll_at_least(**consumer, 10, milliseconds(30000));
  ASSERT_TRUE(polled.ok());
  ASSERT_EQ(polled->size(), 10u);
  std::multiset<std::string> values;
  for (const auto& r : *polled) values.insert(r.value);
  for (int i = 5; i < 10; ++i) EXPECT_EQ(values.count("value-" + std::to_string(i)), 2u);
}

TEST_P(EventLogContract, SecondProducerWithSameTransactionalIdFencesTheFirst) {
  const std::string t = topic(1);
  const std::string txid = unique_name("tx");
  auto first = producer(txid);
  ASSERT_TRUE(first->append(records(t, "k", 1)).ok());
  auto second = producer(txid);
  auto fenced = first->append(records(t, "k", 1, 1));
  EXPECT_EQ(fenced.status().code(), StatusCode::kFailedPrecondition) << fenced.status().to_string();
  EXPECT_THAT(fenced.status().message(), ::testing::HasSubstr("fenced"));
  ASSERT_TRUE(second->append(records(t, "k", 1, 2)).ok());
  auto all = read_all(*log_, t);
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].value, "value-0");
  EXPECT_EQ((*all)[1].value, "value-2");
}

TEST_P(EventLogContract, SharesPartitionsAmongGroupMembersAndRebalancesOnLeave) {
  const std::string t = topic(4);
  const std::string group = unique_name("group");
  auto p = producer(unique_name("tx"));
  std::vector<Record> batch;
  for (int i = 0; i < 40; ++i) batch.push_back({t, "k" + std::to_string(i), "v", {}, {}});
  ASSERT_TRUE(p->append(batch).ok());

  std::vector<TopicPartition> assigned_to_a;
  events::RebalanceCallbacks callbacks;
  callbacks.on_assigned = [&](const std::vector<TopicPartition>& tps) { assigned_to_a = tps; };
  auto a = log_->subscribe(group, {t}, callbacks);
  auto b = log_->subscribe(group, {t});
  ASSERT_TRUE(a.ok() && b.ok());
  // Both members poll until the group settles with both holding partitions.
  const auto deadline = std::chrono::steady_clock::now() + milliseconds(60000);
  while (std::chrono::steady_clock::now() < deadline &&
         ((*a)->assignment().size() + (*b)->assignment().size() != 4 ||
          (*a)->assignment().empty() || (*b)->assignment().empty())) {
    ASSERT_TRUE((*a)->poll(milliseconds(100)).ok());
    ASSERT_TRUE((*b)->poll(milliseconds(100)).ok());
  }
  auto in_a = (*a)->assignment();
  auto in_b = (*b)->assignment();
  ASSERT_EQ(in_a.size() + in_b.size(), 4u);
  std::set<TopicPartition> all(in_a.begin(), in_a.end());
  all.insert(in_b.begin(), in_b.end());
  EXPECT_EQ(all.size(), 4u) << "assignments overlap";
  EXPECT_EQ(std::set<TopicPartition>(assigned_to_a.begin(), assigned_to_a.end()),
            std::set<TopicPartition>(in_a.begin(), in_a.end()));

  (*b)->close();
  const auto deadline2 = std::chrono::steady_clock::now() + milliseconds(60000);
  while (std::chrono::steady_clock::now() < deadline2 && (*a)->assignment().size() != 4) {
    ASSERT_TRUE((*a)->poll(milliseconds(100)).ok());
  }
  EXPECT_EQ((*a)->assignment().size(), 4u);
}

TEST_P(EventLogContract, ConcurrentAppendersLoseAndDuplicateNothing) {
  const std::string t = topic(4);
  constexpr int kThreads = 16, kAppends = 50;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  auto shared = producer(unique_name("tx"));
  for (int w = 0; w < kThreads; ++w) {
    threads.emplace_back([&, w] {
      for (int i = 0; i < kAppends; ++i) {
        const std::string v = std::to_string(w) + ":" + std::to_string(i);
        auto r = shared->append({{t, "writer-" + std::to_string(w), v, {}, {}}});
        if (!r.ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto all = read_all(*log_, t);
  ASSERT_TRUE(all.ok());
  std::set<std::string> values;
  std::map<std::string, int> last_seen;  // per writer, values must come in order
  for (const auto& r : *all) {
    EXPECT_TRUE(values.insert(r.value).second) << "duplicate " << r.value;
    const int i = std::stoi(r.value.substr(r.value.find(':') + 1));
    auto [it, fresh] = last_seen.try_emplace(r.key, i);
    if (!fresh) {
      EXPECT_GT(i, it->second) << "out of order for " << r.key;
      it->second = i;
    }
  }
  EXPECT_EQ(values.size(), static_cast<std::size_t>(kThreads * kAppends));
}

TEST_P(EventLogContract, AppendsALargeBatchAtomically) {
  const std::string t = topic(3);
  auto p = producer(unique_name("tx"));
  std::vector<Record> batch;
  for (int i = 0; i < 5000; ++i) {
    batch.push_back({t, "k" + std::to_string(i % 50), std::string(300, 'x') + std::to_string(i), {}, {}});
  }
  auto positions = p->append(batch);
  ASSERT_TRUE(positions.ok()) << positions.status().to_string();
  EXPECT_EQ(positions->size(), 5000u);
  auto all = read_all(*log_, t);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 5000u);
}

TEST_P(EventLogContract, RefusesBadInputPreciselyAndAppendsNothing) {
  const std::string t = topic(1);
  auto p = producer(unique_name("tx"));
  const TopicPartition tp{t, 0};
  EXPECT_EQ(log_->ensure_topic({"bad topic!", 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->ensure_topic({"", 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->ensure_topic({std::string(250, 'a'), 1}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->ensure_topic({unique_name("zero"), 0}).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->ensure_topic({t, 5}).code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(log_->ensure_topic({t, 1}).ok());

  auto oversized = p->append({{t, "k", std::string(2 * 1000 * 1000, 'x'), {}, {}}});
  EXPECT_EQ(oversized.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(oversized.status().message(), ::testing::HasSubstr("maximum record size"));
  EXPECT_EQ(p->append({{"bad/topic", "k", "v", {}, {}}}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(p->append({{unique_name("missing"), "k", "v", {}, {}}}).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(log_->partition_count(unique_name("missing")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(end(tp), 0);
  EXPECT_EQ(log_->subscribe("bad group\n", {t}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(log_->open_producer("").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(EventLogContract, ReadWaitsForTheNextAppend) {
  const std::string t = topic(1);
  auto p = producer(unique_name("tx"));
  std::thread writer([&] {
    std::this_thread::sleep_for(milliseconds(200));  // let the reader start waiting
    ASSERT_TRUE(p->append(records(t, "k", 1)).ok());
  });
  auto got = log_->read({t, 0}, 0, 10, milliseconds(20000));
  writer.join();
  ASSERT_TRUE(got.ok()) << got.status().to_string();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().value, "value-0");
}

INSTANTIATE_TEST_SUITE_P(AllBackends, EventLogContract, ::testing::ValuesIn(all_log_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace axion::testing

