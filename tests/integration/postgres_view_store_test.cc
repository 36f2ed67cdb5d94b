// What only the PostgreSQL ViewStore does, against the real server (DATABASE_URL; fails without
// it): typed columns derived from the docs, listings served by indexes, errors that name the
// host and never the password, promotion of a rebuilt schema under live readers, and the
// throughput of 10,000-row batches.
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/time_util.h>
#include <gtest/gtest.h>

#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

#include "infra/postgres/impl/json.h"
#include "infra/postgres/migrations.h"
#include "infra/postgres/view_store.h"
#include "tests/integration/view_store_contract.h"

namespace axion::testing {
namespace {

using infra::postgres::PostgresConfig;

class PostgresViews : public ::testing::Test {
 protected:
  void SetUp() override {
    auto url = database_url();
    ASSERT_TRUE(url.ok()) << url.status().to_string();
    url_ = *url;
    schema_ = schema("pv");
    store_ = open(schema_);
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    for (const auto& s : schemas_) {
      const Status dropped = infra::postgres::drop_postgres_schema(url_, s);
      EXPECT_TRUE(dropped.ok()) << dropped.to_string();
    }
  }

  // A fresh schema name, dropped after the test.
  std::string schema(const std::string& prefix) {
    schemas_.push_back(unique_schema(prefix));
    return schemas_.back();
  }

  std::unique_ptr<ViewStore> open(const std::string& schema) {
    PostgresConfig config;
    config.url = url_;
    config.schema = schema;
    auto store = infra::postgres::open_postgres_view_store(config);
    EXPECT_TRUE(store.ok()) << store.status().to_string();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  void commit(ViewStore& store, const ViewBatch& batch) {
    const Status s = store.commit(batch);
    ASSERT_TRUE(s.ok()) << s.to_string();
  }

  pqxx::result sql(const std::string& query) {
    pqxx::connection conn(url_);
    pqxx::nontransaction tx(conn);
    return tx.exec(query);
  }

  std::string url_;
  std::string schema_;
  std::vector<std::string> schemas_;
  std::unique_ptr<ViewStore> store_;
};

TEST_F(PostgresViews, DerivesTypedColumnsFromTheDocs) {
  Row history;
  {
    v1::DeploymentSnapshot snapshot;
    snapshot.set_deployment_id("d-1");
    snapshot.set_project_id("p-1");
    snapshot.set_environment("production");
    snapshot.mutable_graph()->set_version(3);
    (*snapshot.mutable_env())["LOG_LEVEL"] = "debug";
    history.table = Table::kDeploymentHistory;
    history.key = "d-1";
    history.index.project_id = "p-1";
    history.index.environment = "production";
    history.index.sort_key = 1700000000123;
    history.doc = snapshot.SerializeAsString();
  }
  Row not_a_model = project_row("p-2", 1);
  not_a_model.doc = "\xff\xff not protobuf";
  commit(*store_, {"views",
                   {put(deployment_row("d-1", "p-1", "production",
                                       v1::DEPLOYMENT_STATUS_DEPLOYING, 1700000000000)),
                    put(history), put(server_row("s-1", "c-1", 1)), put(audit_row("p-1", 7)),
                    put(project_row("p-1", 1)), put(not_a_model)},
                   {},
                   {}});
  const std::string s = "\"" + schema_ + "\".";
  auto d = sql("SELECT status, status_code, service_statuses->0->>'service', "
               "service_statuses->0->>'status', config->'strategy'->'rolling'->>'batch_size', "
               "config->'options'->>'cluster_id', graph_version, requested_by, "
               "created_at = to_timestamp(1700000000), started_at = created_at, "
               "completed_at IS NULL, env_vars IS NULL FROM " +
               s + "deployments WHERE id = 'd-1'");
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0][0].as<std::string>(), "DEPLOYING");
  EXPECT_EQ(d[0][1].as<int>(), v1::DEPLOYMENT_STATUS_DEPLOYING);
  EXPECT_EQ(d[0][2].as<std::string>(), "api");
  EXPECT_EQ(d[0][3].as<std::string>(), "SERVICE_STATUS_HEALTHY");
  EXPECT_EQ(d[0][4].as<std::string>(), "1");
  EXPECT_EQ(d[0][5].as<std::string>(), "cluster-1");
  EXPECT_EQ(d[0][6].as<int>(), 3);
  EXPECT_EQ(d[0][7].as<std::string>(), "alice");
  EXPECT_TRUE(d[0][8].as<bool>());
  EXPECT_TRUE(d[0][9].as<bool>());
  EXPECT_TRUE(d[0][10].as<bool>());
  EXPECT_TRUE(d[0][11].as<bool>());

