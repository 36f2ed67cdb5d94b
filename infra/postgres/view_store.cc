#include "infra/postgres/view_store.h"

#include <pqxx/pqxx>

#include <algorithm>
#include <future>
#include <map>

#include "infra/postgres/impl/connection.h"
#include "infra/postgres/impl/view_columns.h"
#include "infra/postgres/migrations.h"
#include "projections/view_store_checks.h"

namespace axion::infra::postgres {

namespace {

using projections::Mutation;
using projections::Offsets;
using projections::Page;
using projections::Query;
using projections::Row;
using projections::Table;
using projections::ViewBatch;

// Rows per INSERT / DELETE statement: bounds the size of one statement's arrays, and lets the
// next statement be built while the server runs the current one.
constexpr std::size_t kRowsPerStatement = 2000;
// Smaller chunks are built on the committing thread (a thread costs more than they do).
constexpr std::size_t kRowsForAHelperThread = 200;

// PostgreSQL array literals ({"a","b",NULL}) for unnest($n::type[]).
class ArrayLiteral {
 public:
  void add(const std::optional<std::string>& value) {
    if (value) {
      add(std::string_view(*value));
    } else {
      add_null();
    }
  }
  void add(std::string_view value) {
    open();
    text_.push_back('"');
    for (char c : value) {
      if (c == '"' || c == '\\') text_.push_back('\\');
      text_.push_back(c);
    }
    text_.push_back('"');
  }
  void add(std::int64_t value) {
    open();
    text_ += std::to_string(value);
  }
  void add_null() {
    open();
    text_ += "NULL";
  }
  // bytea in hex form; the backslash of "\x" escaped for the array literal.
  void add_bytes(const std::string& bytes) {
    static const char kHex[] = "0123456789abcdef";
    open();
    text_ += "\"\\\\x";
    for (unsigned char c : bytes) {
      text_.push_back(kHex[c >> 4]);
      text_.push_back(kHex[c & 0xf]);
    }
    text_.push_back('"');
  }
  std::string finish() && {
    if (text_.empty()) text_ = "{";
    text_.push_back('}');
    return std::move(text_);
  }

 private:
  void open() { text_.push_back(text_.empty() ? '{' : ','); }
  std::string text_;
};

bool has_nul(const std::string& s) { return s.find('\0') != std::string::npos; }

const char* const kIndexColumns[] = {"project_id", "cluster_id", "environment", "status_code",
                                     "sort_key", "doc"};
const char* const kIndexTypes[] = {"text", "text", "text", "integer", "bigint", "bytea"};

class PostgresViewStore final : public projections::ViewStore {
 public:
  PostgresViewStore(PostgresConfig config, impl::Target target)
      : config_(std::move(config)), pool_(std::move(target), config_.pool_size) {
    // The schema name is [a-z_][a-z0-9_]* (checked), so quoting is plain.
    schema_ = "\"" + config_.schema + "\"";
  }

  Result<std::optional<Row>> get(Table table, const std::string& key) override {
    if (!projections::is_known_table(table)) {
      return invalid_field("table", "unknown view table " + std::to_string(static_cast<int>(table)));
    }
    std::optional<Row> out;
    if (has_nul(key)) return out;  // no stored key holds a NUL
    const auto& spec = impl::view_table(table);
    AXION_RETURN_IF_ERROR(pool_.run("get", true, [&](pqxx::connection& conn) {
      pqxx::nontransaction tx(conn);
      out.reset();
      const auto result = tx.exec_params(select_columns(spec) + " FROM " + ref(spec) +
                                             " WHERE " + spec.pk + " = $1",
                                         key);
      if (!result.empty()) out = to_row(table, result[0]);
      return ok_status();
    }));
    return out;
  }

  bool remote_reads() const override { return true; }

  Result<std::vector<Row>> get_many(Table table, const std::vector<std::string>& keys) override {
    if (!projections::is_known_table(table)) {
      return invalid_field("table", "unknown view table " + std::to_string(static_cast<int>(table)));
    }
    std::vector<Row> out;
    ArrayLiteral array;
    bool any = false;
    for (const auto& key : keys) {
      if (has_nul(key)) continue;  // no stored key holds a NUL
      array.add(std::string_view(key));
      any = true;
    }
    if (!any) return out;
    const auto& spec = impl::view_table(table);
    const std::string keys_param = std::move(array).finish();
    AXION_RETURN_IF_ERROR(pool_.run("get rows", true, [&](pqxx::connection& conn) {
      pqxx::nontransaction tx(conn);
      out.clear();
      const auto result = tx.exec_params(select_columns(spec) + " FROM " + ref(spec) + " WHERE " +
                                             spec.pk + " = ANY($1::text[])",
                                         keys_param);
      out.reserve(result.size());
      for (const auto& r : result) out.push_back(to_row(table, r));
      return ok_status();
    }));
    return out;
  }

