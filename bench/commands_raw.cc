// commands_bench's raw baseline servers (see commands_raw.h).
#include "bench/commands_raw.h"

#include <grpcpp/grpcpp.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <utility>

#include "axion/v1/deployment.grpc.pb.h"
#include "bench/group_loop.h"
#include "bench/raw_kafka.h"

namespace axion::bench {
namespace {

namespace v1 = axion::v1;

// One writer thread writing everything queued since its last write in one synced WriteBatch.
class RocksGroupWriter {
 public:
  static Result<std::unique_ptr<RocksGroupWriter>> open(const std::string& path) {
    ::rocksdb::Options options;  // as LogCore opens its database
    options.create_if_missing = true;
    options.IncreaseParallelism(2);
    ::rocksdb::DB* raw = nullptr;
    const ::rocksdb::Status s = ::rocksdb::DB::Open(options, path, &raw);
    if (!s.ok()) return unavailable("raw RocksDB at " + path + ": " + s.ToString());
    return std::unique_ptr<RocksGroupWriter>(new RocksGroupWriter(raw));
  }

  void write(std::string key, std::string value, GroupDone done) {
    loop_.push(Pending{std::move(key), std::move(value), std::move(done)});
  }

 private:
  struct Pending {
    std::string key, value;
    GroupDone done;
  };

  explicit RocksGroupWriter(::rocksdb::DB* db) : db_(db) { loop_.start(); }

  std::string commit(const std::deque<Pending>& round) {
    ::rocksdb::WriteOptions sync;
    sync.sync = true;
    ::rocksdb::WriteBatch wb;
    for (const Pending& p : round) wb.Put(p.key, p.value);
    const ::rocksdb::Status s = db_->Write(sync, &wb);
    return s.ok() ? std::string() : s.ToString();
  }

  std::unique_ptr<::rocksdb::DB> db_;
  // Last: destroyed first, so the loop ends (after what is queued) while the database is open.
  GroupLoop<Pending> loop_{[this](const std::deque<Pending>& round) { return commit(round); }};
};

class RawDeploymentService final : public v1::DeploymentService::CallbackService {
 public:
  RawDeploymentService(RawKind kind, RocksGroupWriter* rocks, RawTxnProducer* kafka,
                       std::string topic)
      : kind_(kind), rocks_(rocks), kafka_(kafka), topic_(std::move(topic)) {}

  grpc::ServerUnaryReactor* DeployProject(grpc::CallbackServerContext* ctx,
                                          const v1::DeployProjectRequest* request,
                                          v1::DeployProjectResponse* response) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    std::string id = "dep-raw-" + std::to_string(next_.fetch_add(1, std::memory_order_relaxed));
    response->set_deployment_id(id);
    auto finish = [reactor](const std::string& error) {
      reactor->Finish(error.empty() ? grpc::Status::OK
                                    : grpc::Status(grpc::StatusCode::UNAVAILABLE, error));
    };
    switch (kind_) {
      case RawKind::kAnswer:
        finish({});
        break;
      case RawKind::kRocksDb:
        rocks_->write(std::move(id), request->SerializeAsString(), std::move(finish));
        break;
      case RawKind::kKafka:
        kafka_->append_async(topic_, request->project_id(), request->SerializeAsString(), {},
                             std::move(finish));
        break;
    }
    return reactor;
  }

 private:
  const RawKind kind_;
  RocksGroupWriter* const rocks_;
  RawTxnProducer* const kafka_;
  const std::string topic_;
  std::atomic<std::uint64_t> next_{0};
};

}  // namespace

struct RawCommandServer::Impl {
  // Destroyed bottom-up: the server (in-flight calls end) before the writers they wait on.
  std::unique_ptr<RocksGroupWriter> rocks;
  std::unique_ptr<RawTxnProducer> kafka;
  std::unique_ptr<RawDeploymentService> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  ~Impl() {
    if (server) server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(30));
  }
};

Result<std::unique_ptr<RawCommandServer>> RawCommandServer::start(RawKind kind,
                                                                  const std::string& path,
                                                                  const std::string& brokers,
                                                                  const std::string& name) {
  auto impl = std::make_unique<Impl>();
  if (kind == RawKind::kRocksDb) {
    auto rocks = RocksGroupWriter::open(path);
    if (!rocks.ok()) return rocks.status();
    impl->rocks = std::move(rocks).value();
  }
  if (kind == RawKind::kKafka) {
    auto kafka = RawTxnProducer::open(brokers, name);
    if (!kafka.ok()) return kafka.status();
    AXION_RETURN_IF_ERROR((*kafka)->init(name, 8));
    impl->kafka = std::move(kafka).value();
  }
  impl->service =
      std::make_unique<RawDeploymentService>(kind, impl->rocks.get(), impl->kafka.get(), name);
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &impl->port);
  builder.RegisterService(impl->service.get());
  impl->server = builder.BuildAndStart();
  if (!impl->server || impl->port == 0) {
    return unavailable("the raw baseline server cannot listen on 127.0.0.1");
  }
  return std::unique_ptr<RawCommandServer>(new RawCommandServer(std::move(impl)));
}

RawCommandServer::RawCommandServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RawCommandServer::~RawCommandServer() = default;
int RawCommandServer::port() const { return impl_->port; }

}  // namespace axion::bench
