// The ViewStore contract (projections/view_store.h), run against every store: the in-memory one
// (as-of queries), the embedded RocksDB one and the real PostgreSQL. Rows, listings (filters,
// order, keyset paging), atomic commits with compare-and-set offsets, index maintenance on
// update, clear() and persistence across a reopen.
#include <algorithm>
#include <atomic>
#include <map>
#include <set>
#include <thread>

#include "tests/integration/view_store_contract.h"

namespace axion::testing {

namespace {

using v1::DEPLOYMENT_STATUS_DEPLOYING;
using v1::DEPLOYMENT_STATUS_FAILED;
using v1::DEPLOYMENT_STATUS_PENDING;
using v1::DEPLOYMENT_STATUS_SUCCESS;
using ::testing::ElementsAre;
using ::testing::ElementsAreArray;
using ::testing::IsEmpty;

const events::TopicPartition kP0{"axion.deployment.events.v1", 0};
const events::TopicPartition kP1{"axion.deployment.events.v1", 1};
const events::TopicPartition kI0{"axion.infrastructure.events.v1", 0};

Query deployments_query(std::size_t limit = 1000, bool newest_first = true) {
  Query q;
  q.table = Table::kDeployments;
  q.limit = limit;
  q.newest_first = newest_first;
  return q;
}

TEST_P(ViewStoreContract, PutsGetsUpdatesAndErasesRows) {
  EXPECT_FALSE(get(Table::kDeployments, "d-1").has_value());
  const Row d1 = deployment_row("d-1", "p-1", "production", DEPLOYMENT_STATUS_PENDING, 100);
  commit({put(d1), put(project_row("d-1", 5))});
  EXPECT_EQ(get(Table::kDeployments, "d-1"), d1);
  EXPECT_EQ(get(Table::kProjects, "d-1"), project_row("d-1", 5));  // tables are separate

  const Row updated = deployment_row("d-1", "p-1", "production", DEPLOYMENT_STATUS_SUCCESS, 100);
  commit({put(updated)});
  EXPECT_EQ(get(Table::kDeployments, "d-1"), updated);

  commit({erase(Table::kDeployments, "d-1"), erase(Table::kDeployments, "never-there")});
  EXPECT_FALSE(get(Table::kDeployments, "d-1").has_value());
  EXPECT_TRUE(get(Table::kProjects, "d-1").has_value());
  EXPECT_THAT(list(deployments_query()).rows, IsEmpty());

  // Arbitrary bytes survive as the doc (the projector's own rows in kInternal).
  Row internal;
  internal.table = Table::kInternal;
  internal.key = "cursor";
  internal.doc = std::string("\0\x01\xff\"\\x{}'", 10);
  commit({put(internal)});
  EXPECT_EQ(get(Table::kInternal, "cursor"), internal);
}

TEST_P(ViewStoreContract, ListsWithProjectClusterEnvironmentAndStatusFilters) {
  std::vector<Mutation> batch;
  const v1::DeploymentStatus statuses[] = {DEPLOYMENT_STATUS_PENDING, DEPLOYMENT_STATUS_DEPLOYING,
                                           DEPLOYMENT_STATUS_SUCCESS, DEPLOYMENT_STATUS_FAILED};
  std::vector<Row> all;
  for (int i = 0; i < 40; ++i) {
    all.push_back(deployment_row("d-" + std::to_string(i), i % 2 ? "p-odd" : "p-even",
                                 i % 3 ? "production" : "staging", statuses[i % 4], 1000 + i));
    batch.push_back(put(all.back()));
  }
  for (int i = 0; i < 10; ++i) {
    batch.push_back(put(server_row("s-" + std::to_string(i), i < 4 ? "c-a" : "c-b", i)));
  }
  commit(std::move(batch));

  auto expect = [&](const Query& q) {
    std::vector<std::string> want;
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (q.table == Table::kDeployments) {
        const auto& ix = it->index;
        if (!q.filter.project_id.empty() && ix.project_id != q.filter.project_id) continue;
        if (!q.filter.environment.empty() && ix.environment != q.filter.environment) continue;
        if (!q.statuses.empty() &&
            std::find(q.statuses.begin(), q.statuses.end(), ix.status) == q.statuses.end()) {
          continue;
        }
        want.push_back(it->key);
      }
    }
    return want;
  };

