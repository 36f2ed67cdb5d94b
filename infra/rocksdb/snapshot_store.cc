#include "infra/rocksdb/snapshot_store.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <filesystem>

namespace axion::infra::rocksdb {

namespace {

void put_u32(std::string& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((v >> shift) & 0xff));
}

void put_string(std::string& out, std::string_view s) {
  put_u32(out, static_cast<std::uint32_t>(s.size()));
  out.append(s);
}

std::string prefix(char type, std::string_view scope, std::int32_t partition) {
  std::string key(1, type);
  put_string(key, scope);
  put_u32(key, static_cast<std::uint32_t>(partition));
  return key;
}

std::string result_key(std::string_view scope, std::int32_t partition,
                       std::string_view aggregate_id, std::string_view idempotency_key) {
  std::string key = prefix('I', scope, partition);
  put_string(key, aggregate_id);
  key.append(idempotency_key);
  return key;
}

Status from_rocks(const ::rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return ok_status();
  return unavailable("snapshot store: " + std::string(what) + ": " + s.ToString());
}

class RocksSnapshotStore final : public commands::SnapshotStore {
 public:
  explicit RocksSnapshotStore(std::unique_ptr<::rocksdb::DB> db) : db_(std::move(db)) {}

  Result<std::optional<commands::PartitionSnapshot>> load(std::string_view scope,
                                                          std::int32_t partition) override {
    std::string value;
    auto s = db_->Get(::rocksdb::ReadOptions(), prefix('C', scope, partition), &value);
    if (s.IsNotFound()) return std::optional<commands::PartitionSnapshot>();
    AXION_RETURN_IF_ERROR(from_rocks(s, "read checkpoint"));
    commands::PartitionSnapshot snap;
    if (!snap.checkpoint.ParseFromString(value)) {
      return data_loss("snapshot store: the checkpoint of partition " + std::to_string(partition) +
                       " does not parse");
    }
    // One consistent view of the whole partition.
    ::rocksdb::ReadOptions read;
    const ::rocksdb::Snapshot* view = db_->GetSnapshot();
    read.snapshot = view;
    Status status = scan(read, prefix('A', scope, partition), [&](std::string_view id,
                                                                  const std::string& bytes) {
      axion::v1::AggregateSnapshot aggregate;
      if (!aggregate.ParseFromString(bytes)) {
        return data_loss("snapshot store: aggregate '" + std::string(id) + "' does not parse");
      }
      snap.aggregates.emplace(std::string(id), std::move(aggregate));
      return ok_status();
    });
    if (status.ok()) {
      status = scan(read, prefix('I', scope, partition), [&](std::string_view,
                                                             const std::string& bytes) {
        axion::v1::CommandResult result;
        if (!result.ParseFromString(bytes)) {
          return data_loss("snapshot store: a stored command result does not parse");
        }
        snap.results.push_back(std::move(result));
        return ok_status();
      });
    }
    db_->ReleaseSnapshot(view);
    if (!status.ok()) return status;
    return std::optional<commands::PartitionSnapshot>(std::move(snap));
  }

  Status save(std::string_view scope, std::int32_t partition,
              const commands::SnapshotUpdate& update) override {
    ::rocksdb::WriteBatch batch;
    if (update.reset) {
      for (char type : {'A', 'I'}) {
        AXION_RETURN_IF_ERROR(scan(::rocksdb::ReadOptions(), prefix(type, scope, partition),
                                   [&](std::string_view, const std::string&) { return ok_status(); },
                                   &batch));
      }
    }
    const std::string aggregates = prefix('A', scope, partition);
    for (const auto& [id, aggregate] : update.aggregates) {
      batch.Put(aggregates + id, aggregate.SerializeAsString());
    }
    for (const auto& [aggregate_id, key] : update.forget) {
      batch.Delete(result_key(scope, partition, aggregate_id, key));
    }
    for (const auto& result : update.results) {
      batch.Put(result_key(scope, partition, result.aggregate_id(), result.idempotency_key()),
                result.SerializeAsString());
    }
    batch.Put(prefix('C', scope, partition), update.checkpoint.SerializeAsString());
    return from_rocks(db_->Write(::rocksdb::WriteOptions(), &batch), "write snapshot");
  }

 private:
  // Calls fn(key suffix, value) for every key under `start`; with `erase`, also deletes them.
  template <typename Fn>
  Status scan(const ::rocksdb::ReadOptions& read, const std::string& start, Fn&& fn,
              ::rocksdb::WriteBatch* erase = nullptr) {
    std::unique_ptr<::rocksdb::Iterator> it(db_->NewIterator(read));
    for (it->Seek(start); it->Valid() && it->key().starts_with(start); it->Next()) {
      const std::string_view suffix(it->key().data() + start.size(), it->key().size() - start.size());
      AXION_RETURN_IF_ERROR(fn(suffix, it->value().ToString()));
      if (erase) erase->Delete(it->key());
    }
    return from_rocks(it->status(), "scan");
  }

  std::unique_ptr<::rocksdb::DB> db_;
};

}  // namespace

Result<std::unique_ptr<commands::SnapshotStore>> open_rocks_snapshot_store(
    const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return failed_precondition("cannot create the snapshot directory '" + path + "': " +
                               ec.message());
  }
  ::rocksdb::Options options;
  options.create_if_missing = true;
  ::rocksdb::DB* raw = nullptr;
  auto s = ::rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return failed_precondition("the snapshot store '" + path +
                                 "' is in use by another process (one per server instance)");
    }
    return unavailable("cannot open the snapshot store '" + path + "': " + s.ToString());
  }
  return std::unique_ptr<commands::SnapshotStore>(
      std::make_unique<RocksSnapshotStore>(std::unique_ptr<::rocksdb::DB>(raw)));
}

}  // namespace axion::infra::rocksdb
