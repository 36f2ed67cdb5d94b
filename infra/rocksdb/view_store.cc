#include "infra/rocksdb/view_store.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "infra/rocksdb/impl/view_counts.h"
#include "projections/view_store_checks.h"

namespace axion::infra::rocksdb {

namespace {

using projections::Offsets;
using projections::Page;
using projections::Query;
using projections::Row;
using projections::RowIndex;
using projections::Table;
using projections::ViewBatch;

constexpr char kFormatKey[] = "M";
constexpr char kFormatVersion[] = "1";

enum class Bucket : char { kAll = 0, kProject = 1, kCluster = 2 };

void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_be(std::string_view in, std::size_t pos, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[pos + i]);
  return v;
}

void put_str(std::string& out, std::string_view s) {
  put_be(out, s.size(), 4);
  out.append(s);
}

bool get_str(std::string_view in, std::size_t& pos, std::string& out) {
  if (in.size() < pos + 4) return false;
  const std::size_t n = get_be(in, pos, 4);
  if (in.size() - pos - 4 < n) return false;
  out.assign(in.substr(pos + 4, n));
  pos += 4 + n;
  return true;
}

// Big-endian with the sign bit flipped: bytewise order is numeric order.
void put_order(std::string& out, std::int64_t v) {
  put_be(out, static_cast<std::uint64_t>(v) ^ (std::uint64_t{1} << 63), 8);
}

std::string row_key(Table table, std::string_view key) {
  std::string k = "R";
  k.push_back(static_cast<char>(table));
  k.append(key);
  return k;
}

std::string bucket_prefix(Table table, Bucket bucket, std::string_view value = {}) {
  std::string k = "X";
  k.push_back(static_cast<char>(table));
  k.push_back(static_cast<char>(bucket));
  if (bucket != Bucket::kAll) put_str(k, value);
  return k;
}

std::string index_key(std::string prefix, std::int64_t sort_key, std::string_view key) {
  put_order(prefix, sort_key);
  prefix.append(key);
  return prefix;
}

// The buckets a row is listed in.
std::vector<std::string> index_keys(Table table, const std::string& key, const RowIndex& index) {
  std::vector<std::string> out;
  out.push_back(index_key(bucket_prefix(table, Bucket::kAll), index.sort_key, key));
  if (!index.project_id.empty()) {
    out.push_back(
        index_key(bucket_prefix(table, Bucket::kProject, index.project_id), index.sort_key, key));
  }
  if (!index.cluster_id.empty()) {
    out.push_back(
        index_key(bucket_prefix(table, Bucket::kCluster, index.cluster_id), index.sort_key, key));
  }
  return out;
}

std::string offsets_prefix(std::string_view projection) {
  std::string k = "O";
  put_str(k, projection);
  return k;
}

std::string offset_key(std::string_view projection, const events::TopicPartition& tp) {
  std::string k = offsets_prefix(projection);
  put_str(k, tp.topic);
  put_be(k, static_cast<std::uint32_t>(tp.partition), 4);
  return k;
}

// The smallest key greater than every key starting with `prefix` (prefix is never all 0xff).
std::string prefix_end(std::string prefix) {
  while (!prefix.empty()) {
    if (static_cast<unsigned char>(prefix.back()) != 0xff) {
      prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
      return prefix;
    }
    prefix.pop_back();
  }
  return prefix;
}

// Index columns: str(project) str(cluster) str(environment) be32(status) be64(sort_key).
void put_index(std::string& out, const RowIndex& index) {
  put_str(out, index.project_id);
  put_str(out, index.cluster_id);
  put_str(out, index.environment);
  put_be(out, static_cast<std::uint32_t>(index.status), 4);
  put_be(out, static_cast<std::uint64_t>(index.sort_key), 8);
}

bool get_index(std::string_view in, std::size_t& pos, RowIndex& index) {
  if (!get_str(in, pos, index.project_id) || !get_str(in, pos, index.cluster_id) ||
      !get_str(in, pos, index.environment) || in.size() < pos + 12) {
    return false;
  }
  index.status = static_cast<std::int32_t>(get_be(in, pos, 4));
  index.sort_key = static_cast<std::int64_t>(get_be(in, pos + 4, 8));
  pos += 12;
  return true;
}

// A row's value: its index columns, then the doc.
std::string encode_row(const Row& row) {
  std::string out;
  put_index(out, row.index);
  out.append(row.doc);
  return out;
}

Result<Row> decode_row(Table table, const std::string& key, std::string_view value) {
  Row row;
  row.table = table;
  row.key = key;
  std::size_t pos = 0;
  if (!get_index(value, pos, row.index)) {
    return data_loss("view store: row '" + key + "' of " + std::string(table_name(table)) +
                     " does not decode");
  }
  row.doc.assign(value.substr(pos));
  return row;
}

Status from_rocks(const ::rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return ok_status();
  return unavailable("view store: " + std::string(what) + ": " + s.ToString());
}

// A consistent view of the database for one read.
class ScopedSnapshot {
 public:
  explicit ScopedSnapshot(::rocksdb::DB* db) : db_(db), snapshot_(db->GetSnapshot()) {}
  ~ScopedSnapshot() { db_->ReleaseSnapshot(snapshot_); }
  ScopedSnapshot(const ScopedSnapshot&) = delete;
  ScopedSnapshot& operator=(const ScopedSnapshot&) = delete;
  const ::rocksdb::Snapshot* get() const { return snapshot_; }