  Query q = deployments_query();
  EXPECT_EQ(keys(list(q).rows), expect(q));
  EXPECT_EQ(list(q).rows.size(), 40u);
  q.filter.project_id = "p-odd";
  EXPECT_EQ(keys(list(q).rows), expect(q));
  EXPECT_EQ(list(q).rows.size(), 20u);
  q.filter.environment = "staging";
  EXPECT_EQ(keys(list(q).rows), expect(q));
  q.statuses = {DEPLOYMENT_STATUS_DEPLOYING, DEPLOYMENT_STATUS_FAILED};
  EXPECT_EQ(keys(list(q).rows), expect(q));
  EXPECT_FALSE(expect(q).empty());
  q.filter.project_id.clear();
  EXPECT_EQ(keys(list(q).rows), expect(q));
  q.filter.environment.clear();
  EXPECT_EQ(keys(list(q).rows), expect(q));
  EXPECT_EQ(list(q).rows.size(), 20u);
  q.filter.project_id = "no-such-project";
  EXPECT_THAT(list(q).rows, IsEmpty());
  EXPECT_FALSE(list(q).next.has_value());

  Query servers;
  servers.table = Table::kServers;
  servers.newest_first = false;
  servers.filter.cluster_id = "c-a";
  EXPECT_THAT(keys(list(servers).rows), ElementsAre("s-0", "s-1", "s-2", "s-3"));
  servers.filter.cluster_id = "c-b";
  EXPECT_EQ(list(servers).rows.size(), 6u);
  servers.filter.cluster_id.clear();
  EXPECT_EQ(list(servers).rows.size(), 10u);
  // Rows come back whole.
  servers.filter.cluster_id = "c-a";
  servers.limit = 1;
  EXPECT_EQ(list(servers).rows.front(), server_row("s-0", "c-a", 0));
}

TEST_P(ViewStoreContract, OrdersBySortKeyThenKeyBothWays) {
  // Equal and negative sort keys; keys whose bytewise order differs from a locale's.
  const std::vector<std::pair<std::int64_t, std::string>> rows = {
      {5, "b"}, {5, "B"},  {5, "a"},         {-7, "z"},         {0, "m"},
      {5, "\xc3\xa9"},    {INT64_MIN, "min"}, {INT64_MAX, "max"}, {5, "a-2"}, {-1, "ax"}};
  std::vector<Mutation> batch;
  for (const auto& [sort_key, key] : rows) batch.push_back(put(project_row(key, sort_key)));
  commit(std::move(batch));
  std::vector<std::pair<std::int64_t, std::string>> want = rows;
  std::sort(want.begin(), want.end());
  std::vector<std::string> ascending;
  for (const auto& w : want) ascending.push_back(w.second);
  std::vector<std::string> descending(ascending.rbegin(), ascending.rend());

  Query q;
  q.table = Table::kProjects;
  q.newest_first = false;
  EXPECT_THAT(keys(list(q).rows), ElementsAreArray(ascending));
  q.newest_first = true;
  EXPECT_THAT(keys(list(q).rows), ElementsAreArray(descending));
  EXPECT_EQ(ascending.front(), "min");
  EXPECT_EQ(ascending.back(), "max");
  // Paging one row at a time resumes after the extremes of the sort key too.
  for (bool newest_first : {false, true}) {
    q.newest_first = newest_first;
    q.limit = 1;
    EXPECT_THAT(keys(list_all(q)), ElementsAreArray(newest_first ? descending : ascending));
  }
}

TEST_P(ViewStoreContract, PagesThroughEveryRowWithoutLossOrRepeat) {
  std::vector<Mutation> batch;
  for (int i = 0; i < 257; ++i) {
    // Groups of equal sort keys straddle page boundaries.
    batch.push_back(put(audit_row("p-1", static_cast<std::uint64_t>(i / 7))));
    batch.back().row.key = "p-1/" + std::to_string(1000 + i);
  }
  for (int i = 0; i < 30; ++i) batch.push_back(put(audit_row("p-2", i)));
  commit(std::move(batch));

  for (bool newest_first : {true, false}) {
    Query q;
    q.table = Table::kAudit;
    q.filter.project_id = "p-1";
    q.newest_first = newest_first;
    q.limit = 1000;
    const std::vector<Row> whole = list(q).rows;
    ASSERT_EQ(whole.size(), 257u);
    for (std::size_t limit : {50u, 1u, 64u, 257u}) {
      q.limit = limit;
      int pages = 0;
      std::vector<Row> paged = list_all(q, &pages);
      EXPECT_EQ(keys(paged), keys(whole)) << "limit " << limit;
      EXPECT_EQ(static_cast<std::size_t>(pages), (257 + limit - 1) / limit) << "limit " << limit;
      std::set<std::string> distinct;
      for (const auto& r : paged) distinct.insert(r.key);
      EXPECT_EQ(distinct.size(), 257u);
    }
    // A page that ends exactly at the last row says so.
    q.limit = 257;
    Page page = list(q);
    EXPECT_EQ(page.rows.size(), 257u);
    EXPECT_FALSE(page.next.has_value());
    q.limit = 256;
    page = list(q);
    ASSERT_TRUE(page.next.has_value());
    EXPECT_EQ(page.next->second, page.rows.back().key);
    EXPECT_EQ(page.next->first, page.rows.back().index.sort_key);
  }
  // Resuming after a row that no longer exists continues from its position.
  Query q;
  q.table = Table::kAudit;
  q.filter.project_id = "p-2";
  q.newest_first = false;
  q.limit = 5;
  Page first = list(q);
  ASSERT_TRUE(first.next.has_value());
  commit({erase(Table::kAudit, first.rows.back().key)});
  q.after = first.next;
  Page second = list(q);
  ASSERT_EQ(second.rows.size(), 5u);
  EXPECT_EQ(second.rows.front().index.sort_key, 5);
}

TEST_P(ViewStoreContract, LimitIsOneToAThousand) {
  std::vector<Mutation> batch;
  for (int i = 0; i < 1001; ++i) {
    batch.push_back(put(deployment_row("d-" + std::to_string(i), "p", "prod",
                                       DEPLOYMENT_STATUS_SUCCESS, i)));
  }
  commit(std::move(batch));
  Query q = deployments_query(0);
  auto refused = store_->list(q);
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(refused.status().field(), "limit");
  q.limit = 1001;
  EXPECT_EQ(store_->list(q).status().code(), StatusCode::kInvalidArgument);
  q.limit = 1000;
  Page page = list(q);
  EXPECT_EQ(page.rows.size(), 1000u);
  ASSERT_TRUE(page.next.has_value());
  q.after = page.next;
  EXPECT_THAT(keys(list(q).rows), ElementsAre("d-0"));
  q.limit = 1;
  q.after.reset();
  EXPECT_THAT(keys(list(q).rows), ElementsAre("d-1000"));
}

TEST_P(ViewStoreContract, ABatchOnMovedOffsetsWritesNothing) {
  const Row before = deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 1);
  commit({put(before)}, {}, {{kP0, 5}});
  ASSERT_EQ(offsets(), (Offsets{{kP0, 5}}));

