// RowOverlay: the RowAccess a batch of projected events goes through. A row is read from the
// store and decoded once, then kept decoded while the batch's events change it; take() encodes
// each row written once (its last state), hands back one mutation per row in (table, key) order
// and starts a new batch. prefetch() reads many rows in one ViewStore::get_many per table (the
// rows rows_read() says a batch will read), so a remote store is not asked row by row.
#pragma once

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "projections/projector.h"
#include "projections/view_store.h"

namespace axion::projections {

class RowOverlay final : public RowAccess {
 public:
  explicit RowOverlay(ViewStore& store) : store_(store) {}

  Result<Doc*> find(Table table, const std::string& key, Decoder decode) override {
    std::string id = row_id(table, key);
    auto it = rows_.find(id);
    if (it == rows_.end()) {
      auto stored = store_.get(table, key);
      if (!stored.ok()) return stored.status();
      Entry entry{table, key};
      entry.raw = std::move(*stored);
      it = rows_.emplace(std::move(id), std::move(entry)).first;
    }
    Entry& entry = it->second;
    if (entry.raw) {  // read but not decoded yet
      auto decoded = decode(*entry.raw);
      if (!decoded.ok()) return decoded.status();
      entry.doc = std::move(decoded).value();
      entry.index = std::move(entry.raw->index);
      entry.raw.reset();
    }
    return entry.doc.get();
  }

  // Reads the rows not in the batch yet, one get_many per table; they are decoded on first use.
  Status prefetch(const std::vector<std::pair<Table, std::string>>& ids) {
    std::map<Table, std::vector<std::string>> wanted;
    for (const auto& [table, key] : ids) {
      auto [it, added] = rows_.try_emplace(row_id(table, key));
      if (!added) continue;
      it->second.table = table;
      it->second.key = key;
      wanted[table].push_back(key);
    }
    for (const auto& [table, keys] : wanted) {
      auto rows = store_.get_many(table, keys);
      if (!rows.ok()) {
        for (const auto& key : keys) rows_.erase(row_id(table, key));  // read them one by one
        return rows.status();
      }
      for (auto& row : *rows) {
        auto it = rows_.find(row_id(table, row.key));
        if (it != rows_.end()) it->second.raw = std::move(row);
      }
    }
    return ok_status();
  }

  Doc* put(Table table, const std::string& key, RowIndex index,
           std::unique_ptr<Doc> doc) override {
    Entry& entry = slot(table, key);
    entry.raw.reset();
    entry.doc = std::move(doc);
    entry.index = std::move(index);
    mark(entry);
    return entry.doc.get();
  }

  void changed(Table table, const std::string& key, RowIndex index) override {
    Entry& entry = slot(table, key);
    entry.index = std::move(index);
    mark(entry);
  }

  void erase(Table table, const std::string& key) override {
    Entry& entry = slot(table, key);
    entry.raw.reset();
    entry.doc.reset();
    entry.index = {};
    mark(entry);
  }

  std::vector<Mutation> take() {
    std::sort(dirty_.begin(), dirty_.end(), [](const Entry* a, const Entry* b) {
      return a->table != b->table ? a->table < b->table : a->key < b->key;
    });
    std::vector<Mutation> out;
    out.reserve(dirty_.size());
    for (Entry* e : dirty_) {
      if (e->doc) {
        out.push_back(Mutation{Row{e->table, std::move(e->key), std::move(e->index),
                                   e->doc->encode()},
                               false});
      } else {
        out.push_back(Mutation{Row{e->table, std::move(e->key), {}, {}}, true});
      }
    }
    dirty_.clear();
    rows_.clear();
    return out;
  }

 private:
  struct Entry {
    Table table = Table::kProjects;
    std::string key;
    std::optional<Row> raw;    // as read from the store, until first decoded
    std::unique_ptr<Doc> doc;  // nullptr (and no raw): no such row (absent, or erased)
    RowIndex index;
    bool dirty = false;
  };

  static std::string row_id(Table table, const std::string& key) {
    std::string id;
    id.reserve(key.size() + 1);
    id.push_back(static_cast<char>(table));
    id.append(key);
    return id;
  }
  Entry& slot(Table table, const std::string& key) {
    auto [it, added] = rows_.try_emplace(row_id(table, key));
    if (added) {
      it->second.table = table;
      it->second.key = key;
    }
    return it->second;
  }
  void mark(Entry& entry) {
    if (entry.dirty) return;
    entry.dirty = true;
    dirty_.push_back(&entry);  // unordered_map nodes do not move
  }

  ViewStore& store_;
  std::unordered_map<std::string, Entry> rows_;
  std::vector<Entry*> dirty_;
};

}  // namespace axion::projections
