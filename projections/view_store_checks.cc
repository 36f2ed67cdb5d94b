#include "projections/view_store_checks.h"

#include <algorithm>

namespace axion::projections {

bool is_known_table(Table table) {
  return std::find(std::begin(kAllTables), std::end(kAllTables), table) != std::end(kAllTables);
}

Status check_query(const Query& query) {
  if (!is_known_table(query.table)) {
    return invalid_field("table", "unknown view table " +
                                      std::to_string(static_cast<int>(query.table)));
  }
  if (query.limit < 1 || query.limit > kMaxListLimit) {
    return invalid_field("limit", "a listing returns 1.." + std::to_string(kMaxListLimit) +
                                      " rows per page, not " + std::to_string(query.limit));
  }
  return ok_status();
}

Status check_batch(const ViewBatch& batch) {
  for (std::size_t i = 0; i < batch.mutations.size(); ++i) {
    const Row& row = batch.mutations[i].row;
    const std::string field = "mutations[" + std::to_string(i) + "]";
    if (!is_known_table(row.table)) {
      return invalid_field(field + ".table", "unknown view table " +
                                                 std::to_string(static_cast<int>(row.table)));
    }
    if (row.key.empty()) return invalid_field(field + ".key", "a view row needs a key");
  }
  if ((!batch.expected.empty() || !batch.next.empty()) && batch.projection.empty()) {
    return invalid_field("projection", "offsets need the name of the projection they belong to");
  }
  for (const Offsets* offsets : {&batch.expected, &batch.next}) {
    for (const auto& [tp, offset] : *offsets) {
      if (offset < 0) {
        return invalid_field(offsets == &batch.next ? "next" : "expected",
                             "offset " + std::to_string(offset) + " of " + tp.to_string() +
                                 " is negative");
      }
    }
  }
  return ok_status();
}

bool matches(const Query& query, const RowIndex& index) {
  const RowIndex& f = query.filter;
  if (!f.project_id.empty() && f.project_id != index.project_id) return false;
  if (!f.cluster_id.empty() && f.cluster_id != index.cluster_id) return false;
  if (!f.environment.empty() && f.environment != index.environment) return false;
  if (!query.statuses.empty() &&
      std::find(query.statuses.begin(), query.statuses.end(), index.status) ==
          query.statuses.end()) {
    return false;
  }
  return true;
}

std::string offset_mismatch(const std::string& projection, const events::TopicPartition& tp,
                            std::int64_t expected, std::int64_t stored) {
  return "projection '" + projection + "' moved on: " + tp.to_string() + " expected at offset " +
         std::to_string(expected) + ", stored " + std::to_string(stored) +
         " (another writer committed; reload the offsets)";
}

}  // namespace axion::projections