  // Expected 3, stored 5: refused whole — the update, the new row, the erase and the offsets.
  ViewBatch stale{"views",
                  {put(deployment_row("d-1", "p-2", "prod", DEPLOYMENT_STATUS_SUCCESS, 9)),
                   put(deployment_row("d-2", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 2)),
                   erase(Table::kDeployments, "d-1")},
                  {{kP0, 3}},
                  {{kP0, 8}, {kP1, 2}}};
  const Status refused = store_->commit(stale);
  EXPECT_EQ(refused.code(), StatusCode::kAborted) << refused.to_string();
  EXPECT_TRUE(refused.retryable());
  EXPECT_EQ(get(Table::kDeployments, "d-1"), before);
  EXPECT_FALSE(get(Table::kDeployments, "d-2").has_value());
  EXPECT_THAT(keys(list(deployments_query()).rows), ElementsAre("d-1"));
  Query p2 = deployments_query();
  p2.filter.project_id = "p-2";
  EXPECT_THAT(list(p2).rows, IsEmpty());
  EXPECT_EQ(offsets(), (Offsets{{kP0, 5}}));

  // Absent means 0: expecting kP1 at 0 passes, at 2 does not; one stale partition refuses all.
  stale.expected = {{kP0, 5}, {kP1, 2}};
  EXPECT_EQ(store_->commit(stale).code(), StatusCode::kAborted);
  EXPECT_EQ(offsets(), (Offsets{{kP0, 5}}));
  stale.expected = {{kP0, 5}, {kP1, 0}};
  const Status accepted = store_->commit(stale);
  ASSERT_TRUE(accepted.ok()) << accepted.to_string();
  EXPECT_FALSE(get(Table::kDeployments, "d-1").has_value());
  EXPECT_TRUE(get(Table::kDeployments, "d-2").has_value());
  EXPECT_EQ(offsets(), (Offsets{{kP0, 8}, {kP1, 2}}));
  // The same batch again is now stale: a replayed commit cannot apply twice.
  EXPECT_EQ(store_->commit(stale).code(), StatusCode::kAborted);
}