  auto h = sql("SELECT deployment_id, version, deployment_snapshot->'env'->>'LOG_LEVEL', "
               "rolled_back, created_at = to_timestamp(1700000000.123) FROM " +
               s + "deployment_history WHERE id = 'd-1'");
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0][0].as<std::string>(), "d-1");
  EXPECT_EQ(h[0][1].as<std::string>(), "3");
  EXPECT_EQ(h[0][2].as<std::string>(), "debug");
  EXPECT_FALSE(h[0][3].as<bool>());
  EXPECT_TRUE(h[0][4].as<bool>());

  auto sv = sql("SELECT name, host, port, status, agent_status, labels->>'zone', cluster_id FROM " +
                s + "servers WHERE key = 's-1'");
  ASSERT_EQ(sv.size(), 1u);
  EXPECT_EQ(sv[0][0].as<std::string>(), "web-s-1");
  EXPECT_EQ(sv[0][2].as<int>(), 22);
  EXPECT_EQ(sv[0][3].as<std::string>(), "READY");
  EXPECT_EQ(sv[0][4].as<std::string>(), "ONLINE");
  EXPECT_EQ(sv[0][5].as<std::string>(), "eu-1");
  EXPECT_EQ(sv[0][6].as<std::string>(), "c-1");

  auto a = sql("SELECT event_id, sequence, actor FROM " + s + "audit");
  ASSERT_EQ(a.size(), 1u);
  EXPECT_EQ(a[0][0].as<std::string>(), "event-7");
  EXPECT_EQ(a[0][1].as<int>(), 7);

  // A doc that is not its read model is stored as given; its typed columns are NULL.
  auto p = sql("SELECT key, name FROM " + s + "projects ORDER BY key");
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0][1].as<std::string>(), "name-p-1");
  EXPECT_TRUE(p[1][1].is_null());
  auto stored = store_->get(Table::kProjects, "p-2");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->doc, not_a_model.doc);
}

// The adapter prints JSONB columns with its own reflection printer (impl/json.h); PostgreSQL
// must read the same document from it as from protobuf's MessageToJsonString.
TEST_F(PostgresViews, JsonColumnsEqualProtobufsJsonMapping) {
  using google::protobuf::util::TimeUtil;
  v1::Deployment d = v1::Deployment();
  {
    Row row = deployment_row("d-1", "p-1", "prod", v1::DEPLOYMENT_STATUS_FAILED, 1700000000987);
    ASSERT_TRUE(d.ParseFromString(row.doc));
  }
  auto* canary = d.mutable_strategy()->mutable_canary();
  canary->add_weights(10);
  canary->add_weights(50);
  *canary->mutable_bake_time() = TimeUtil::MillisecondsToDuration(1500);
  canary->set_max_error_rate(0.05);
  d.mutable_options()->add_server_ids("s-\"1\"\n");
  *d.mutable_options()->mutable_progress_deadline() = TimeUtil::SecondsToDuration(600);
  d.set_version(std::uint64_t{1} << 60);
  d.mutable_failure()->set_step_kind(static_cast<v1::StepKind>(1));
  d.mutable_failure()->set_agent_output("tail \x01 \xc3\xa9 </script>");
  *d.mutable_finished_at() = TimeUtil::NanosecondsToTimestamp(1700000000123456789);

  v1::DeploymentSnapshot snapshot;
  snapshot.set_deployment_id("d-1");
  (*snapshot.mutable_env())["A"] = "1";
  (*snapshot.mutable_env())["B \"quoted\""] = "x\ty";
  (*snapshot.mutable_placement())["api"].add_server_ids("s-1");
  (*snapshot.mutable_images())["api"] = "registry/api@sha256:abc";
  snapshot.mutable_graph()->set_version(7);

  v1::Server server;
  server.set_server_id("s-1");
  server.mutable_credential()->set_key_id("k");
  server.mutable_credential()->set_nonce(std::string("\x00\xff\x10", 3));
  server.mutable_credential()->set_ciphertext("abcd");
  (*server.mutable_labels())["zone"] = "eu";
  server.set_status(static_cast<v1::ServerStatus>(99));  // unknown enum numbers stay numbers

  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  pqxx::connection conn(url_);
  pqxx::nontransaction tx(conn);
  for (const google::protobuf::Message* message :
       std::initializer_list<const google::protobuf::Message*>{&d, &snapshot, &server,
                                                               &d.strategy(), &d.options()}) {
    std::string reference;
    ASSERT_TRUE(google::protobuf::util::MessageToJsonString(*message, &reference, options).ok());
    const auto ours = infra::postgres::impl::to_json(*message);
    ASSERT_TRUE(ours.has_value());
    EXPECT_TRUE(tx.exec_params1("SELECT $1::jsonb = $2::jsonb", *ours, reference)[0].as<bool>())
        << message->GetTypeName() << "\nours:     " << *ours << "\nprotobuf: " << reference;
  }
}

