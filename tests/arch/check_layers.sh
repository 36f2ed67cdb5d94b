#!/usr/bin/env bash
# Fails if a domain folder includes an infra header or a third-party I/O library: dependencies
# point inward (docs/ARCHITECTURE.md). Also refuses generated protobuf code committed anywhere.
set -euo pipefail
root="${1:?usage: check_layers.sh <repo root>}"
cd "$root"
domain=(common events commands sagas codegen projections)
forbidden='#include *[<"](infra/|librdkafka|rdkafka|rocksdb/|pqxx|grpc|grpcpp|libssh2|httplib|spdlog|openssl/|server/|cli/|agent/)'
status=0
for dir in "${domain[@]}"; do
  [ -d "$dir" ] || continue
  if hits=$(grep -rnE "$forbidden" "$dir" --include='*.h' --include='*.cc' 2>/dev/null); then
    echo "layering violation: $dir/ must not include infra or I/O headers:"
    echo "$hits"
    status=1
  fi
done
if generated=$(git ls-files 2>/dev/null | grep -E '\.pb\.(h|cc)$'); then
  echo "generated protobuf code is committed (build it from schemas/ instead):"
  echo "$generated"
  status=1
fi
[ "$status" -eq 0 ] && echo "layering ok: ${domain[*]} include no infra or I/O headers"
exit "$status"