TEST_P(ViewStoreContract, OffsetsRoundTripPerProjection) {
  EXPECT_THAT(offsets(), IsEmpty());
  commit({}, {}, {{kP0, 10}, {kP1, 20}, {kI0, 30}});
  EXPECT_EQ(offsets(), (Offsets{{kP0, 10}, {kP1, 20}, {kI0, 30}}));
  EXPECT_THAT(offsets("audit"), IsEmpty());
  EXPECT_THAT(offsets("view"), IsEmpty());  // a prefix is another projection

  // Another projection has offsets of its own on the same partitions.
  commit({}, {{kP0, 0}}, {{kP0, 3}}, "audit");
  EXPECT_EQ(offsets("audit"), (Offsets{{kP0, 3}}));
  EXPECT_EQ(offsets(), (Offsets{{kP0, 10}, {kP1, 20}, {kI0, 30}}));

  // Partitions not in `next` keep their offsets.
  commit({}, {{kP1, 20}}, {{kP1, 21}});
  EXPECT_EQ(offsets(), (Offsets{{kP0, 10}, {kP1, 21}, {kI0, 30}}));
  // Large offsets survive.
  commit({}, {{kI0, 30}}, {{kI0, std::int64_t{1} << 40}});
  EXPECT_EQ(offsets().at(kI0), std::int64_t{1} << 40);
}

TEST_P(ViewStoreContract, ALaterMutationInABatchWins) {
  commit({put(deployment_row("d-3", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 3))});
  const Row final_a = deployment_row("d-1", "p-2", "prod", DEPLOYMENT_STATUS_SUCCESS, 10);
  const Row final_c = deployment_row("d-3", "p-2", "staging", DEPLOYMENT_STATUS_FAILED, 30);
  commit({put(deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 1)),
          put(final_a),
          put(deployment_row("d-2", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 2)),
          erase(Table::kDeployments, "d-2"),
          erase(Table::kDeployments, "d-3"),
          put(final_c)});
  EXPECT_EQ(get(Table::kDeployments, "d-1"), final_a);
  EXPECT_FALSE(get(Table::kDeployments, "d-2").has_value());
  EXPECT_EQ(get(Table::kDeployments, "d-3"), final_c);
  Query q = deployments_query();
  EXPECT_THAT(keys(list(q).rows), ElementsAre("d-3", "d-1"));
  q.filter.project_id = "p-1";
  EXPECT_THAT(list(q).rows, IsEmpty());
  q.filter.project_id = "p-2";
  EXPECT_THAT(keys(list(q).rows), ElementsAre("d-3", "d-1"));
}

TEST_P(ViewStoreContract, AnUpdateMovesTheRowBetweenIndexBuckets) {
  commit({put(deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 100)),
          put(server_row("s-1", "c-a", 1))});
  // Project, environment, status and sort key all change.
  const Row moved = deployment_row("d-1", "p-2", "staging", DEPLOYMENT_STATUS_SUCCESS, 50);
  Row server = server_row("s-1", "c-b", 2);
  commit({put(moved), put(server)});

  Query q = deployments_query();
  EXPECT_EQ(list(q).rows, std::vector<Row>{moved});
  q.filter.project_id = "p-1";
  EXPECT_THAT(list(q).rows, IsEmpty());
  q.filter.project_id = "p-2";
  EXPECT_EQ(list(q).rows, std::vector<Row>{moved});
  q.filter.project_id.clear();
  q.filter.environment = "prod";
  EXPECT_THAT(list(q).rows, IsEmpty());
  q.filter.environment.clear();
  q.statuses = {DEPLOYMENT_STATUS_PENDING};
  EXPECT_THAT(list(q).rows, IsEmpty());
  q.statuses = {DEPLOYMENT_STATUS_SUCCESS};
  EXPECT_EQ(list(q).rows.size(), 1u);
  // Paging around the old position finds nothing stale.
  q.statuses.clear();
  q.after = std::make_pair(std::int64_t{101}, std::string());
  EXPECT_EQ(list(q).rows.size(), 1u);
  q.after = std::make_pair(std::int64_t{100}, std::string("d-1"));
  EXPECT_EQ(list(q).rows.size(), 1u);
  q.after = std::make_pair(std::int64_t{50}, std::string("d-1"));
  EXPECT_THAT(list(q).rows, IsEmpty());

  Query servers;
  servers.table = Table::kServers;
  servers.filter.cluster_id = "c-a";
  EXPECT_THAT(list(servers).rows, IsEmpty());
  servers.filter.cluster_id = "c-b";
  EXPECT_EQ(list(servers).rows, std::vector<Row>{server});
  servers.filter.cluster_id.clear();
  EXPECT_EQ(list(servers).rows.size(), 1u);

  // Erased rows leave no index entries either.
  commit({erase(Table::kDeployments, "d-1"), erase(Table::kServers, "s-1")});
  q = deployments_query();
  EXPECT_THAT(list(q).rows, IsEmpty());
  q.filter.project_id = "p-2";
  EXPECT_THAT(list(q).rows, IsEmpty());
  EXPECT_THAT(list(servers).rows, IsEmpty());
  servers.filter.cluster_id = "c-b";
  EXPECT_THAT(list(servers).rows, IsEmpty());
}