 private:
  ::rocksdb::DB* db_;
  const ::rocksdb::Snapshot* snapshot_;
};

class RocksViewStore final : public projections::ViewStore {
 public:
  explicit RocksViewStore(std::unique_ptr<::rocksdb::DB> db) : db_(std::move(db)) {}

  Result<std::optional<Row>> get(Table table, const std::string& key) override {
    if (!projections::is_known_table(table)) {
      return invalid_field("table", "unknown view table " + std::to_string(static_cast<int>(table)));
    }
    std::string value;
    auto s = db_->Get(::rocksdb::ReadOptions(), row_key(table, key), &value);
    if (s.IsNotFound()) return std::optional<Row>();
    AXION_RETURN_IF_ERROR(from_rocks(s, "read row"));
    auto row = decode_row(table, key, value);
    if (!row.ok()) return row.status();
    return std::optional<Row>(std::move(row).value());
  }

  Result<std::vector<Row>> get_many(Table table, const std::vector<std::string>& keys) override {
    if (!projections::is_known_table(table)) {
      return invalid_field("table", "unknown view table " + std::to_string(static_cast<int>(table)));
    }
    std::vector<std::string> row_keys;
    row_keys.reserve(keys.size());
    for (const auto& key : keys) row_keys.push_back(row_key(table, key));
    std::vector<::rocksdb::Slice> slices(row_keys.begin(), row_keys.end());
    std::vector<std::string> values;
    const auto statuses = db_->MultiGet(::rocksdb::ReadOptions(), slices, &values);
    std::vector<Row> out;
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].IsNotFound()) continue;
      AXION_RETURN_IF_ERROR(from_rocks(statuses[i], "read row"));
      auto row = decode_row(table, keys[i], values[i]);
      if (!row.ok()) return row.status();
      out.push_back(std::move(row).value());
    }
    return out;
  }

  Result<Page> list(const Query& query) override {
    AXION_RETURN_IF_ERROR(projections::check_query(query));
    std::string prefix;
    if (!query.filter.project_id.empty()) {
      prefix = bucket_prefix(query.table, Bucket::kProject, query.filter.project_id);
    } else if (!query.filter.cluster_id.empty()) {
      prefix = bucket_prefix(query.table, Bucket::kCluster, query.filter.cluster_id);
    } else {
      prefix = bucket_prefix(query.table, Bucket::kAll);
    }
    const std::string end = prefix_end(prefix);
    const ::rocksdb::Slice lower(prefix), upper(end);
    ScopedSnapshot snapshot(db_.get());
    ::rocksdb::ReadOptions read;
    read.snapshot = snapshot.get();
    read.iterate_lower_bound = &lower;
    read.iterate_upper_bound = &upper;
    std::unique_ptr<::rocksdb::Iterator> it(db_->NewIterator(read));

    std::string resume;
    if (query.after) resume = index_key(prefix, query.after->first, query.after->second);
    if (query.newest_first) {
      if (query.after) {
        it->SeekForPrev(resume);
        if (it->Valid() && it->key() == resume) it->Prev();
      } else {
        it->SeekToLast();
      }
    } else {
      if (query.after) {
        it->Seek(resume);
        if (it->Valid() && it->key() == resume) it->Next();
      } else {
        it->SeekToFirst();
      }
    }

    // Index entries first (filters checked on their columns), then the rows they name.
    std::vector<std::string> keys;
    bool more = false;
    const std::size_t key_at = prefix.size() + 8;
    for (; it->Valid(); query.newest_first ? it->Prev() : it->Next()) {
      RowIndex index;
      std::size_t pos = 0;
      const std::string_view value(it->value().data(), it->value().size());
      if (it->key().size() < key_at || !get_index(value, pos, index)) {
        return data_loss("view store: an index entry of " +
                         std::string(table_name(query.table)) + " does not decode");
      }
      if (!projections::matches(query, index)) continue;
      if (keys.size() == query.limit) {
        more = true;
        break;
      }
      keys.emplace_back(it->key().data() + key_at, it->key().size() - key_at);
    }
    AXION_RETURN_IF_ERROR(from_rocks(it->status(), "scan index"));

    std::vector<std::string> row_keys;
    row_keys.reserve(keys.size());
    for (const auto& key : keys) row_keys.push_back(row_key(query.table, key));
    std::vector<::rocksdb::Slice> slices(row_keys.begin(), row_keys.end());
    std::vector<std::string> values;
    ::rocksdb::ReadOptions point;
    point.snapshot = snapshot.get();
    const auto statuses = db_->MultiGet(point, slices, &values);
    Page page;
    page.rows.reserve(keys.size());
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (statuses[i].IsNotFound()) {
        return data_loss("view store: the index of " + std::string(table_name(query.table)) +
                         " names row '" + keys[i] + "', which is missing");
      }
      AXION_RETURN_IF_ERROR(from_rocks(statuses[i], "read row"));
      auto row = decode_row(query.table, keys[i], values[i]);
      if (!row.ok()) return row.status();
      page.rows.push_back(std::move(row).value());
    }
    if (more) page.next = std::make_pair(page.rows.back().index.sort_key, page.rows.back().key);
    return page;
  }

  Status commit(const ViewBatch& batch) override {
    AXION_RETURN_IF_ERROR(projections::check_batch(batch));
    std::lock_guard lock(mu_);
    for (const auto& [tp, expected] : batch.expected) {
      std::string value;
      auto s = db_->Get(::rocksdb::ReadOptions(), offset_key(batch.projection, tp), &value);
      std::int64_t stored = 0;
      if (!s.IsNotFound()) {
        AXION_RETURN_IF_ERROR(from_rocks(s, "read offsets"));
        if (value.size() != 8) {
          return data_loss("view store: the offset of " + tp.to_string() + " does not decode");
        }
        stored = static_cast<std::int64_t>(get_be(value, 0, 8));
      }
      if (stored != expected) {
        return aborted(projections::offset_mismatch(batch.projection, tp, expected, stored));
      }
    }

    // The index columns of every row the batch touches, as stored now; updated as the
    // mutations are staged, so a later mutation of the same row removes the earlier one's
    // index entries.
    using RowId = std::pair<Table, std::string>;
    std::map<RowId, std::optional<RowIndex>> current;
    for (const auto& m : batch.mutations) current.try_emplace(RowId(m.row.table, m.row.key));
    {
      std::vector<std::string> keys;
      keys.reserve(current.size());
      for (const auto& [id, _] : current) keys.push_back(row_key(id.first, id.second));
      std::vector<::rocksdb::Slice> slices(keys.begin(), keys.end());
      std::vector<std::string> values;
      const auto statuses = db_->MultiGet(::rocksdb::ReadOptions(), slices, &values);
      std::size_t i = 0;
      for (auto& [id, index] : current) {
        if (!statuses[i].IsNotFound()) {
          AXION_RETURN_IF_ERROR(from_rocks(statuses[i], "read row"));
          auto row = decode_row(id.first, id.second, values[i]);
          if (!row.ok()) return row.status();
          index = std::move(row->index);
        }
        ++i;
      }
    }

    ::rocksdb::WriteBatch wb;
    impl::CountDeltas counts;
    for (const auto& m : batch.mutations) {
      const Row& row = m.row;
      std::optional<RowIndex>& index = current[RowId(row.table, row.key)];
      if (!m.erase && index && *index == row.index) {
        // Same index columns: the index entries stay as they are (most updates, e.g. a
        // deployment's step or a project's version, change only the doc).
        wb.Put(row_key(row.table, row.key), encode_row(row));
        continue;
      }
      if (index) {
        for (const auto& key : index_keys(row.table, row.key, *index)) wb.Delete(key);
        --counts[{row.table, index->status}];
      }
      if (m.erase) {
        wb.Delete(row_key(row.table, row.key));
        index.reset();
        continue;
      }
      wb.Put(row_key(row.table, row.key), encode_row(row));
      std::string entry;
      put_index(entry, row.index);
      for (const auto& key : index_keys(row.table, row.key, row.index)) wb.Put(key, entry);
      ++counts[{row.table, row.index.status}];
      index = row.index;
    }
    AXION_RETURN_IF_ERROR(impl::stage_counts(*db_, counts, wb));
    for (const auto& [tp, next] : batch.next) {
      std::string value;
      put_be(value, static_cast<std::uint64_t>(next), 8);
      wb.Put(offset_key(batch.projection, tp), value);
    }
    ::rocksdb::WriteOptions write;
    write.sync = true;
    return from_rocks(db_->Write(write, &wb), "commit");
  }

  Result<Offsets> offsets(const std::string& projection) override {
    const std::string prefix = offsets_prefix(projection);
    const std::string end = prefix_end(prefix);
    const ::rocksdb::Slice upper(end);
    ::rocksdb::ReadOptions read;
    read.iterate_upper_bound = &upper;
    std::unique_ptr<::rocksdb::Iterator> it(db_->NewIterator(read));
    Offsets out;
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      const std::string_view key(it->key().data(), it->key().size());
      events::TopicPartition tp;
      std::size_t pos = prefix.size();
      if (!get_str(key, pos, tp.topic) || key.size() != pos + 4 || it->value().size() != 8) {
        return data_loss("view store: an offset of projection '" + projection +
                         "' does not decode");
      }
      tp.partition = static_cast<std::int32_t>(get_be(key, pos, 4));
      out[tp] = static_cast<std::int64_t>(
          get_be(std::string_view(it->value().data(), it->value().size()), 0, 8));
    }
    AXION_RETURN_IF_ERROR(from_rocks(it->status(), "scan offsets"));
    return out;
  }

  Result<std::map<std::int32_t, std::uint64_t>> count_by_status(Table table) override {
    if (!projections::is_known_table(table)) {
      return invalid_field("table",
                           "unknown view table " + std::to_string(static_cast<int>(table)));
    }
    return impl::read_counts(*db_, table);
  }

  Status clear() override {
    {
      std::lock_guard lock(mu_);
      ::rocksdb::WriteBatch wb;
      for (const char* kind : {"R", "X", "O", "C"}) {
        wb.DeleteRange(kind, prefix_end(kind));
      }
      ::rocksdb::WriteOptions write;
      write.sync = true;
      AXION_RETURN_IF_ERROR(from_rocks(db_->Write(write, &wb), "clear"));
    }
    // Gives the space back now rather than at some later compaction (a rebuild follows).
    ::rocksdb::CompactRangeOptions compact;
    return from_rocks(db_->CompactRange(compact, nullptr, nullptr), "compact after clear");
  }

 private:
  std::unique_ptr<::rocksdb::DB> db_;
  std::mutex mu_;  // serializes commits: the offsets' compare-and-set and the index updates
};

}  // namespace

