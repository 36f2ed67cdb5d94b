// How Axion reaches PostgreSQL: DATABASE_URL plus the schema its views live in.
#pragma once

#include <chrono>
#include <cstddef>
#include <string>

namespace axion::infra::postgres {

struct PostgresConfig {
  // libpq connection string: postgresql://user:password@host:port/db?... or key=value pairs.
  std::string url;
  // The schema holding the view tables; [a-z_][a-z0-9_]*, at most 48 characters (promotion
  // renames it to <schema>_old_<n>).
  std::string schema = "axion_views";
  // Per connection attempt (libpq rounds up to whole seconds, at least 2).
  std::chrono::milliseconds connect_timeout{5000};
  // Per statement; a statement that takes longer is cancelled (DEADLINE_EXCEEDED).
  std::chrono::milliseconds statement_timeout{60000};
  // Connections kept open; callers beyond it wait for one.
  std::size_t pool_size = 4;
  // Apply pending migrations when opening (otherwise a schema behind the build is refused).
  bool migrate = true;
};

}  // namespace axion::infra::postgres