  Result<Page> list(const Query& query) override {
    AXION_RETURN_IF_ERROR(projections::check_query(query));
    const auto& spec = impl::view_table(query.table);
    const auto& f = query.filter;
    if (has_nul(f.project_id) || has_nul(f.cluster_id) || has_nul(f.environment) ||
        (query.after && has_nul(query.after->second))) {
      return invalid_argument("a listing filter contains a NUL character");
    }
    Page page;
    AXION_RETURN_IF_ERROR(pool_.run("list", true, [&](pqxx::connection& conn) {
      pqxx::nontransaction tx(conn);
      std::string sql = select_columns(spec) + " FROM " + ref(spec) + " WHERE true";
      if (!f.project_id.empty()) sql += " AND project_id = " + tx.quote(f.project_id);
      if (!f.cluster_id.empty()) sql += " AND cluster_id = " + tx.quote(f.cluster_id);
      if (!f.environment.empty()) sql += " AND environment = " + tx.quote(f.environment);
      if (!query.statuses.empty()) {
        sql += " AND status_code IN (";
        for (std::size_t i = 0; i < query.statuses.size(); ++i) {
          sql += (i ? "," : "") + std::to_string(query.statuses[i]);
        }
        sql += ")";
      }
      const char* dir = query.newest_first ? " DESC" : " ASC";
      if (query.after) {
        sql += " AND (sort_key, " + spec.pk + ") " + (query.newest_first ? "<" : ">") + " (" +
               "(" + std::to_string(query.after->first) + ")::bigint, " + tx.quote(query.after->second) +
               ")";
      }
      sql += " ORDER BY sort_key" + std::string(dir) + ", " + spec.pk + dir + " LIMIT " +
             std::to_string(query.limit + 1);
      const auto result = tx.exec(sql);
      page = Page{};
      for (const auto& r : result) {
        if (page.rows.size() == query.limit) {
          page.next = std::make_pair(page.rows.back().index.sort_key, page.rows.back().key);
          break;
        }
        page.rows.push_back(to_row(query.table, r));
      }
      return ok_status();
    }));
    return page;
  }

  Status commit(const ViewBatch& batch) override {
    AXION_RETURN_IF_ERROR(projections::check_batch(batch));
    // A later mutation of a row wins: only each row's last one is written.
    std::map<std::pair<Table, std::string>, const Mutation*> last;
    for (const auto& m : batch.mutations) {
      const auto& i = m.row.index;
      if (has_nul(m.row.key) || has_nul(i.project_id) || has_nul(i.cluster_id) ||
          has_nul(i.environment)) {
        return invalid_field("mutations", "row '" + m.row.key +
                                              "': keys and index columns cannot hold NUL");
      }
      last[{m.row.table, m.row.key}] = &m;
    }
    std::map<Table, std::vector<const Row*>> upserts;
    std::map<Table, std::vector<const std::string*>> deletes;
    for (const auto& [id, m] : last) {
      if (m->erase) {
        deletes[id.first].push_back(&m->row.key);
      } else {
        upserts[id.first].push_back(&m->row);
      }
    }
    for (const auto& [tp, _] : batch.next) {
      if (has_nul(tp.topic)) return invalid_field("next", "a topic name cannot hold NUL");
    }

    // Upsert statements of at most kRowsPerStatement rows; the next one is built on a helper
    // thread while the server executes the current one.
    struct Chunk {
      Table table;
      const std::vector<const Row*>* rows;
      std::size_t from, to;
    };
    std::vector<Chunk> chunks;
    for (const auto& [table, rows] : upserts) {
      for (std::size_t from = 0; from < rows.size(); from += kRowsPerStatement) {
        chunks.push_back({table, &rows, from, std::min(rows.size(), from + kRowsPerStatement)});
      }
    }
    auto build = [&](std::size_t i) {
      const Chunk& c = chunks[i];
      const auto policy = c.to - c.from >= kRowsForAHelperThread ? std::launch::async
                                                                 : std::launch::deferred;
      return std::async(policy, [this, &c] { return build_upsert(c.table, *c.rows, c.from, c.to); });
    };

    return pool_.run("commit", false, [&](pqxx::connection& conn) {
      std::future<Statement> next;
      if (!chunks.empty()) next = build(0);
      pqxx::work tx(conn);
      if (!batch.expected.empty() || !batch.next.empty()) {
        AXION_RETURN_IF_ERROR(check_offsets(tx, batch));
      }
      for (const auto& [table, keys] : deletes) {
        const auto& spec = impl::view_table(table);
        for (std::size_t from = 0; from < keys.size(); from += kRowsPerStatement) {
          ArrayLiteral array;
          for (std::size_t i = from; i < std::min(keys.size(), from + kRowsPerStatement); ++i) {
            array.add(std::string_view(*keys[i]));
          }
          tx.exec_params("DELETE FROM " + ref(spec) + " WHERE " + spec.pk + " = ANY($1::text[])",
                         std::move(array).finish());
        }
      }
      for (std::size_t i = 0; i < chunks.size(); ++i) {
        const Statement statement = next.get();
        if (i + 1 < chunks.size()) next = build(i + 1);
        tx.exec_params(statement.sql, pqxx::prepare::make_dynamic_params(statement.params));
      }
      if (!batch.next.empty()) {
        ArrayLiteral topics, partitions, offsets;
        for (const auto& [tp, next] : batch.next) {
          topics.add(std::string_view(tp.topic));
          partitions.add(std::int64_t{tp.partition});
          offsets.add(next);
        }
        tx.exec_params("INSERT INTO " + schema_ +
                           ".projection_offsets (projection, topic, partition, next_offset, "
                           "updated_at) SELECT $1, t, p, o, now() FROM unnest($2::text[], "
                           "$3::integer[], $4::bigint[]) AS u(t, p, o) ON CONFLICT (projection, "
                           "topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, "
                           "updated_at = EXCLUDED.updated_at",
                       batch.projection, std::move(topics).finish(),
                       std::move(partitions).finish(), std::move(offsets).finish());
      }
      tx.commit();
      return ok_status();
    });
  }