// Only the doc changes (same index columns): listings show the new doc, once.
TEST_P(ViewStoreContract, AnUpdateOfTheDocAloneIsListedOnce) {
  Row d = deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_DEPLOYING, 100);
  commit({put(d)});
  Row updated = d;
  v1::Deployment doc;
  ASSERT_TRUE(doc.ParseFromString(updated.doc));
  doc.set_current_step(3);
  updated.doc = doc.SerializeAsString();
  commit({put(updated)});
  EXPECT_EQ(get(Table::kDeployments, "d-1"), updated);
  Query q = deployments_query();
  EXPECT_EQ(list(q).rows, std::vector<Row>{updated});
  q.filter.project_id = "p-1";
  EXPECT_EQ(list(q).rows, std::vector<Row>{updated});
}

TEST_P(ViewStoreContract, GetManyReturnsTheRowsThatExist) {
  const Row d1 = deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 1);
  const Row d2 = deployment_row("d-2", "p-1", "prod", DEPLOYMENT_STATUS_SUCCESS, 2);
  commit({put(d1), put(d2), put(project_row("d-3", 3))});
  auto rows = store_->get_many(Table::kDeployments, {"d-2", "missing", "d-1", "d-3", "d-1"});
  ASSERT_TRUE(rows.ok()) << rows.status().to_string();
  std::map<std::string, Row> by_key;
  for (auto& row : *rows) by_key[row.key] = row;
  EXPECT_EQ(by_key.size(), 2u);  // d-3 is a project, not a deployment
  EXPECT_EQ(by_key["d-1"], d1);
  EXPECT_EQ(by_key["d-2"], d2);
  auto none = store_->get_many(Table::kDeployments, {});
  ASSERT_TRUE(none.ok()) << none.status().to_string();
  EXPECT_TRUE(none->empty());
  auto odd = store_->get_many(Table::kDeployments, {std::string("a\0b", 3), "d-1"});
  ASSERT_TRUE(odd.ok()) << odd.status().to_string();
  EXPECT_EQ(odd->size(), 1u);
  EXPECT_EQ(store_->get_many(static_cast<Table>(99), {"x"}).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_P(ViewStoreContract, ClearErasesRowsAndOffsets) {
  std::vector<Mutation> batch;
  for (Table table : projections::kAllTables) {
    Row row = project_row("k", 1);
    row.table = table;
    row.index.project_id = "p";
    batch.push_back(put(row));
  }
  commit(std::move(batch), {}, {{kP0, 7}});
  commit({}, {}, {{kP0, 3}}, "audit");
  const Status s = store_->clear();
  ASSERT_TRUE(s.ok()) << s.to_string();
  for (Table table : projections::kAllTables) {
    EXPECT_FALSE(get(table, "k").has_value()) << table_name(table);
    Query q;
    q.table = table;
    EXPECT_THAT(list(q).rows, IsEmpty()) << table_name(table);
    q.filter.project_id = "p";
    EXPECT_THAT(list(q).rows, IsEmpty()) << table_name(table);
  }
  EXPECT_THAT(offsets(), IsEmpty());
  EXPECT_THAT(offsets("audit"), IsEmpty());
  // A rebuild starts from offset 0.
  commit({put(project_row("k", 2))}, {{kP0, 0}}, {{kP0, 1}});
  EXPECT_EQ(get(Table::kProjects, "k"), project_row("k", 2));
}

TEST_P(ViewStoreContract, ReopeningKeepsEverything) {
  const Row d = deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_DEPLOYING, 7);
  const Row s = server_row("s-1", "c-1", 1);
  commit({put(d), put(s)}, {}, {{kP0, 4}, {kI0, 2}});
  reopen();
  if (!GetParam().persistent) {
    // The memory store is for as-of folds: a new one starts empty.
    EXPECT_FALSE(get(Table::kDeployments, "d-1").has_value());
    EXPECT_THAT(offsets(), IsEmpty());
    return;
  }
  EXPECT_EQ(get(Table::kDeployments, "d-1"), d);
  Query q = deployments_query();
  q.filter.project_id = "p-1";
  EXPECT_EQ(list(q).rows, std::vector<Row>{d});
  Query servers;
  servers.table = Table::kServers;
  servers.filter.cluster_id = "c-1";
  EXPECT_EQ(list(servers).rows, std::vector<Row>{s});
  EXPECT_EQ(offsets(), (Offsets{{kP0, 4}, {kI0, 2}}));
  // And the compare-and-set continues from the stored offsets.
  EXPECT_EQ(store_->commit({"views", {}, {{kP0, 0}}, {{kP0, 5}}}).code(), StatusCode::kAborted);
  commit({}, {{kP0, 4}}, {{kP0, 5}});
  EXPECT_EQ(offsets().at(kP0), 5);
}

