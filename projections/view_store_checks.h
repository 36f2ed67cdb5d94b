// Input checks and filter semantics every ViewStore implementation shares, so the memory,
// RocksDB and PostgreSQL stores refuse the same things with the same messages and agree on what
// a Query matches.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "common/status.h"
#include "projections/view_store.h"

namespace axion::projections {

inline constexpr std::size_t kMaxListLimit = 1000;

bool is_known_table(Table table);

// INVALID_ARGUMENT (with the field) for an unknown table or a limit outside 1..1000.
Status check_query(const Query& query);
// INVALID_ARGUMENT for an unknown table, an empty key, offsets without a projection name or
// negative offsets.
Status check_batch(const ViewBatch& batch);

// Whether a row with `index` passes the query's filters (project, cluster, environment,
// statuses); ordering and paging are the store's.
bool matches(const Query& query, const RowIndex& index);

// The listing order: (sort_key, key), ascending.
inline bool before(std::int64_t a_sort, const std::string& a_key, std::int64_t b_sort,
                   const std::string& b_key) {
  return std::pair<std::int64_t, const std::string&>(a_sort, a_key) <
         std::pair<std::int64_t, const std::string&>(b_sort, b_key);
}

// "projection 'views': topic/partition expected offset 5, stored 7" — the ABORTED message.
std::string offset_mismatch(const std::string& projection, const events::TopicPartition& tp,
                            std::int64_t expected, std::int64_t stored);

}  // namespace axion::projections