TEST_F(PostgresViews, ListingsAreServedByIndexes) {
  const std::string s = "\"" + schema_ + "\".";
  pqxx::connection conn(url_);
  pqxx::nontransaction tx(conn);
  tx.exec("SET enable_seqscan = off");
  auto plan = [&](const std::string& query) {
    std::string out;
    for (const auto& row : tx.exec("EXPLAIN " + query)) out += row[0].as<std::string>() + "\n";
    return out;
  };
  const std::string by_project =
      plan("SELECT * FROM " + s +
           "deployments WHERE project_id = 'p' AND (sort_key, id) < (5, 'k') "
           "ORDER BY sort_key DESC, id DESC LIMIT 51");
  EXPECT_NE(by_project.find("deployments_by_project"), std::string::npos) << by_project;
  EXPECT_EQ(by_project.find("Sort"), std::string::npos) << by_project;
  const std::string all =
      plan("SELECT * FROM " + s + "deployments WHERE (sort_key, id) > (5, 'k') ORDER BY sort_key, "
                                  "id LIMIT 51");
  EXPECT_NE(all.find("deployments_by_order"), std::string::npos) << all;
  const std::string audit =
      plan("SELECT * FROM " + s + "audit WHERE project_id = 'p' AND (sort_key, key) > (5, 'k') "
                                  "ORDER BY sort_key, key LIMIT 51");
  EXPECT_NE(audit.find("audit_by_project"), std::string::npos) << audit;
  const std::string by_cluster =
      plan("SELECT * FROM " + s + "servers WHERE cluster_id = 'c' ORDER BY sort_key, key LIMIT 51");
  EXPECT_NE(by_cluster.find("servers_by_cluster"), std::string::npos) << by_cluster;
}

TEST_F(PostgresViews, ConnectionErrorsNameTheHostAndNeverThePassword) {
  for (const std::string& url :
       {std::string("postgresql://axion:not-this-secret-pw@127.0.0.1:1/axion_test"),
        std::string("host=127.0.0.1 port=1 user=axion password=not-this-secret-pw "
                    "dbname=axion_test")}) {
    PostgresConfig config;
    config.url = url;
    config.connect_timeout = std::chrono::seconds(2);
    const auto started = std::chrono::steady_clock::now();
    auto store = infra::postgres::open_postgres_view_store(config);
    EXPECT_EQ(store.status().code(), StatusCode::kUnavailable) << store.status().to_string();
    EXPECT_TRUE(store.status().retryable());
    EXPECT_NE(store.status().message().find("127.0.0.1:1/axion_test"), std::string::npos)
        << store.status().to_string();
    EXPECT_EQ(store.status().message().find("not-this-secret-pw"), std::string::npos)
        << store.status().to_string();
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(10));
  }
  PostgresConfig config;
  config.url = "postgresql://axion:not-this-secret-pw@[::1/axion_test";
  auto store = infra::postgres::open_postgres_view_store(config);
  EXPECT_EQ(store.status().code(), StatusCode::kInvalidArgument) << store.status().to_string();
  EXPECT_EQ(store.status().message().find("not-this-secret-pw"), std::string::npos);
  // A wrong password: refused by the server, named by host, password not echoed.
  config.url = "postgresql://axion:not-this-secret-pw@127.0.0.1:55432/axion_test";
  if (url_.find("127.0.0.1:55432") != std::string::npos) {
    store = infra::postgres::open_postgres_view_store(config);
    if (!store.ok()) {
      EXPECT_EQ(store.status().message().find("not-this-secret-pw"), std::string::npos);
      EXPECT_NE(store.status().message().find("127.0.0.1:55432"), std::string::npos);
    }
  }
}