  Result<Offsets> offsets(const std::string& projection) override {
    Offsets out;
    if (has_nul(projection)) return out;
    AXION_RETURN_IF_ERROR(pool_.run("read offsets", true, [&](pqxx::connection& conn) {
      pqxx::nontransaction tx(conn);
      out = read_offsets(tx, projection, false);
      return ok_status();
    }));
    return out;
  }

  // Counted by PostgreSQL (a scan of the table there; only the counts come back).
  Result<std::map<std::int32_t, std::uint64_t>> count_by_status(Table table) override {
    if (!projections::is_known_table(table)) {
      return invalid_field("table",
                           "unknown view table " + std::to_string(static_cast<int>(table)));
    }
    std::map<std::int32_t, std::uint64_t> out;
    AXION_RETURN_IF_ERROR(pool_.run("count rows", true, [&](pqxx::connection& conn) {
      pqxx::nontransaction tx(conn);
      out.clear();
      const auto result = tx.exec("SELECT status_code, count(*) FROM " +
                                  ref(impl::view_table(table)) + " GROUP BY status_code");
      for (const auto& r : result) out[r[0].as<std::int32_t>()] = r[1].as<std::uint64_t>();
      return ok_status();
    }));
    return out;
  }

  Status clear() override {
    return pool_.run("clear", false, [&](pqxx::connection& conn) {
      pqxx::work tx(conn);
      std::string sql = "TRUNCATE ";
      for (Table table : projections::kAllTables) sql += ref(impl::view_table(table)) + ", ";
      sql += schema_ + ".projection_offsets";
      tx.exec(sql);
      tx.commit();
      return ok_status();
    });
  }

 private:
  std::string ref(const impl::ViewTable& spec) const { return schema_ + "." + spec.name; }

  static std::string select_columns(const impl::ViewTable& spec) {
    return "SELECT " + spec.pk +
           ", project_id, cluster_id, environment, status_code, sort_key, doc";
  }

  static Row to_row(Table table, const pqxx::row& r) {
    Row row;
    row.table = table;
    row.key = r[0].as<std::string>();
    row.index.project_id = r[1].as<std::string>();
    row.index.cluster_id = r[2].as<std::string>();
    row.index.environment = r[3].as<std::string>();
    row.index.status = r[4].as<std::int32_t>();
    row.index.sort_key = r[5].as<std::int64_t>();
    row.doc = pqxx::binarystring(r[6]).str();
    return row;
  }

  Offsets read_offsets(pqxx::transaction_base& tx, const std::string& projection,
                       bool for_update) {
    const auto result = tx.exec_params(
        "SELECT topic, partition, next_offset FROM " + schema_ +
            ".projection_offsets WHERE projection = $1" + (for_update ? " FOR UPDATE" : ""),
        projection);
    Offsets out;
    for (const auto& r : result) {
      out[{r[0].as<std::string>(), r[1].as<std::int32_t>()}] = r[2].as<std::int64_t>();
    }
    return out;
  }