Result<std::unique_ptr<projections::ViewStore>> open_rocks_view_store(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    return failed_precondition("cannot create the view store directory '" + path + "': " +
                               ec.message());
  }
  ::rocksdb::Options options;
  options.create_if_missing = true;
  ::rocksdb::DB* raw = nullptr;
  auto s = ::rocksdb::DB::Open(options, path, &raw);
  if (!s.ok()) {
    if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
      return failed_precondition("the view store '" + path +
                                 "' is in use by another process (one per server instance)");
    }
    return unavailable("cannot open the view store '" + path + "': " + s.ToString());
  }
  std::unique_ptr<::rocksdb::DB> db(raw);
  std::string format;
  s = db->Get(::rocksdb::ReadOptions(), kFormatKey, &format);
  if (s.IsNotFound()) {
    ::rocksdb::WriteOptions write;
    write.sync = true;
    AXION_RETURN_IF_ERROR(from_rocks(db->Put(write, kFormatKey, kFormatVersion), "write format"));
  } else {
    AXION_RETURN_IF_ERROR(from_rocks(s, "read format"));
    if (format != kFormatVersion) {
      return failed_precondition("the view store '" + path + "' has format '" + format +
                                 "', this build reads format '" + kFormatVersion +
                                 "' (delete it: views are rebuilt from the log)");
    }
  }
  AXION_RETURN_IF_ERROR(impl::ensure_counts(
      *db, [](Table table) { return bucket_prefix(table, Bucket::kAll); },
      [](std::string_view entry) -> std::optional<std::int32_t> {
        RowIndex index;
        std::size_t pos = 0;
        if (!get_index(entry, pos, index)) return std::nullopt;
        return index.status;
      }));
  return std::unique_ptr<projections::ViewStore>(std::make_unique<RocksViewStore>(std::move(db)));
}

}  // namespace axion::infra::rocksdb