TEST_F(PostgresViews, RecoversFromConnectionsTheServerDropped) {
  // A store whose connections carry a name of their own, so only they are terminated.
  const std::string app = unique_schema("app");
  PostgresConfig config;
  config.url = url_ + (url_.find('?') == std::string::npos ? "?" : "&") + "application_name=" + app;
  config.schema = schema_;
  auto opened = infra::postgres::open_postgres_view_store(config);
  ASSERT_TRUE(opened.ok()) << opened.status().to_string();
  ViewStore& store = **opened;
  commit(store, {"views", {put(project_row("p-1", 1))}, {}, {{{"t", 0}, 1}}});
  auto terminate = [&] {
    return sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
               "application_name = '" + app + "'")[0][0].as<int>();
  };
  ASSERT_GE(terminate(), 1);
  // Reads retry once on a fresh connection when a pooled one has gone stale.
  auto row = store.get(Table::kProjects, "p-1");
  ASSERT_TRUE(row.ok()) << row.status().to_string();
  EXPECT_TRUE(row->has_value());
  // A commit is not repeated behind the caller's back: UNAVAILABLE, then the next one works.
  ASSERT_GE(terminate(), 1);
  const Status lost = store.commit({"views", {put(project_row("p-2", 2))}, {{{"t", 0}, 1}},
                                    {{{"t", 0}, 2}}});
  EXPECT_EQ(lost.code(), StatusCode::kUnavailable) << lost.to_string();
  EXPECT_TRUE(lost.retryable());
  commit(store, {"views", {put(project_row("p-2", 2))}, {{{"t", 0}, 1}}, {{{"t", 0}, 2}}});
  auto offsets = store.offsets("views");
  ASSERT_TRUE(offsets.ok());
  EXPECT_EQ(offsets->at({"t", 0}), 2);
}

TEST_F(PostgresViews, AStatementOverItsTimeoutIsDeadlineExceeded) {
  PostgresConfig config;
  config.url = url_;
  config.schema = schema_;
  config.statement_timeout = std::chrono::milliseconds(200);
  auto store = infra::postgres::open_postgres_view_store(config);
  ASSERT_TRUE(store.ok()) << store.status().to_string();
  // Another session holds the table; the read waits for it until its timeout.
  pqxx::connection holder(url_);
  pqxx::work lock(holder);
  lock.exec("LOCK TABLE \"" + schema_ + "\".projects IN ACCESS EXCLUSIVE MODE");
  auto row = (*store)->get(Table::kProjects, "p-1");
  EXPECT_EQ(row.status().code(), StatusCode::kDeadlineExceeded) << row.status().to_string();
  EXPECT_TRUE(row.status().retryable());
  lock.abort();
  row = (*store)->get(Table::kProjects, "p-1");
  EXPECT_TRUE(row.ok()) << row.status().to_string();
}

TEST_F(PostgresViews, PromoteSwapsARebuiltSchemaInWhileReadersRead) {
  const std::string live = schema("live");
  const std::string rebuilt = schema("rebuilt");
  schemas_.push_back(live + "_old_1");
  schemas_.push_back(live + "_old_2");
  schemas_.push_back(live + "_old_3");
  auto live_store = open(live);
  auto rebuilt_store = open(rebuilt);
  ASSERT_TRUE(live_store && rebuilt_store);
  commit(*live_store, {"views", {put(project_row("old", 1))}, {}, {{{"t", 0}, 10}}});
  commit(*rebuilt_store, {"views", {put(project_row("new", 1))}, {}, {{{"t", 0}, 99}}});

  // Readers on the live name keep answering through the swap, always one whole view set.
  std::atomic<bool> stop{false};
  std::atomic<int> reads{0}, saw_new{0}, failures{0}, mixed{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 3; ++r) {
    readers.emplace_back([&] {
      while (!stop) {
        Query q;
        q.table = Table::kProjects;
        auto page = live_store->list(q);
        if (!page.ok() || page->rows.size() != 1) {
          if (!page.ok()) ADD_FAILURE() << page.status().to_string();
          ++(page.ok() ? mixed : failures);
          continue;
        }
        ++reads;
        if (page->rows.front().key == "new") ++saw_new;
      }
    });
  }
  while (reads < 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  Status s = infra::postgres::promote_postgres_views(url_, rebuilt, live);
  ASSERT_TRUE(s.ok()) << s.to_string();
  const int at_promote = reads;
  while (reads < at_promote + 20) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  stop = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mixed.load(), 0);
  EXPECT_GT(saw_new.load(), 0);

  auto after = live_store->get(Table::kProjects, "new");
  ASSERT_TRUE(after.ok() && after->has_value());
  auto offsets = live_store->offsets("views");
  ASSERT_TRUE(offsets.ok());
  EXPECT_EQ(offsets->at({"t", 0}), 99);
  auto old_store = open(live + "_old_1");
  ASSERT_NE(old_store, nullptr);
  auto old = old_store->get(Table::kProjects, "old");
  ASSERT_TRUE(old.ok() && old->has_value());

  // The next promotion keeps one fallback by default: _old_2, the view set it replaced; _old_1
  // goes. Asked to keep two, the one after keeps _old_2 and _old_3.
  old_store.reset();
  auto olds = [&] {
    std::vector<std::string> names;
    for (const auto& row : sql("SELECT nspname FROM pg_namespace WHERE nspname LIKE '" + live +
                               "\\_old\\_%' ORDER BY nspname")) {
      names.push_back(row[0].as<std::string>());
    }
    return names;
  };
  const std::string again = schema("again");
  ASSERT_NE(open(again), nullptr);
  s = infra::postgres::promote_postgres_views(url_, again, live);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(olds(), (std::vector<std::string>{live + "_old_2"}));
  const std::string third = schema("third");
  ASSERT_NE(open(third), nullptr);
  s = infra::postgres::promote_postgres_views(url_, third, live, 2);
  ASSERT_TRUE(s.ok()) << s.to_string();
  EXPECT_EQ(olds(), (std::vector<std::string>{live + "_old_2", live + "_old_3"}));

  // Refused: a missing schema, one not migrated, the same name twice.
  EXPECT_EQ(infra::postgres::promote_postgres_views(url_, schema("missing"), live).code(),
            StatusCode::kFailedPrecondition);
  const std::string bare = schema("bare");
  sql("CREATE SCHEMA " + bare);
  EXPECT_EQ(infra::postgres::promote_postgres_views(url_, bare, live).code(),
            StatusCode::kFailedPrecondition);
  EXPECT_EQ(infra::postgres::promote_postgres_views(url_, live, live).code(),
            StatusCode::kInvalidArgument);
}

