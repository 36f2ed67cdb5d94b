// log_append_bench: durable one-record appends through Axion's EventLog adapters, from 1, 16 and
// 64 concurrent writers sharing ONE Producer (as the server does: group commit), each compared in
// the same run with the same writer counts against a raw client doing the same durable work:
//   rocksdb: RocksEventLog vs raw RocksDB, each writer db->Write(sync=true, one Put) (RocksDB's
//            own write-group commit), in a fresh database directory per cell;
//   kafka:   KafkaEventLog vs one raw librdkafka transactional producer (acks=all, idempotent)
//            whose loop thread begins a transaction, produces everything queued, commits and
//            releases the waiting writers; a fresh 8-partition topic per cell.
// Prints a markdown table for docs/BENCHMARKS.md, with the machine and the date.
//
//   log_append_bench [--seconds 5] [--writers 1,16,64] [--backend rocksdb|kafka|all]
//                    [--dir DIR] [--kafka host:port] [--rocks-max-batch N] [--impl raw|axion|both]
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_cli.h"
#include "bench/bench_util.h"
#include "bench/raw_kafka.h"
#include "events/event_log.h"
#include "infra/kafka/kafka_event_log.h"
#include "infra/rocksdb/rocks_event_log.h"

namespace {

using namespace axion;
using namespace axion::bench;
namespace fs = std::filesystem;

constexpr std::size_t kValueBytes = 300;
constexpr std::size_t kValuesPerWriter = 64;  // pre-generated random values, used round-robin
constexpr int kKeys = 10000;                  // "project-0" .. "project-9999"
constexpr std::int32_t kPartitions = 8;

struct Options {
  double seconds = 5;
  std::vector<int> writers{1, 16, 64};
  std::string backend = "all";
  std::string dir;
  std::string kafka;
  std::size_t rocks_max_batch = 0;  // 0: the adapter's default
  bool run_raw = true, run_axion = true;  // --impl raw|axion|both (for profiling one side)
};

Options parse(int argc, char** argv) {
  Options o;
  CLI::App app{"log_append_bench: durable appends through the EventLog adapters vs raw clients"};
  add_seconds(app, o.seconds);
  add_counts(app, "--writers", o.writers, "writer thread counts");
  app.add_option("--backend", o.backend, "which logs to measure")
      ->check(CLI::IsMember({"rocksdb", "kafka", "all"}))
      ->capture_default_str();
  add_dir_and_kafka(app, o.dir, o.kafka);
  app.add_option("--rocks-max-batch", o.rocks_max_batch,
                 "appends per embedded commit round (default: the adapter's)");
  std::string impl = "both";
  app.add_option("--impl", impl, "raw, axion or both (for profiling one side)")
      ->check(CLI::IsMember({"raw", "axion", "both"}))
      ->capture_default_str();
  parse_or_exit(app, argc, argv, o.dir, o.kafka, "axion-log-bench");
  o.run_raw = impl != "axion";
  o.run_axion = impl != "raw";
  return o;
}

// The same workload for every implementation: ~300-byte records, key "project-<n>", 2 headers.
class Workload {
 public:
  explicit Workload(int writers) {
    std::mt19937_64 rng(42);
    values_.resize(static_cast<std::size_t>(writers));
    for (auto& v : values_) {
      for (std::size_t i = 0; i < kValuesPerWriter; ++i) v.push_back(random_bytes(rng, kValueBytes));
    }
  }
  static std::string key(int thread, std::uint64_t seq) {
    return "project-" + std::to_string((static_cast<std::uint64_t>(thread) * 7919 + seq * 104729) % kKeys);
  }
  const std::string& value(int thread, std::uint64_t seq) const {
    return values_[static_cast<std::size_t>(thread)][seq % kValuesPerWriter];
  }
  static std::vector<events::Header> headers(int thread, std::uint64_t seq) {
    return {{"type", "DeploymentRequested"},
            {"trace", std::to_string(thread) + "-" + std::to_string(seq)}};
  }
  events::Record record(const std::string& topic, int thread, std::uint64_t seq) const {
    events::Record r;
    r.topic = topic;
    r.key = key(thread, seq);
    r.value = value(thread, seq);
    r.headers = headers(thread, seq);
    return r;
  }

