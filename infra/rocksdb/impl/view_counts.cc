#include "infra/rocksdb/impl/view_counts.h"

#include <memory>
#include <string>

namespace axion::infra::rocksdb::impl {

namespace {

using projections::Table;

std::string counts_prefix(Table table) {
  std::string k = "C";
  k.push_back(static_cast<char>(table));
  return k;
}

std::string count_key(Table table, std::int32_t status) {
  std::string k = counts_prefix(table);
  const auto v = static_cast<std::uint32_t>(status);
  for (int i = 3; i >= 0; --i) k.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  return k;
}

std::string encode_count(std::uint64_t n) {
  std::string out;
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out;
}

std::optional<std::uint64_t> decode_be(std::string_view in) {
  if (in.size() != 8 && in.size() != 4) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : in) v = (v << 8) | static_cast<unsigned char>(c);
  return v;
}

Status from_rocks(const ::rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return ok_status();
  return unavailable("view store: " + std::string(what) + ": " + s.ToString());
}

// Bytewise upper bound of the keys starting with `prefix` (whose last byte is never 0xff here).
std::string after(std::string prefix) {
  prefix.back() = static_cast<char>(static_cast<unsigned char>(prefix.back()) + 1);
  return prefix;
}

}  // namespace

Status stage_counts(::rocksdb::DB& db, const CountDeltas& deltas, ::rocksdb::WriteBatch& wb) {
  for (const auto& [id, delta] : deltas) {
    if (delta == 0) continue;
    const std::string key = count_key(id.first, id.second);
    std::string value;
    std::uint64_t n = 0;
    const auto s = db.Get(::rocksdb::ReadOptions(), key, &value);
    if (!s.IsNotFound()) {
      AXION_RETURN_IF_ERROR(from_rocks(s, "read a row count"));
      const auto stored = decode_be(value);
      if (!stored || value.size() != 8) return data_loss("view store: a row count does not decode");
      n = *stored;
    }
    const std::int64_t next = static_cast<std::int64_t>(n) + delta;
    if (next < 0) {
      return data_loss("view store: the row count of " +
                       std::string(projections::table_name(id.first)) + " status " +
                       std::to_string(id.second) + " would go below zero");
    }
    if (next == 0) {
      wb.Delete(key);
    } else {
      wb.Put(key, encode_count(static_cast<std::uint64_t>(next)));
    }
  }
  return ok_status();
}

Result<std::map<std::int32_t, std::uint64_t>> read_counts(::rocksdb::DB& db, Table table) {
  const std::string prefix = counts_prefix(table);
  const std::string end = after(prefix);
  const ::rocksdb::Slice upper(end);
  ::rocksdb::ReadOptions read;
  read.iterate_upper_bound = &upper;
  std::unique_ptr<::rocksdb::Iterator> it(db.NewIterator(read));
  std::map<std::int32_t, std::uint64_t> out;
  for (it->Seek(prefix); it->Valid(); it->Next()) {
    const std::string_view key(it->key().data(), it->key().size());
    const auto status = decode_be(key.substr(prefix.size()));
    const auto n = decode_be(std::string_view(it->value().data(), it->value().size()));
    if (key.size() != prefix.size() + 4 || !status || !n || it->value().size() != 8) {
      return data_loss("view store: a row count of " + std::string(projections::table_name(table)) +
                       " does not decode");
    }
    out[static_cast<std::int32_t>(*status)] = *n;
  }
  AXION_RETURN_IF_ERROR(from_rocks(it->status(), "read row counts"));
  return out;
}

Status ensure_counts(
    ::rocksdb::DB& db, const std::function<std::string(Table)>& all_prefix,
    const std::function<std::optional<std::int32_t>(std::string_view)>& status_of) {
  const auto any_key = [&](const std::string& prefix) -> Result<bool> {
    std::unique_ptr<::rocksdb::Iterator> it(db.NewIterator(::rocksdb::ReadOptions()));
    it->Seek(prefix);
    const bool found = it->Valid() && it->key().starts_with(prefix);
    AXION_RETURN_IF_ERROR(from_rocks(it->status(), "look for row counts"));
    return found;
  };
  auto counted = any_key("C");
  if (!counted.ok()) return counted.status();
  if (*counted) return ok_status();
  auto rows = any_key("X");
  if (!rows.ok()) return rows.status();
  if (!*rows) return ok_status();  // an empty store: its commits count from the first row on

  ::rocksdb::WriteBatch wb;
  for (Table table : projections::kAllTables) {
    const std::string prefix = all_prefix(table);
    const std::string end = after(prefix);
    const ::rocksdb::Slice upper(end);
    ::rocksdb::ReadOptions read;
    read.iterate_upper_bound = &upper;
    std::unique_ptr<::rocksdb::Iterator> it(db.NewIterator(read));
    std::map<std::int32_t, std::uint64_t> counts;
    for (it->Seek(prefix); it->Valid(); it->Next()) {
      const auto status = status_of(std::string_view(it->value().data(), it->value().size()));
      if (!status) {
        return data_loss("view store: an index entry of " +
                         std::string(projections::table_name(table)) + " does not decode");
      }
      ++counts[*status];
    }
    AXION_RETURN_IF_ERROR(from_rocks(it->status(), "count rows"));
    for (const auto& [status, n] : counts) wb.Put(count_key(table, status), encode_count(n));
  }
  ::rocksdb::WriteOptions write;
  write.sync = true;
  return from_rocks(db.Write(write, &wb), "write row counts");
}

}  // namespace axion::infra::rocksdb::impl
