// Key layout of the embedded log. One keyspace, a one-byte prefix per kind of entry; big-endian
// integers so RocksDB's bytewise order is offset order. Topic names and group ids never contain
// '\0' (validated), so '\0' separates variable-length parts.
//   'T' topic                                   -> TopicMeta
//   'R' topic '\0' be32(partition) be64(offset) -> StoredLogRecord
//   'O' group '\0' topic '\0' be32(partition)   -> be64(next offset)
//   'P' transactional id                        -> be64(producer epoch)
#pragma once

#include <rocksdb/slice.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "events/event_log.h"

namespace axion::infra::rocksdb::keys {

inline void put_be(std::string& out, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

inline std::uint64_t get_be(std::string_view in, std::size_t pos, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(in[pos + i]);
  return v;
}

inline bool has_prefix(const ::rocksdb::Slice& key, const std::string& prefix) {
  return key.size() >= prefix.size() && std::memcmp(key.data(), prefix.data(), prefix.size()) == 0;
}

inline std::string topic_key(std::string_view topic) { return "T" + std::string(topic); }

inline std::string partition_prefix(const events::TopicPartition& tp) {
  std::string k = "R" + tp.topic;
  k.push_back('\0');
  put_be(k, static_cast<std::uint32_t>(tp.partition), 4);
  return k;
}

inline std::string record_key(const events::TopicPartition& tp, std::int64_t offset) {
  std::string k = partition_prefix(tp);
  put_be(k, static_cast<std::uint64_t>(offset), 8);
  return k;
}

inline std::int64_t offset_of_record_key(std::string_view key) {
  return static_cast<std::int64_t>(get_be(key, key.size() - 8, 8));
}

inline std::string group_offset_key(std::string_view group, const events::TopicPartition& tp) {
  std::string k = "O" + std::string(group);
  k.push_back('\0');
  k += tp.topic;
  k.push_back('\0');
  put_be(k, static_cast<std::uint32_t>(tp.partition), 4);
  return k;
}

inline std::string producer_key(std::string_view txid) { return "P" + std::string(txid); }

inline std::string encode_u64(std::uint64_t v) {
  std::string s;
  put_be(s, v, 8);
  return s;
}

}  // namespace axion::infra::rocksdb::keys
