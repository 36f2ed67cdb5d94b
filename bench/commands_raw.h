// commands_bench's raw baselines, measured in the same run with the same client: a bare gRPC
// server (callback API, no Axion code on the path) serving DeploymentService.DeployProject on
// 127.0.0.1 (ephemeral port), in one of three ways:
//   kAnswer:  answers at once with a new id — what the gRPC call alone costs on this machine, the
//             ceiling of any command path through the API;
//   kRocksDb: answers once the request's bytes are durable in a raw RocksDB: one writer thread
//             writes everything queued since its last write in one synced WriteBatch (group
//             commit) — the ceiling of a path that makes each command durable once;
//   kKafka:   answers once the request's bytes are in a committed Kafka transaction of the raw
//             librdkafka producer (bench/raw_kafka.h: everything queued in one transaction).
// Axion makes a command durable twice before answering (the command; then its events, result
// and input offset, atomically) and checks the caller's token; these baselines do neither.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"

namespace axion::bench {

enum class RawKind { kAnswer, kRocksDb, kKafka };

class RawCommandServer {
 public:
  // `path`: the RocksDB directory (kRocksDb, created). `brokers`, `name`: the Kafka bootstrap
  // servers and the name of the fresh topic and transactional id (kKafka).
  static Result<std::unique_ptr<RawCommandServer>> start(RawKind kind, const std::string& path,
                                                         const std::string& brokers,
                                                         const std::string& name);
  // Stops the gRPC server (in-flight calls end first), then the writer.
  ~RawCommandServer();
  RawCommandServer(const RawCommandServer&) = delete;
  RawCommandServer& operator=(const RawCommandServer&) = delete;

  int port() const;

  struct Impl;

 private:
  explicit RawCommandServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace axion::bench