 private:
  std::vector<std::vector<std::string>> values_;
};

// One row of the table: the raw baseline and Axion's adapter at one writer count.
struct Row {
  std::string backend;
  int writers = 0;
  std::optional<CellResult> raw, axion;
};

void progress(const std::string& what, int writers, const CellResult& r) {
  std::cerr << "  " << what << " w=" << writers << ": " << thousands(r.per_second())
            << " appends/s, p50 " << fmt("%.2f", r.p50_ms) << " ms, p99 " << fmt("%.2f", r.p99_ms)
            << " ms, p99.9 " << fmt("%.2f", r.p999_ms) << " ms, max " << fmt("%.1f", r.max_ms)
            << " ms" << (r.errors ? ", " + std::to_string(r.errors) + " errors: " + r.first_error : "")
            << "\n";
}

// Axion's producer (either adapter): one shared Producer, one record per append.
CellResult run_axion(events::Producer& producer, const std::string& topic, int writers,
                     double seconds) {
  Workload w(writers);
  for (std::uint64_t i = 0; i < 3; ++i) {  // warm-up, unmeasured
    std::vector<events::Record> recs;
    recs.push_back(w.record(topic, 0, i));
    auto r = producer.append(std::move(recs));
    if (!r.ok()) {
      CellResult failed;
      failed.errors = 1;
      failed.first_error = r.status().to_string();
      return failed;
    }
  }
  return run_cell(writers, std::chrono::duration<double>(seconds),
                  [&](int t, std::uint64_t seq, std::string* error) {
                    std::vector<events::Record> recs;
                    recs.push_back(w.record(topic, t, seq));
                    auto r = producer.append(std::move(recs));
                    if (r.ok()) return true;
                    *error = r.status().to_string();
                    return false;
                  });
}

// ---------------------------------------------------------------------------------------------
// Embedded: raw RocksDB vs RocksEventLog.

rocksdb::Options raw_rocks_options() {
  // The options LogCore opens its database with.
  rocksdb::Options options;
  options.create_if_missing = true;
  options.IncreaseParallelism(2);
  return options;
}

CellResult run_raw_rocks(const std::string& path, int writers, double seconds) {
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(raw_rocks_options(), path, &raw);
  if (!s.ok()) {
    CellResult failed;
    failed.errors = 1;
    failed.first_error = "cannot open raw RocksDB: " + s.ToString();
    return failed;
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  Workload w(writers);
  rocksdb::WriteOptions wo;
  wo.sync = true;
  // The same bytes as an appended record: key + value + headers (a unique key per write).
  auto op = [&](int t, std::uint64_t seq, std::string* error) {
    std::string key = Workload::key(t, seq) + "/" + std::to_string(t) + "/" + std::to_string(seq);
    std::string value = w.value(t, seq);
    for (const auto& h : Workload::headers(t, seq)) value += h.key + h.value;
    rocksdb::WriteBatch batch;
    batch.Put(key, value);
    rocksdb::Status st = db->Write(wo, &batch);
    if (st.ok()) return true;
    *error = st.ToString();
    return false;
  };
  std::string ignored;
  for (std::uint64_t i = 0; i < 3; ++i) (void)op(0, 1000000000 + i, &ignored);
  return run_cell(writers, std::chrono::duration<double>(seconds), op);
}

CellResult run_axion_rocks(const std::string& path, int writers, double seconds,
                           std::size_t max_batch) {
  infra::rocksdb::RocksLogConfig config;
  config.path = path;
  if (max_batch > 0) config.max_batch_appends = max_batch;
  auto log = infra::rocksdb::open_rocks_event_log(config);
  CellResult failed;
  failed.errors = 1;
  if (!log.ok()) {
    failed.first_error = log.status().to_string();
    return failed;
  }
  const std::string topic = "bench";
  if (Status st = (*log)->ensure_topic({topic, kPartitions}); !st.ok()) {
    failed.first_error = st.to_string();
    return failed;
  }
  auto producer = (*log)->open_producer("bench-producer");
  if (!producer.ok()) {
    failed.first_error = producer.status().to_string();
    return failed;
  }
  return run_axion(**producer, topic, writers, seconds);
}

std::vector<Row> bench_rocksdb(const Options& o) {
  std::vector<Row> rows;
  std::cerr << "rocksdb: scratch " << o.dir << "\n";
  for (int writers : o.writers) {
    Row row{"rocksdb", writers, {}, {}};
    const std::string raw_dir = o.dir + "/raw-w" + std::to_string(writers);
    const std::string axion_dir = o.dir + "/axion-w" + std::to_string(writers);
    fs::remove_all(raw_dir);
    fs::remove_all(axion_dir);
    fs::create_directories(o.dir);
    if (o.run_raw) {
      row.raw = run_raw_rocks(raw_dir, writers, o.seconds);
      progress("raw rocksdb  ", writers, *row.raw);
      fs::remove_all(raw_dir);
    }
    if (o.run_axion) {
      row.axion = run_axion_rocks(axion_dir, writers, o.seconds, o.rocks_max_batch);
      progress("axion rocksdb", writers, *row.axion);
      fs::remove_all(axion_dir);
    }
    rows.push_back(std::move(row));
  }
  std::error_code ec;
  fs::remove(o.dir, ec);  // only if empty: never remove what was there before
  return rows;
}

// ---------------------------------------------------------------------------------------------
// Kafka: raw transactional librdkafka producer (bench/raw_kafka.h) vs KafkaEventLog.

CellResult run_raw_kafka(const std::string& brokers, const std::string& topic,
                         const std::string& txid, int writers, double seconds) {
  CellResult failed;
  failed.errors = 1;
  auto producer = RawTxnProducer::open(brokers, txid);
  if (!producer.ok()) {
    failed.first_error = producer.status().to_string();
    return failed;
  }
  if (Status st = (*producer)->init(topic, kPartitions); !st.ok()) {
    failed.first_error = st.to_string();
    return failed;
  }
  Workload w(writers);
  auto op = [&](int t, std::uint64_t seq, std::string* error) {
    const std::string key = Workload::key(t, seq);
    const auto headers = Workload::headers(t, seq);
    *error = (*producer)->append(topic, key, w.value(t, seq), headers);
    return error->empty();
  };
  std::string warm_error;
  for (std::uint64_t i = 0; i < 3; ++i) {  // warm-up (also waits out the new topic's metadata)
    if (!op(0, i, &warm_error)) {
      failed.first_error = warm_error;
      return failed;
    }
  }
  return run_cell(writers, std::chrono::duration<double>(seconds), op);
}

CellResult run_axion_kafka(events::EventLog& log, const std::string& topic, const std::string& txid,
                           int writers, double seconds) {
  CellResult failed;
  failed.errors = 1;
  if (Status st = log.ensure_topic({topic, kPartitions}); !st.ok()) {
    failed.first_error = st.to_string();
    return failed;
  }
  auto producer = log.open_producer(txid);
  if (!producer.ok()) {
    failed.first_error = producer.status().to_string();
    return failed;
  }
  return run_axion(**producer, topic, writers, seconds);
}

std::vector<Row> bench_kafka(const Options& o) {
  std::vector<Row> rows;
  std::cerr << "kafka: brokers " << o.kafka << "\n";
  infra::kafka::KafkaConfig config;
  config.brokers = o.kafka;
  config.client_id = "axion-bench";
  auto log = infra::kafka::open_kafka_event_log(config);
  const std::string run_id = std::to_string(getpid()) + "-" +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  for (int writers : o.writers) {
    Row row{"kafka", writers, {}, {}};
    const std::string cell = run_id + "-w" + std::to_string(writers);
    if (o.run_raw) {
      row.raw = run_raw_kafka(o.kafka, "bench-raw-" + cell, "bench-raw-" + cell, writers, o.seconds);
      progress("raw kafka  ", writers, *row.raw);
    }
    if (!o.run_axion) {
      // skipped
    } else if (log.ok()) {
      row.axion = run_axion_kafka(**log, "bench-axion-" + cell, "bench-axion-" + cell, writers,
                                  o.seconds);
    } else {
      row.axion = CellResult{};
      row.axion->errors = 1;
      row.axion->first_error = log.status().to_string();
    }
    if (row.axion) progress("axion kafka", writers, *row.axion);
    rows.push_back(std::move(row));
  }
  return rows;
}

// ---------------------------------------------------------------------------------------------

std::string cell_columns(const std::optional<CellResult>& r) {
  if (!r) return " – | – |";
  if (r->ops == 0) return " failed | – |";
  return " " + thousands(r->per_second()) + " | " + fmt("%.2f", r->p50_ms) + " / " +
         fmt("%.2f", r->p99_ms) + " / " + fmt("%.2f", r->p999_ms) + " |";
}

void print_table(const std::vector<Row>& rows, const Options& o, const std::string& load_start,
                 bool kafka_skipped) {
  if (rows.empty()) {
    if (kafka_skipped) std::cout << "kafka: skipped (set KAFKA_BROKERS)\n";
    return;
  }
  std::cout << "\nmachine: " << machine_description() << "; " << utc_now()
            << "; load average " << load_start << " at start, " << load_average() << " at end\n"
            << "workload: one ~300-byte record per append (key \"project-<n>\", 300 random bytes, "
               "2 headers), "
            << fmt("%g", o.seconds) << " s per cell, all writers share one producer\n\n"
            << "| backend | writers | raw appends/s | raw p50 / p99 / p99.9 ms | axion appends/s "
               "| axion p50 / p99 / p99.9 ms | axion/raw |\n"
            << "|---|---:|---:|---|---:|---|---:|\n";
  for (const Row& row : rows) {
    std::string ratio = "–";
    if (row.raw && row.axion && row.raw->ops > 0 && row.axion->ops > 0) {
      ratio = fmt("%.2fx", row.axion->per_second() / row.raw->per_second());
    }
    std::cout << "| " << row.backend << " | " << row.writers << " |" << cell_columns(row.raw)
              << cell_columns(row.axion) << " " << ratio << " |\n";
  }
  if (kafka_skipped) std::cout << "\nkafka: skipped (set KAFKA_BROKERS)\n";
  for (const Row& row : rows) {
    for (const auto* r : {&row.raw, &row.axion}) {
      if (*r && (*r)->errors > 0) {
        std::cout << "\nnote: " << row.backend << " " << (r == &row.raw ? "raw" : "axion")
                  << " w=" << row.writers << ": " << (*r)->errors
                  << " failed appends, first: " << (*r)->first_error << "\n";
      }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  const std::string load_start = load_average();
  std::vector<Row> rows;
  bool kafka_skipped = false;
  if (o.backend == "rocksdb" || o.backend == "all") {
    auto r = bench_rocksdb(o);
    rows.insert(rows.end(), r.begin(), r.end());
  }
  if (o.backend == "kafka" || o.backend == "all") {
    if (o.kafka.empty()) {
      kafka_skipped = true;
      std::cerr << "kafka: skipped (set KAFKA_BROKERS)\n";
    } else {
      auto r = bench_kafka(o);
      rows.insert(rows.end(), r.begin(), r.end());
    }
  }
  print_table(rows, o, load_start, kafka_skipped);
  bool failed = false;
  for (const Row& row : rows) {
    for (const auto* r : {&row.raw, &row.axion}) failed = failed || (*r && (*r)->ops == 0);
  }
  return failed ? 1 : 0;
}
