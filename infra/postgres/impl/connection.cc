#include "infra/postgres/impl/connection.h"

#include <libpq-fe.h>

#include <algorithm>
#include <map>

namespace axion::infra::postgres::impl {

namespace {

// libpq's key='value' quoting.
std::string quote_value(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

// One line: libpq's messages carry newlines and tabs.
std::string one_line(std::string_view text) {
  std::string out;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\t' || c == '\r' || c == ' ') {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace

Result<Target> make_target(const PostgresConfig& config) {
  if (config.url.empty()) {
    return invalid_field("url", "DATABASE_URL is empty (postgresql://user:password@host:port/db)");
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(config.url.c_str(), &error);
  if (!options) {
    if (error) PQfreemem(error);
    // libpq's message may quote the URL, password included: not passed on.
    return invalid_field("url", "DATABASE_URL is not a PostgreSQL connection string (expected "
                                "postgresql://user:password@host:port/database or key=value "
                                "pairs)");
  }
  std::map<std::string, std::string> values;
  for (const PQconninfoOption* o = options; o->keyword; ++o) {
    if (o->val && *o->val) values[o->keyword] = o->val;
  }
  PQconninfoFree(options);

  Target target;
  const std::string host = values.count("host")       ? values["host"]
                           : values.count("hostaddr") ? values["hostaddr"]
                                                      : "localhost";
  const std::string port = values.count("port") ? values["port"] : "5432";
  const std::string db = values.count("dbname") ? values["dbname"]
                         : values.count("user") ? values["user"]
                                                : "";
  target.where = host + ":" + port + "/" + db;

  if (!values.count("connect_timeout")) {
    const auto ms = config.connect_timeout.count();
    values["connect_timeout"] = std::to_string(std::max<long long>(2, (ms + 999) / 1000));
  }
  std::string& opts = values["options"];
  if (!opts.empty()) opts += " ";
  opts += "-c statement_timeout=" + std::to_string(config.statement_timeout.count());
  if (!values.count("application_name")) values["application_name"] = "axion";
  for (const auto& [key, value] : values) {
    if (!target.conninfo.empty()) target.conninfo += " ";
    target.conninfo += key + "=" + quote_value(value);
  }
  return target;
}

Status check_schema_name(const std::string& schema, std::string_view field,
                         std::size_t max_length) {
  const bool ok = !schema.empty() && schema.size() <= max_length &&
                  !(schema[0] >= '0' && schema[0] <= '9') &&
                  std::all_of(schema.begin(), schema.end(), [](char c) {
                    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
                  });
  if (ok) return ok_status();
  return invalid_field(std::string(field),
                       "schema name '" + schema +
                           "' is invalid: use lower-case letters, digits and '_', not starting "
                           "with a digit, at most " + std::to_string(max_length) + " characters");
}

Status translate_current_exception(const Target& target, std::string_view what) {
  const std::string prefix = "PostgreSQL at " + target.where + ": " + std::string(what) + ": ";
  try {
    throw;
  } catch (const pqxx::broken_connection& e) {
    return unavailable(prefix + one_line(e.what()));
  } catch (const pqxx::in_doubt_error& e) {
    return unavailable(prefix + "the connection broke during COMMIT, the outcome is unknown: " +
                       one_line(e.what()));
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    const std::string message = prefix + one_line(e.what()) + " (SQLSTATE " + state + ")";
    if (state == "40001" || state == "40P01") return aborted(message);
    if (state == "57014") return deadline_exceeded(message);
    if (state.starts_with("08") || state.starts_with("53") || state.starts_with("57P")) {
      return unavailable(message);
    }
    if (state == "3F000" || state == "42P01") {
      return failed_precondition(message + "; is the schema migrated?");
    }
    if (state.starts_with("22")) return invalid_argument(message);
    return internal_error(message);
  } catch (const std::exception& e) {
    return internal_error(prefix + one_line(e.what()));
  } catch (...) {
    return internal_error(prefix + "unknown error");
  }
}

Result<std::unique_ptr<pqxx::connection>> connect(const Target& target) {
  try {
    return std::make_unique<pqxx::connection>(target.conninfo);
  } catch (...) {
    return translate_current_exception(target, "connect");
  }
}

Status with_connection(const PostgresConfig& config, std::string_view what,
                       const std::function<Status(pqxx::connection&)>& fn) {
  auto target = make_target(config);
  if (!target.ok()) return target.status();
  auto conn = connect(*target);
  if (!conn.ok()) return conn.status();
  try {
    return fn(**conn);
  } catch (...) {
    return translate_current_exception(*target, what);
  }
}

Result<std::unique_ptr<pqxx::connection>> Pool::acquire(bool& reused) {
  {
    std::unique_lock lock(mu_);
    available_.wait(lock, [&] { return !idle_.empty() || open_ < size_; });
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      reused = true;
      return conn;
    }
    ++open_;
  }
  reused = false;
  auto conn = connect(target_);
  if (!conn.ok()) {
    std::lock_guard lock(mu_);
    --open_;
    available_.notify_one();
  }
  return conn;
}

void Pool::release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard lock(mu_);
  if (conn) {
    idle_.push_back(std::move(conn));
  } else {
    --open_;
  }
  available_.notify_one();
}

Status Pool::run(std::string_view what, bool retry_broken,
                 const std::function<Status(pqxx::connection&)>& fn) {
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    auto acquired = acquire(reused);
    if (!acquired.ok()) return acquired.status();
    std::unique_ptr<pqxx::connection> conn = std::move(acquired).value();
    Status status;
    bool broken = false;
    try {
      status = fn(*conn);
    } catch (const pqxx::broken_connection&) {
      broken = true;
      status = translate_current_exception(target_, what);
    } catch (...) {
      status = translate_current_exception(target_, what);
    }
    if (broken || !conn->is_open()) {
      broken = true;
      conn.reset();
    }
    release(std::move(conn));
    if (broken && retry_broken && reused && attempt == 0) continue;
    return status;
  }
}

}  // namespace axion::infra::postgres::impl