// Not a pass/fail benchmark: prints what a 10,000-row batch costs (the test server runs with
// fsync off), and fails only if it is absurdly slow.
TEST_F(PostgresViews, CommitsTenThousandRowBatches) {
  constexpr int kRows = 10000;
  const events::TopicPartition tp{"axion.deployment.events.v1", 0};
  std::int64_t offset = 0;
  auto run = [&](const char* what, std::vector<Mutation> mutations, int events = 0) {
    ViewBatch batch{"views", std::move(mutations), {{tp, offset}}, {{tp, offset + kRows}}};
    const auto started = std::chrono::steady_clock::now();
    commit(*store_, batch);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    offset += kRows;
    std::printf("[ perf ] %-46s %6d mutations in %6.1f ms = %7.0f/s", what,
                static_cast<int>(batch.mutations.size()), seconds * 1000,
                batch.mutations.size() / seconds);
    if (events) std::printf(" = %7.0f events/s", events / seconds);
    std::printf("\n");
    EXPECT_LT(seconds, 30.0) << what;
  };
  std::vector<Mutation> m;
  for (int i = 0; i < kRows; ++i) {
    m.push_back(put(deployment_row("d-" + std::to_string(i), "p-" + std::to_string(i % 50),
                                   "production", v1::DEPLOYMENT_STATUS_PENDING, i)));
  }
  run("deployments, new rows", m);
  for (auto& mutation : m) mutation.row.index.status = v1::DEPLOYMENT_STATUS_SUCCESS;
  run("deployments, updates of existing rows", std::move(m));
  m.clear();
  for (int i = 0; i < kRows; ++i) m.push_back(put(audit_row("p-" + std::to_string(i % 50), i)));
  run("audit entries, new rows", std::move(m));
  // A replay: each event adds its audit entry and updates its deployment (1,000 deployments,
  // ten events each), so the batch collapses to 10,000 audit rows + 1,000 deployment rows.
  m.clear();
  for (int i = 0; i < kRows; ++i) {
    m.push_back(put(audit_row("p-1", kRows + i)));
    m.push_back(put(deployment_row("d-" + std::to_string(i % 1000), "p-1", "production",
                                   v1::DEPLOYMENT_STATUS_DEPLOYING, i)));
  }
  run("replay: 10,000 events (audit + deployment)", std::move(m), kRows);
  m.clear();
  for (int i = 0; i < kRows; ++i) m.push_back(erase(Table::kDeployments, "d-" + std::to_string(i)));
  run("deployments, deletes", std::move(m));
  Query q;
  q.table = Table::kDeployments;
  auto page = store_->list(q);
  ASSERT_TRUE(page.ok());
  EXPECT_TRUE(page->rows.empty());
}

}  // namespace
}  // namespace axion::testing
