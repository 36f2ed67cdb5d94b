// SwappableViewStore: a ViewStore that forwards to another one, replaceable at any moment — how a
// rebuilt view set is swapped in while queries keep running (each call sees the old store or
// the new one, whole).
#pragma once

#include <memory>
#include <shared_mutex>

#include "projections/view_store.h"

namespace axion::projections {

class SwappableViewStore final : public ViewStore {
 public:
  explicit SwappableViewStore(std::shared_ptr<ViewStore> store) : store_(std::move(store)) {}

  // Returns the store that was current.
  std::shared_ptr<ViewStore> swap(std::shared_ptr<ViewStore> next) {
    std::unique_lock lock(mu_);
    store_.swap(next);
    return next;
  }
  std::shared_ptr<ViewStore> current() const {
    std::shared_lock lock(mu_);
    return store_;
  }

  Result<std::optional<Row>> get(Table table, const std::string& key) override {
    return current()->get(table, key);
  }
  Result<std::vector<Row>> get_many(Table table, const std::vector<std::string>& keys) override {
    return current()->get_many(table, keys);
  }
  bool remote_reads() const override { return current()->remote_reads(); }
  Result<Page> list(const Query& query) override { return current()->list(query); }
  Status commit(const ViewBatch& batch) override { return current()->commit(batch); }
  Result<Offsets> offsets(const std::string& projection) override {
    return current()->offsets(projection);
  }
  Status clear() override { return current()->clear(); }
  Result<std::map<std::int32_t, std::uint64_t>> count_by_status(Table table) override {
    return current()->count_by_status(table);
  }

 private:
  mutable std::shared_mutex mu_;
  std::shared_ptr<ViewStore> store_;
};

}  // namespace axion::projections
