// The fixture of the ViewStore contract suite: every TEST_P in view_store_contract_test.cc runs
// against each store of all_view_store_backends() — memory, RocksDB and the real PostgreSQL
// (DATABASE_URL; without it the PostgreSQL cases fail saying so, never skipped). Each test gets
// a fresh store: a new directory for RocksDB, a new schema for PostgreSQL (dropped afterwards).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <memory>
#include <string>
#include <vector>

#include "axion/v1/audit.pb.h"
#include "axion/v1/deployment.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "axion/v1/project.pb.h"
#include "projections/view_store.h"

namespace axion::testing {

using projections::Mutation;
using projections::Offsets;
using projections::Page;
using projections::Query;
using projections::Row;
using projections::RowIndex;
using projections::Table;
using projections::ViewBatch;
using projections::ViewStore;

struct ViewStoreBackend {
  std::string name;
  bool persistent = true;  // reopening keeps the data (false: memory, a new store is empty)
  // A new place for a store: a directory (RocksDB) or a schema name (PostgreSQL).
  std::function<std::string()> fresh_place;
  // Opens the store at `place`; called again after the previous instance is destroyed to
  // simulate a restart of the process.
  std::function<Result<std::unique_ptr<ViewStore>>(const std::string& place)> open;
  // Removes what the store left (drops the schema); may be empty.
  std::function<void(const std::string& place)> drop;
};

std::vector<ViewStoreBackend> all_view_store_backends();
// gtest prints a parameter by name, not as bytes.
inline void PrintTo(const ViewStoreBackend& backend, std::ostream* os) { *os << backend.name; }

// DATABASE_URL, or a FAILED_PRECONDITION that says how to get one.
Result<std::string> database_url();
// A schema name unique to this run ("vs_" + hex).
std::string unique_schema(const std::string& prefix = "vs");

// Rows with real read models as docs (the PostgreSQL store derives typed columns from them).
Row deployment_row(const std::string& id, const std::string& project, const std::string& env,
                   v1::DeploymentStatus status, std::int64_t sort_key);
Row server_row(const std::string& id, const std::string& cluster, std::int64_t sort_key);
Row audit_row(const std::string& project, std::uint64_t sequence);
Row project_row(const std::string& id, std::int64_t sort_key);

inline Mutation put(Row row) { return Mutation{std::move(row), false}; }
inline Mutation erase(Table table, const std::string& key) {
  Mutation m;
  m.row.table = table;
  m.row.key = key;
  m.erase = true;
  return m;
}

class ViewStoreContract : public ::testing::TestWithParam<ViewStoreBackend> {
 protected:
  void SetUp() override {
    place_ = GetParam().fresh_place();
    reopen();
  }

  void TearDown() override {
    store_.reset();
    if (GetParam().drop && !place_.empty()) GetParam().drop(place_);
  }

  // Destroys the current instance (as a process exit would) and opens the store again.
  void reopen() {
    store_.reset();
    auto opened = GetParam().open(place_);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    store_ = std::move(opened).value();
  }

  void commit(std::vector<Mutation> mutations, Offsets expected = {}, Offsets next = {},
              const std::string& projection = "views") {
    ViewBatch batch{projection, std::move(mutations), std::move(expected), std::move(next)};
    const Status s = store_->commit(batch);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  std::optional<Row> get(Table table, const std::string& key) {
    auto row = store_->get(table, key);
    EXPECT_TRUE(row.ok()) << row.status().to_string();
    return row.ok() ? *row : std::nullopt;
  }

  Page list(const Query& query) {
    auto page = store_->list(query);
    EXPECT_TRUE(page.ok()) << page.status().to_string();
    return page.ok() ? std::move(page).value() : Page{};
  }

  // Every row of a listing, following `next` page by page; fails on a repeated row.
  std::vector<Row> list_all(Query query, int* pages = nullptr) {
    std::vector<Row> out;
    for (int n = 1;; ++n) {
      Page page = list(query);
      out.insert(out.end(), page.rows.begin(), page.rows.end());
      if (pages) *pages = n;
      if (!page.next || n > 10000) break;
      query.after = page.next;
    }
    return out;
  }

  static std::vector<std::string> keys(const std::vector<Row>& rows) {
    std::vector<std::string> out;
    for (const auto& r : rows) out.push_back(r.key);
    return out;
  }

  Offsets offsets(const std::string& projection = "views") {
    auto o = store_->offsets(projection);
    EXPECT_TRUE(o.ok()) << o.status().to_string();
    return o.ok() ? *o : Offsets{};
  }

  std::string place_;
  std::unique_ptr<ViewStore> store_;
};

}  // namespace axion::testing
