// RowOverlay: the RowAccess a batch of projected events goes through. Reads go to the store once
// and then see the batch's own writes; take() hands back one mutation per row written (its last
// state) and starts a new batch.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "projections/projector.h"
#include "projections/view_store.h"

namespace axion::projections {

class RowOverlay final : public RowAccess {
 public:
  explicit RowOverlay(ViewStore& store) : store_(store) {}

  Result<std::optional<Row>> get(Table table, const std::string& key) override {
    auto it = rows_.find({table, key});
    if (it != rows_.end()) return it->second;
    auto row = store_.get(table, key);
    if (!row.ok()) return row.status();
    rows_.emplace(std::make_pair(table, key), *row);
    return row;
  }
  void put(Row row) override {
    auto id = std::make_pair(row.table, row.key);
    dirty_.insert(id);
    rows_[id] = std::move(row);
  }
  void erase(Table table, const std::string& key) override {
    auto id = std::make_pair(table, key);
    dirty_.insert(id);
    rows_[id] = std::nullopt;
  }
  std::vector<Mutation> take() {
    std::vector<Mutation> out;
    out.reserve(dirty_.size());
    for (const auto& id : dirty_) {
      const auto& row = rows_.at(id);
      out.push_back(row ? Mutation{*row, false} : Mutation{Row{id.first, id.second, {}, {}}, true});
    }
    rows_.clear();
    dirty_.clear();
    return out;
  }

 private:
  ViewStore& store_;
  std::map<std::pair<Table, std::string>, std::optional<Row>> rows_;
  std::set<std::pair<Table, std::string>> dirty_;
};

}  // namespace axion::projections
