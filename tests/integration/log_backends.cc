#include "tests/integration/log_backends.h"

#include <uuid/uuid.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <vector>

#include "infra/kafka/kafka_event_log.h"
#include "infra/rocksdb/rocks_event_log.h"

namespace axion::testing {

std::string unique_name(const std::string& prefix) {
  uuid_t id;
  uuid_generate_random(id);
  char text[37];
  uuid_unparse_lower(id, text);
  return prefix + "-" + std::string(text, 12);
}

namespace {

// Scratch directories of this test process, removed when it exits: an embedded RocksDB
// reserves tens of MiB per write-ahead log, so a suite that kept them would fill a small disk.
std::mutex scratch_mu;
std::vector<std::filesystem::path>* scratch_dirs = nullptr;

void remove_scratch_dirs() {
  std::lock_guard lock(scratch_mu);
  if (!scratch_dirs) return;
  for (const auto& dir : *scratch_dirs) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  scratch_dirs->clear();
}

}  // namespace

std::string scratch_dir(const std::string& prefix) {
  const char* run = std::getenv("AXION_TEST_RUN_DIR");
  std::filesystem::path base = run ? std::filesystem::path(run) / "tests"
                                   : std::filesystem::temp_directory_path() / "axion-tests";
  std::filesystem::path dir = base / unique_name(prefix);
  std::filesystem::create_directories(dir);
  const char* keep = std::getenv("AXION_KEEP_TEST_DATA");
  if (!keep || std::string(keep) != "1") {
    std::lock_guard lock(scratch_mu);
    if (!scratch_dirs) {
      scratch_dirs = new std::vector<std::filesystem::path>();
      std::atexit(remove_scratch_dirs);
    }
    scratch_dirs->push_back(dir);
  }
  return dir.string();
}

void remove_scratch_dir(const std::string& dir) {
  const char* keep = std::getenv("AXION_KEEP_TEST_DATA");
  if (keep && std::string(keep) == "1") return;
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

std::vector<LogBackend> all_log_backends() {
  std::vector<LogBackend> out;
  out.push_back({"rocksdb", [](const std::string& dir) {
                   infra::rocksdb::RocksLogConfig config;
                   config.path = dir;
                   return infra::rocksdb::open_rocks_event_log(config);
                 }});
  out.push_back({"kafka", [](const std::string&) -> Result<std::unique_ptr<events::EventLog>> {
                   const char* brokers = std::getenv("KAFKA_BROKERS");
                   if (!brokers || !*brokers) {
                     return failed_precondition(
                         "KAFKA_BROKERS is not set: run scripts/test, which starts a real broker");
                   }
                   infra::kafka::KafkaConfig config;
                   config.brokers = brokers;
                   config.timeout = std::chrono::milliseconds(15000);
                   return infra::kafka::open_kafka_event_log(config);
                 }});
  return out;
}

LogBackend log_backend(const std::string& name) {
  for (auto& b : all_log_backends()) {
    if (b.name == name) return b;
  }
  std::abort();
}

Result<std::vector<events::StoredRecord>> poll_at_least(events::Consumer& consumer,
                                                        std::size_t count,
                                                        std::chrono::milliseconds timeout) {
  std::vector<events::StoredRecord> out;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto batch = consumer.poll(std::chrono::milliseconds(200));
    if (!batch.ok()) return batch.status();
    std::move(batch->begin(), batch->end(), std::back_inserter(out));
  }
  return out;
}

Result<std::vector<events::StoredRecord>> read_all(events::EventLog& log, const std::string& topic) {
  auto partitions = log.partition_count(topic);
  if (!partitions.ok()) return partitions.status();
  std::vector<events::StoredRecord> out;
  for (std::int32_t p = 0; p < *partitions; ++p) {
    events::TopicPartition tp{topic, p};
    auto end = log.end_offset(tp);
    if (!end.ok()) return end.status();
    std::int64_t next = 0;
    while (next < *end) {
      auto batch = log.read(tp, next, 5000, std::chrono::milliseconds(500));
      if (!batch.ok()) return batch.status();
      if (batch->empty()) break;
      next = batch->back().offset + 1;
      std::move(batch->begin(), batch->end(), std::back_inserter(out));
    }
  }
  return out;
}

}  // namespace axion::testing