  // The compare-and-set: writers of one projection queue on an advisory lock (it also covers
  // partitions with no row yet), then the stored offsets must equal the expected ones.
  Status check_offsets(pqxx::work& tx, const ViewBatch& batch) {
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext($1))",
                   "axion-views:" + config_.schema + "/" + batch.projection);
    const Offsets stored = read_offsets(tx, batch.projection, true);
    for (const auto& [tp, expected] : batch.expected) {
      const auto it = stored.find(tp);
      const std::int64_t current = it == stored.end() ? 0 : it->second;
      if (current != expected) {
        return aborted(projections::offset_mismatch(batch.projection, tp, expected, current));
      }
    }
    return ok_status();
  }

  struct Statement {
    std::string sql;
    std::vector<std::string> params;
  };

  // INSERT ... SELECT FROM unnest(one array per column) ON CONFLICT DO UPDATE for rows
  // [from, to). Pure: runs on a helper thread while the previous statement executes.
  Statement build_upsert(Table table, const std::vector<const Row*>& rows, std::size_t from,
                         std::size_t to) const {
    const auto& spec = impl::view_table(table);
    const std::size_t derived = spec.derived.size();
    std::vector<ArrayLiteral> arrays(7 + derived);
    for (std::size_t i = from; i < to; ++i) {
      const Row& row = *rows[i];
      arrays[0].add(std::string_view(row.key));
      arrays[1].add(std::string_view(row.index.project_id));
      arrays[2].add(std::string_view(row.index.cluster_id));
      arrays[3].add(std::string_view(row.index.environment));
      arrays[4].add(std::int64_t{row.index.status});
      arrays[5].add(row.index.sort_key);
      arrays[6].add_bytes(row.doc);
      auto values = impl::derive_columns(row);
      values.resize(derived);
      for (std::size_t c = 0; c < derived; ++c) arrays[7 + c].add(values[c]);
    }
    std::string columns = spec.pk;
    std::string casts = "$1::text[]";
    std::string updates;
    int param = 1;
    auto add_column = [&](const std::string& name, const std::string& type) {
      columns += ", " + name;
      casts += ", $" + std::to_string(++param) + "::" + type + "[]";
      updates += std::string(updates.empty() ? "" : ", ") + name + " = EXCLUDED." + name;
    };
    for (std::size_t c = 0; c < 6; ++c) add_column(kIndexColumns[c], kIndexTypes[c]);
    for (const auto& column : spec.derived) add_column(column.name, column.type);
    Statement statement;
    statement.sql = "INSERT INTO " + ref(spec) + " (" + columns + ") SELECT * FROM unnest(" +
                    casts + ") ON CONFLICT (" + spec.pk + ") DO UPDATE SET " + updates;
    statement.params.reserve(arrays.size());
    for (auto& array : arrays) statement.params.push_back(std::move(array).finish());
    return statement;
  }

  const PostgresConfig config_;
  std::string schema_;  // quoted
  impl::Pool pool_;
};

}  // namespace

Result<std::unique_ptr<projections::ViewStore>> open_postgres_view_store(
    const PostgresConfig& config) {
  AXION_RETURN_IF_ERROR(impl::check_schema_name(config.schema));
  auto target = impl::make_target(config);
  if (!target.ok()) return target.status();
  if (config.migrate) AXION_RETURN_IF_ERROR(migrate_up(config.url, config.schema));
  int version = 0;
  AXION_RETURN_IF_ERROR(impl::with_connection(config, "open views", [&](pqxx::connection& conn) {
    pqxx::nontransaction tx(conn);
    const auto exists = tx.exec(
        "SELECT 1 FROM pg_tables WHERE tablename = 'schema_migrations' AND schemaname = " +
        tx.quote(config.schema));
    if (!exists.empty()) {
      version = tx.exec("SELECT coalesce(max(version), 0) FROM \"" + config.schema +
                        "\".schema_migrations")[0][0]
                    .as<int>();
    }
    return ok_status();
  }));
  if (version != latest_migration()) {
    return failed_precondition("PostgreSQL at " + target->where + ": schema '" + config.schema +
                               "' is at migration " + std::to_string(version) +
                               ", this build needs " + std::to_string(latest_migration()) +
                               " (run the migrations up)");
  }
  return std::unique_ptr<projections::ViewStore>(
      std::make_unique<PostgresViewStore>(config, std::move(target).value()));
}

}  // namespace axion::infra::postgres
