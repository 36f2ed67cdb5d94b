#include "projections/memory_view_store.h"

#include <map>
#include <mutex>
#include <set>
#include <shared_mutex>
#include <utility>

#include "projections/view_store_checks.h"

namespace axion::projections {

namespace {

using Position = std::pair<std::int64_t, std::string>;  // (sort_key, key): the listing order

struct TableRows {
  std::map<std::string, Row> by_key;
  std::set<Position> by_position;
};

class MemoryViewStore final : public ViewStore {
 public:
  Result<std::optional<Row>> get(Table table, const std::string& key) override {
    if (!is_known_table(table)) {
      return invalid_field("table", "unknown view table " + std::to_string(static_cast<int>(table)));
    }
    std::shared_lock lock(mu_);
    const auto t = tables_.find(table);
    if (t == tables_.end()) return std::optional<Row>();
    const auto it = t->second.by_key.find(key);
    if (it == t->second.by_key.end()) return std::optional<Row>();
    return std::optional<Row>(it->second);
  }

  Result<Page> list(const Query& query) override {
    AXION_RETURN_IF_ERROR(check_query(query));
    std::shared_lock lock(mu_);
    Page page;
    const auto t = tables_.find(query.table);
    if (t == tables_.end()) return page;
    const TableRows& rows = t->second;
    bool more = false;
    // Collects matching rows until one beyond the limit shows that more follow.
    auto take = [&](const Position& position) {
      const Row& row = rows.by_key.at(position.second);
      if (!matches(query, row.index)) return true;
      if (page.rows.size() == query.limit) {
        more = true;
        return false;
      }
      page.rows.push_back(row);
      return true;
    };
    if (query.newest_first) {
      auto it = query.after ? rows.by_position.lower_bound(*query.after) : rows.by_position.end();
      while (it != rows.by_position.begin()) {
        if (!take(*--it)) break;
      }
    } else {
      auto it = query.after ? rows.by_position.upper_bound(*query.after)
                            : rows.by_position.begin();
      for (; it != rows.by_position.end(); ++it) {
        if (!take(*it)) break;
      }
    }
    if (more) page.next = Position(page.rows.back().index.sort_key, page.rows.back().key);
    return page;
  }

  Status commit(const ViewBatch& batch) override {
    AXION_RETURN_IF_ERROR(check_batch(batch));
    std::unique_lock lock(mu_);
    const Offsets* stored = nullptr;
    if (const auto it = offsets_.find(batch.projection); it != offsets_.end()) {
      stored = &it->second;
    }
    for (const auto& [tp, expected] : batch.expected) {
      std::int64_t current = 0;
      if (stored) {
        if (const auto at = stored->find(tp); at != stored->end()) current = at->second;
      }
      if (current != expected) {
        return aborted(offset_mismatch(batch.projection, tp, expected, current));
      }
    }
    // Nothing below can fail: the batch is applied whole.
    for (const Mutation& m : batch.mutations) {
      TableRows& rows = tables_[m.row.table];
      const auto it = rows.by_key.find(m.row.key);
      if (it != rows.by_key.end()) {
        rows.by_position.erase(Position(it->second.index.sort_key, it->first));
        if (m.erase) {
          rows.by_key.erase(it);
        } else {
          it->second = m.row;
        }
      } else if (!m.erase) {
        rows.by_key.emplace(m.row.key, m.row);
      }
      if (!m.erase) rows.by_position.emplace(m.row.index.sort_key, m.row.key);
    }
    if (!batch.next.empty()) {
      Offsets& offsets = offsets_[batch.projection];
      for (const auto& [tp, next] : batch.next) offsets[tp] = next;
    }
    return ok_status();
  }

  Result<Offsets> offsets(const std::string& projection) override {
    std::shared_lock lock(mu_);
    const auto it = offsets_.find(projection);
    return it == offsets_.end() ? Offsets() : it->second;
  }

  // Counts by walking the table: this store serves as-of queries and tests, not /metrics.
  Result<std::map<std::int32_t, std::uint64_t>> count_by_status(Table table) override {
    if (!is_known_table(table)) {
      return invalid_field("table",
                           "unknown view table " + std::to_string(static_cast<int>(table)));
    }
    std::shared_lock lock(mu_);
    std::map<std::int32_t, std::uint64_t> out;
    if (const auto t = tables_.find(table); t != tables_.end()) {
      for (const auto& [key, row] : t->second.by_key) ++out[row.index.status];
    }
    return out;
  }

  Status clear() override {
    std::unique_lock lock(mu_);
    tables_.clear();
    offsets_.clear();
    return ok_status();
  }

 private:
  std::shared_mutex mu_;
  std::map<Table, TableRows> tables_;
  std::map<std::string, Offsets> offsets_;
};

}  // namespace

std::unique_ptr<ViewStore> make_memory_view_store() { return std::make_unique<MemoryViewStore>(); }

}  // namespace axion::projections
