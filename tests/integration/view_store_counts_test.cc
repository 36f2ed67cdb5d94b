// ViewStore::count_by_status, part of the contract suite (instantiated in
// view_store_contract_test.cc over memory, RocksDB and PostgreSQL): counts follow inserts,
// status changes, erases, several mutations of a row in one batch, clear() and a reopen; a
// refused batch changes none. And the RocksDB store counts a store written before it kept
// counts when it opens it.
#include <rocksdb/db.h>

#include "tests/integration/view_store_contract.h"

namespace axion::testing {

namespace {

using v1::DEPLOYMENT_STATUS_DEPLOYING;
using v1::DEPLOYMENT_STATUS_FAILED;
using v1::DEPLOYMENT_STATUS_PENDING;
using v1::DEPLOYMENT_STATUS_SUCCESS;
using Counts = std::map<std::int32_t, std::uint64_t>;

const events::TopicPartition kP0{"axion.deployment.events.v1", 0};

Counts counts_of(ViewStore& store, Table table) {
  auto c = store.count_by_status(table);
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.ok() ? *c : Counts{};
}

TEST_P(ViewStoreContract, CountsRowsByStatusThroughInsertsUpdatesAndErases) {
  const auto count = [&](Table table) { return counts_of(*store_, table); };
  EXPECT_EQ(count(Table::kDeployments), Counts{});
  commit({put(deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 1)),
          put(deployment_row("d-2", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 2)),
          put(deployment_row("d-3", "p-2", "prod", DEPLOYMENT_STATUS_DEPLOYING, 3)),
          put(server_row("s-1", "c-1", 1))});
  EXPECT_EQ(count(Table::kDeployments),
            (Counts{{DEPLOYMENT_STATUS_PENDING, 2}, {DEPLOYMENT_STATUS_DEPLOYING, 1}}));
  EXPECT_EQ(count(Table::kServers), (Counts{{0, 1}}));  // rows without a status count as 0

  // A status change moves the row; a doc-only update (same index) changes nothing.
  commit({put(deployment_row("d-3", "p-2", "prod", DEPLOYMENT_STATUS_SUCCESS, 3)),
          put(deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 1))});
  EXPECT_EQ(count(Table::kDeployments),
            (Counts{{DEPLOYMENT_STATUS_PENDING, 2}, {DEPLOYMENT_STATUS_SUCCESS, 1}}));

  // Several mutations of one row in a batch count once, as the last leaves it; an erase of a
  // row that does not exist counts nothing.
  commit({put(deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_DEPLOYING, 1)),
          put(deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_FAILED, 1)),
          put(deployment_row("d-4", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 4)),
          erase(Table::kDeployments, "d-4"), erase(Table::kDeployments, "d-9"),
          erase(Table::kDeployments, "d-2")});
  EXPECT_EQ(count(Table::kDeployments),
            (Counts{{DEPLOYMENT_STATUS_FAILED, 1}, {DEPLOYMENT_STATUS_SUCCESS, 1}}));

  // A batch refused for its offsets counts nothing.
  ViewBatch stale{"views",
                  {put(deployment_row("d-5", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 5))},
                  {{kP0, 7}},
                  {{kP0, 8}}};
  EXPECT_EQ(store_->commit(stale).code(), StatusCode::kAborted);
  EXPECT_EQ(count(Table::kDeployments),
            (Counts{{DEPLOYMENT_STATUS_FAILED, 1}, {DEPLOYMENT_STATUS_SUCCESS, 1}}));

  if (GetParam().persistent) {
    reopen();
    EXPECT_EQ(count(Table::kDeployments),
              (Counts{{DEPLOYMENT_STATUS_FAILED, 1}, {DEPLOYMENT_STATUS_SUCCESS, 1}}));
  }
  ASSERT_TRUE(store_->clear().ok());
  EXPECT_EQ(count(Table::kDeployments), Counts{});
  EXPECT_EQ(count(Table::kServers), Counts{});
  commit({put(deployment_row("d-6", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 6))});
  EXPECT_EQ(count(Table::kDeployments), (Counts{{DEPLOYMENT_STATUS_PENDING, 1}}));
}

TEST_P(ViewStoreContract, ARocksStoreWithoutCountsIsCountedWhenOpened) {
  if (GetParam().name != "rocksdb") return;  // RocksDB's own upgrade path; the others count live
  commit({put(deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_PENDING, 1)),
          put(deployment_row("d-2", "p-1", "prod", DEPLOYMENT_STATUS_SUCCESS, 2)),
          put(deployment_row("d-3", "p-1", "prod", DEPLOYMENT_STATUS_SUCCESS, 3))});
  store_.reset();
  {
    // What a store written before counts were kept looks like: rows, no 'C' keys.
    ::rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(::rocksdb::DB::Open(::rocksdb::Options(), place_, &raw).ok());
    std::unique_ptr<::rocksdb::DB> db(raw);
    ASSERT_TRUE(
        db->DeleteRange(::rocksdb::WriteOptions(), db->DefaultColumnFamily(), "C", "D").ok());
  }
  reopen();
  EXPECT_EQ(counts_of(*store_, Table::kDeployments),
            (Counts{{DEPLOYMENT_STATUS_PENDING, 1}, {DEPLOYMENT_STATUS_SUCCESS, 2}}));
  // And kept from there on.
  commit({put(deployment_row("d-1", "p-1", "prod", DEPLOYMENT_STATUS_SUCCESS, 1))});
  EXPECT_EQ(counts_of(*store_, Table::kDeployments), (Counts{{DEPLOYMENT_STATUS_SUCCESS, 3}}));
}

}  // namespace
}  // namespace axion::testing
