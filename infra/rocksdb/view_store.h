// RocksViewStore: the embedded ViewStore (projections/view_store.h) on a RocksDB database of its
// own (the server puts it under AXION_DATA_DIR/views). One keyspace, a one-byte prefix per kind:
//   'M'                                                    -> format version
//   'R' table key                                          -> row (index columns + doc)
//   'X' table bucket [str(value)] order(sort_key) key      -> index columns (no doc)
//   'O' str(projection) str(topic) be32(partition)         -> be64(next offset)
//   'C' table be32(status)                                 -> be64(rows) (impl/view_counts.h)
// str() is a be32 length + bytes; order() is big-endian with the sign bit flipped, so bytewise
// order is numeric order and the key, last and unprefixed, breaks ties bytewise — exactly the
// (sort_key, key) order of a listing. Index buckets: every row in 'all', rows with a project in
// 'project' (value project_id), rows with a cluster in 'cluster' (value cluster_id); a listing
// is a prefix scan of the narrowest bucket its filters allow, the other filters checked on the
// index entry, and only the rows it returns are read. A commit is one WriteBatch (rows, index
// entries — an update deletes the old row's entries — and offsets) written with a synced WAL;
// the offsets' compare-and-set runs under a mutex (one process owns the database).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "projections/view_store.h"

namespace axion::infra::rocksdb {

// Opens (or creates) the store at `path`. FAILED_PRECONDITION if another process holds it or it
// was written by an incompatible version.
Result<std::unique_ptr<projections::ViewStore>> open_rocks_view_store(const std::string& path);

}  // namespace axion::infra::rocksdb