TEST_P(ViewStoreContract, ConcurrentWritersOfOneProjectionCommitOneAtATime) {
  // Eight writers race from the same offsets, round after round: exactly one wins each round.
  constexpr int kWriters = 8;
  constexpr int kRounds = 5;
  for (int round = 0; round < kRounds; ++round) {
    std::atomic<int> won{0}, lost{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < kWriters; ++w) {
      writers.emplace_back([&, w] {
        ViewBatch batch{"views",
                        {put(project_row("w-" + std::to_string(round) + "-" + std::to_string(w),
                                         round))},
                        {{kP0, round}},
                        {{kP0, round + 1}}};
        const Status s = store_->commit(batch);
        if (s.ok()) {
          ++won;
        } else if (s.code() == StatusCode::kAborted) {
          ++lost;
        } else {
          ADD_FAILURE() << s.to_string();
        }
      });
    }
    for (auto& t : writers) t.join();
    EXPECT_EQ(won.load(), 1) << "round " << round;
    EXPECT_EQ(lost.load(), kWriters - 1) << "round " << round;
    EXPECT_EQ(offsets().at(kP0), round + 1);
  }
  Query q;
  q.table = Table::kProjects;
  EXPECT_EQ(list(q).rows.size(), static_cast<std::size_t>(kRounds));
}

TEST_P(ViewStoreContract, RefusesMalformedBatches) {
  ViewBatch batch{"views", {put(project_row("", 1))}, {}, {}};
  Status s = store_->commit(batch);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.to_string();
  EXPECT_EQ(s.field(), "mutations[0].key");
  batch = ViewBatch{"", {put(project_row("k", 1))}, {}, {{kP0, 1}}};
  EXPECT_EQ(store_->commit(batch).code(), StatusCode::kInvalidArgument);
  batch = ViewBatch{"views", {put(project_row("k", 1))}, {}, {{kP0, -1}}};
  EXPECT_EQ(store_->commit(batch).code(), StatusCode::kInvalidArgument);
  Row unknown = project_row("k", 1);
  unknown.table = static_cast<Table>(42);
  batch = ViewBatch{"views", {put(unknown)}, {}, {}};
  EXPECT_EQ(store_->commit(batch).code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(get(Table::kProjects, "k").has_value());
  EXPECT_THAT(offsets(), IsEmpty());
  // Rows without offsets need no projection name.
  batch = ViewBatch{"", {put(project_row("k", 1))}, {}, {}};
  s = store_->commit(batch);
  EXPECT_TRUE(s.ok()) << s.to_string();
}

INSTANTIATE_TEST_SUITE_P(Stores, ViewStoreContract,
                         ::testing::ValuesIn(all_view_store_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace axion::testing
