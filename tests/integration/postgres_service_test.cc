// The PostgreSQL that scripts/test starts is the one the projections will use: reachable at
// DATABASE_URL, version 15, and writable by the axion role. Fails (never skips) without it.
#include <gtest/gtest.h>

#include <cstdlib>
#include <pqxx/pqxx>

namespace {

TEST(PostgresService, IsVersion15AndWritableAtDatabaseUrl) {
  const char* url = std::getenv("DATABASE_URL");
  ASSERT_TRUE(url && *url) << "DATABASE_URL is not set: run scripts/test, which starts PostgreSQL";
  pqxx::connection conn(url);
  pqxx::work tx(conn);
  const int version = tx.exec1("SHOW server_version_num")[0].as<int>();
  EXPECT_GE(version, 150000);
  EXPECT_LT(version, 160000);
  tx.exec0("CREATE TEMP TABLE probe (id int primary key, note text)");
  tx.exec0("INSERT INTO probe VALUES (1, 'axion')");
  EXPECT_EQ(tx.exec1("SELECT note FROM probe WHERE id = 1")[0].as<std::string>(), "axion");
  tx.abort();
}

}  // namespace
