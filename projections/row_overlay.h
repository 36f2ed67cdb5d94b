// RowOverlay: the RowAccess a batch of projected events goes through. A row is read from the
// store and decoded once, then kept decoded while the batch's events change it; take() encodes
// each row written once (its last state), hands back one mutation per row in (table, key) order
// and starts a new batch.
#pragma once

#include <algorithm>
#include <memory>
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
    if (auto it = rows_.find(id); it != rows_.end()) return it->second.doc.get();
    auto stored = store_.get(table, key);
    if (!stored.ok()) return stored.status();
    Entry entry{table, key, {}, {}, false};
    if (stored->has_value()) {
      auto decoded = decode(**stored);
      if (!decoded.ok()) return decoded.status();
      entry.doc = std::move(decoded).value();
      entry.index = std::move((*stored)->index);
    }
    return rows_.emplace(std::move(id), std::move(entry)).first->second.doc.get();
  }

  Doc* put(Table table, const std::string& key, RowIndex index,
           std::unique_ptr<Doc> doc) override {
    Entry& entry = slot(table, key);
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
    std::unique_ptr<Doc> doc;  // nullptr: no such row (absent in the store, or erased)
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
