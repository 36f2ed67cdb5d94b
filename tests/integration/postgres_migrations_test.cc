// The migration gate against the real PostgreSQL (DATABASE_URL; fails without it): every
// migration goes up, down to an empty schema and up again; migrating twice changes nothing;
// concurrent migrators agree; a schema newer than the build, or not migrated, is refused.
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <thread>

#include "infra/postgres/migrations.h"
#include "infra/postgres/view_store.h"
#include "tests/integration/view_store_contract.h"

namespace axion::testing {
namespace {

using infra::postgres::latest_migration;
using infra::postgres::migrate_down;
using infra::postgres::migrate_up;
using infra::postgres::migration_version;

class PostgresMigrations : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = database_url();
    ASSERT_TRUE(url.ok()) << url.status().to_string();
    url_ = *url;
    schema_ = unique_schema("mig");
  }
  void TearDown() override {
    if (!url_.empty()) {
      const Status s = infra::postgres::drop_postgres_schema(url_, schema_);
      EXPECT_TRUE(s.ok()) << s.to_string();
    }
  }

  // Tables, indexes, sequences... anything in the schema.
  int relations() {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    return tx
        .exec_params1("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                      "c.relnamespace WHERE n.nspname = $1",
                      schema_)[0]
        .as<int>();
  }
  std::vector<std::string> tables() {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    std::vector<std::string> out;
    for (const auto& row : tx.exec_params("SELECT table_name FROM information_schema.tables "
                                          "WHERE table_schema = $1 ORDER BY table_name",
                                          schema_)) {
      out.push_back(row[0].as<std::string>());
    }
    return out;
  }
  int version() {
    auto v = migration_version(url_, schema_);
    EXPECT_TRUE(v.ok()) << v.status().to_string();
    return v.ok() ? *v : -1;
  }

  std::string url_;
  std::string schema_;
};

const std::vector<std::string> kTables = {
    "audit",    "clusters",           "deployment_history", "deployments",
    "graph_versions", "internal",     "projection_offsets", "projects",
    "schema_migrations", "servers"};

TEST_F(PostgresMigrations, MigrationsAreNumberedUpDownPairs) {
  const auto& all = infra::postgres::migrations();
  ASSERT_FALSE(all.empty());
  for (std::size_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].version, static_cast<int>(i + 1));
    EXPECT_FALSE(all[i].name.empty());
    EXPECT_NE(all[i].up.find("CREATE"), std::string::npos) << all[i].name;
    EXPECT_NE(all[i].down.find("DROP"), std::string::npos) << all[i].name;
  }
  EXPECT_EQ(latest_migration(), all.back().version);
}

TEST_F(PostgresMigrations, GoesUpDownToAnEmptySchemaAndUpAgain) {
  EXPECT_EQ(version(), 0);
  Status s = migrate_up(url_, schema_);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(version(), latest_migration());
  EXPECT_EQ(tables(), kTables);
  const int relations_up = relations();

  // Twice is a no-op.
  s = migrate_up(url_, schema_);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(version(), latest_migration());
  EXPECT_EQ(relations(), relations_up);

  // Down, one step at a time, then to nothing.
  for (int target = latest_migration() - 1; target >= 0; --target) {
    s = migrate_down(url_, schema_, target);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(version(), target);
  }
  EXPECT_EQ(relations(), 0) << "down to 0 leaves the schema empty";
  EXPECT_TRUE(tables().empty());
  s = migrate_down(url_, schema_, 0);  // already there
  ASSERT_TRUE(s.ok()) << s.to_string();

  // Up again, one step at a time; then the store works on it.
  for (int target = 1; target <= latest_migration(); ++target) {
    s = migrate_up(url_, schema_, target);
    ASSERT_TRUE(s.ok()) << s.to_string();
    EXPECT_EQ(version(), target);
  }
  EXPECT_EQ(tables(), kTables);
  EXPECT_EQ(relations(), relations_up);
  infra::postgres::PostgresConfig config;
  config.url = url_;
  config.schema = schema_;
  config.migrate = false;
  auto store = infra::postgres::open_postgres_view_store(config);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  s = (*store)->commit({"views", {put(project_row("p-1", 1))}, {}, {{{"t", 0}, 1}}});
  ASSERT_TRUE(s.ok()) << s.to_string();
  auto row = (*store)->get(Table::kProjects, "p-1");
  ASSERT_TRUE(row.ok() && row->has_value());

  // Down with data in the tables: they go too.
  store->reset();
  s = migrate_down(url_, schema_, 0);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(relations(), 0);
}

TEST_F(PostgresMigrations, ConcurrentMigratorsAgree) {
  std::vector<std::thread> threads;
  std::vector<Status> results(4);
  for (std::size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] { results[i] = migrate_up(url_, schema_); });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(version(), latest_migration());
  EXPECT_EQ(tables(), kTables);
}

TEST_F(PostgresMigrations, RefusesSchemasItCannotServe) {
  infra::postgres::PostgresConfig config;
  config.url = url_;
  config.schema = schema_;
  config.migrate = false;
  auto store = infra::postgres::open_postgres_view_store(config);
  EXPECT_EQ(store.status().code(), StatusCode::kFailedPrecondition) << store.status().to_string();
  EXPECT_NE(store.status().message().find("migration 0"), std::string::npos);

  ASSERT_TRUE(migrate_up(url_, schema_).ok());
  {
    pqxx::connection conn(url_);
    pqxx::work tx(conn);
    tx.exec("INSERT INTO " + tx.quote_name(schema_) +
            ".schema_migrations (version, name) VALUES (" +
            std::to_string(latest_migration() + 1) + ", 'from_the_future')");
    tx.commit();
  }
  const Status up = migrate_up(url_, schema_);
  EXPECT_EQ(up.code(), StatusCode::kFailedPrecondition) << up.to_string();
  EXPECT_NE(up.message().find("newer"), std::string::npos) << up.to_string();
  config.migrate = true;
  EXPECT_EQ(infra::postgres::open_postgres_view_store(config).status().code(),
            StatusCode::kFailedPrecondition);

  EXPECT_EQ(migrate_up(url_, "Bad-Name").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(migrate_up(url_, "x; DROP SCHEMA public").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(migrate_down(url_, schema_, latest_migration() + 5).code(),
            StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace axion::testing
