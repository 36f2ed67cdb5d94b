// Connections to PostgreSQL for the adapter: connection strings with Axion's timeouts, a small
// pool, and the one place libpqxx exceptions become axion::Status. Messages name the server as
// host:port/database and never carry the URL (it holds the password).
#pragma once

#include <pqxx/pqxx>

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/status.h"
#include "infra/postgres/postgres_config.h"

namespace axion::infra::postgres::impl {

struct Target {
  std::string conninfo;  // key='value' pairs, timeouts added; secret
  std::string where;     // "host:port/database", for messages
};

// INVALID_ARGUMENT if the URL does not parse (the message does not echo it).
Result<Target> make_target(const PostgresConfig& config);

// INVALID_ARGUMENT unless `schema` is [a-z_][a-z0-9_]* and at most `max_length` characters
// (PostgreSQL's limit is 63; a schema that may be promoted must leave room for "_old_<n>").
Status check_schema_name(const std::string& schema, std::string_view field = "schema",
                         std::size_t max_length = 63);

// The exception being handled (call inside a catch block) as a Status: connection trouble is
// UNAVAILABLE, serialization failures and deadlocks ABORTED, statement timeouts
// DEADLINE_EXCEEDED, a missing schema or table FAILED_PRECONDITION, bad data INVALID_ARGUMENT.
Status translate_current_exception(const Target& target, std::string_view what);

Result<std::unique_ptr<pqxx::connection>> connect(const Target& target);

// Runs fn(connection) on one fresh connection; exceptions become a Status.
Status with_connection(const PostgresConfig& config, std::string_view what,
                       const std::function<Status(pqxx::connection&)>& fn);

class Pool {
 public:
  Pool(Target target, std::size_t size) : target_(std::move(target)), size_(size ? size : 1) {}

  const Target& target() const { return target_; }

  // Runs fn on a pooled connection inside try/catch. A connection that broke is dropped; with
  // `retry_broken`, fn runs once more on a new connection when a pooled one had gone stale
  // (only for work that is safe to repeat).
  Status run(std::string_view what, bool retry_broken,
             const std::function<Status(pqxx::connection&)>& fn);

 private:
  Result<std::unique_ptr<pqxx::connection>> acquire(bool& reused);
  void release(std::unique_ptr<pqxx::connection> conn);

  const Target target_;
  const std::size_t size_;
  std::mutex mu_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t open_ = 0;
};

}  // namespace axion::infra::postgres::impl
