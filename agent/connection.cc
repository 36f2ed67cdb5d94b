#include "agent/connection.h"

#include <spdlog/spdlog.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "agent/state_store.h"
#include "common/utf8.h"

namespace axion::agent {

namespace v1 = axion::v1;

namespace {

Result<std::string> read_token(const std::string& path) {
  if (path.empty()) {
    return failed_precondition("the agent is not registered yet and has no registration token: "
                               "set --token-file (AXION_AGENT_TOKEN_FILE)");
  }
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  std::string token = s.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' ')) {
    token.pop_back();
  }
  if (!in || token.empty()) {
    return failed_precondition("cannot read a registration token from " + path +
                               " (--token-file / AXION_AGENT_TOKEN_FILE)");
  }
  return token;
}

bool lasting(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAUTHENTICATED || code == grpc::StatusCode::PERMISSION_DENIED ||
         code == grpc::StatusCode::INVALID_ARGUMENT ||
         code == grpc::StatusCode::FAILED_PRECONDITION;
}

bool terminal(v1::TaskState s) {
  return s == v1::TASK_STATE_SUCCEEDED || s == v1::TASK_STATE_FAILED ||
         s == v1::TASK_STATE_CANCELLED;
}

}  // namespace

AgentConnection::AgentConnection(AgentConfig config, HostSampler& sampler, Runtimes& runtimes,
                                 TaskJournal& journal)
    : config_(std::move(config)), sampler_(sampler), runtimes_(runtimes), journal_(journal),
      rng_(std::random_device{}()) {}

bool AgentConnection::write(const v1::AgentMessage& message) {
  std::lock_guard lock(stream_mu_);
  return live_ && live_->Write(message);
}

void AgentConnection::update(const v1::TaskUpdate& reported) {
  // Details, output tails and probe details can hold what a service printed, and a tail may be
  // cut inside a character; the journal and the server parse only UTF-8 in string fields.
  v1::TaskUpdate update = reported;
  update.set_detail(valid_utf8(update.detail()));
  update.set_output(valid_utf8(update.output()));
  for (auto& sample : *update.mutable_health_samples()) {
    sample.set_detail(valid_utf8(sample.detail()));
  }
  if (terminal(update.state())) {
    auto first = journal_.record_terminal(update);
    if (!first.ok()) {
      // Not journaled (disk full?): still sent; if the server misses it, the task's deadline
      // is what ends it there.
      spdlog::error("task {}: cannot journal its result: {}", update.task_id(),
                    first.status().message());
    } else if (!*first) {
      return;  // it already ended; a later report changes nothing
    }
  }
  v1::AgentMessage m;
  *m.mutable_task_update() = update;
  write(m);
}

void AgentConnection::log(const v1::LogLine& line) {
  v1::AgentMessage m;
  *m.mutable_log_line() = line;
  // A service may print anything; the server parses only UTF-8 in string fields.
  m.mutable_log_line()->set_line(valid_utf8(line.line()));
  write(m);
}

void AgentConnection::resume() {
  for (const auto& task : journal_.unfinished()) {
    spdlog::info("resuming task {} (journaled before the agent stopped)", task.task_id());
    runtimes_.dispatch(task, *this);
  }
}

void AgentConnection::on_task(const v1::Task& task) {
  auto fresh = journal_.record_task(task);
  v1::AgentMessage ack;
  ack.mutable_task_ack()->set_task_id(task.task_id());
  if (!fresh.ok()) {
    // Not journaled: not acknowledged either, so the server sends it again — unless the id
    // itself is unusable, which is answered with a result the server records.
    if (fresh.status().code() != StatusCode::kInvalidArgument) {
      spdlog::error("task {}: cannot journal it: {}", task.task_id(), fresh.status().message());
      return;
    }
    write(ack);
    v1::AgentMessage failed;
    auto* u = failed.mutable_task_update();
    u->set_task_id(task.task_id());
    u->set_state(v1::TASK_STATE_FAILED);
    u->set_detail(fresh.status().message());
    write(failed);
    return;
  }
  ack.mutable_task_ack()->set_duplicate(!*fresh);
  write(ack);
  if (*fresh) return runtimes_.dispatch(task, *this);
  if (auto result = journal_.terminal_of(task.task_id())) {
    v1::AgentMessage again;
    *again.mutable_task_update() = *result;
    write(again);
  }
}

void AgentConnection::on_cancel(const v1::TaskCancel& cancel) {
  if (auto result = journal_.terminal_of(cancel.task_id())) {
    v1::AgentMessage again;
    *again.mutable_task_update() = *result;
    write(again);
    return;
  }
  spdlog::info("task {}: cancel requested ({})", cancel.task_id(), cancel.reason());
  runtimes_.cancel(cancel.task_id());
}

void AgentConnection::stop() {
  std::lock_guard lock(mu_);
  stopping_ = true;
  if (context_) context_->TryCancel();
  cv_.notify_all();
}

bool AgentConnection::wait(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [&] { return stopping_; });
}

std::shared_ptr<grpc::Channel> AgentConnection::channel() {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!config_.tls_ca.empty()) {
    std::ifstream in(config_.tls_ca);
    std::stringstream pem;
    pem << in.rdbuf();
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = pem.str();
    credentials = grpc::SslCredentials(tls);
  }
  return grpc::CreateChannel(config_.server_addr, credentials);
}

Result<std::string> AgentConnection::hello_token(v1::AgentHello& hello) {
  auto stored = load_identity(config_.state_dir);
  if (!stored.ok()) return stored.status();
  if (stored->has_value() && (*stored)->server_id == config_.server_id) {
    hello.set_agent_id((*stored)->agent_id);
    hello.set_cluster_id((*stored)->cluster_id);
    using_credential_ = true;
    if (!credential_refused_) return (*stored)->credential;
    // The credential was refused (revoked, or replaced): a new registration token, if one was
    // given, registers this agent again under the same id.
    auto token = read_token(config_.token_file);
    if (token.ok()) {
      spdlog::info("registering again with the token in {}", config_.token_file);
      using_credential_ = false;
      return token;
    }
    return (*stored)->credential;
  }
  if (stored->has_value()) {
    spdlog::warn("the stored identity is for server {}, not {}: registering anew",
                 (*stored)->server_id, config_.server_id);
  }
  using_credential_ = false;
  return read_token(config_.token_file);
}

Status AgentConnection::run() {
  resume();
  journal_.prune();
  std::chrono::milliseconds backoff = config_.backoff_min;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return ok_status();
      if (!fatal_.ok()) return fatal_;
    }
    const Status s = session();
    {
      std::lock_guard lock(mu_);
      if (stopping_) return ok_status();
      if (!fatal_.ok()) return fatal_;
    }
    if (s.ok()) backoff = config_.backoff_min;  // it was admitted: start over
    // Full jitter in [backoff/2, backoff]: agents that lost the same server do not return
    // in lockstep.
    std::uniform_int_distribution<long long> jitter(backoff.count() / 2, backoff.count());
    const std::chrono::milliseconds delay(jitter(rng_));
    spdlog::info("reconnecting in {} ms", delay.count());
    if (!wait(delay)) return ok_status();
    backoff = std::min(config_.backoff_max, backoff * 2);
  }
}

Status AgentConnection::session() {
  v1::AgentHello hello;
  hello.set_server_id(config_.server_id);
  hello.set_version(kAgentVersion);
  for (const auto& r : runtimes_.available()) hello.add_runtimes(r);
  for (const auto& id : journal_.open_ids()) hello.add_open_task_ids(id);
  *hello.mutable_host() = sampler_.facts();
  auto token = hello_token(hello);
  if (!token.ok()) {
    spdlog::error("cannot connect: {}", token.status().message());
    return token.status();
  }
  hello.set_token(*token);
  const bool registering = !using_credential_;

  auto stub = v1::AgentService::NewStub(channel());
  grpc::ClientContext context;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return ok_status();
    context_ = &context;
  }
  struct Forget {
    AgentConnection* self;
    ~Forget() {
      std::lock_guard lock(self->mu_);
      self->context_ = nullptr;
    }
  } forget{this};

  auto stream = stub->Connect(&context);
  v1::AgentMessage first;
  *first.mutable_hello() = hello;
  v1::ServerMessage reply;
  if (!stream->Write(first) || !stream->Read(&reply) || !reply.has_welcome()) {
    const grpc::Status status = stream->Finish();
    const std::string what = status.error_message().empty() ? "the server closed the stream"
                                                            : status.error_message();
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      credential_refused_ = !registering;
    }
    if (lasting(status.error_code())) {
      spdlog::error("axion-server refused this agent (code {}): {}",
                    static_cast<int>(status.error_code()), what);
    } else {
      spdlog::warn("cannot reach axion-server at {}: {}", config_.server_addr, what);
    }
    return Status(static_cast<StatusCode>(status.error_code()), what);
  }
  const v1::AgentWelcome& welcome = reply.welcome();
  if (!welcome.credential().empty()) {
    // The registration token is spent: the credential must be on disk before anything else.
    AgentIdentity identity{welcome.agent_id(), welcome.credential(), welcome.server_id(),
                           welcome.cluster_id()};
    if (Status saved = save_identity(config_.state_dir, identity); !saved.ok()) {
      std::lock_guard lock(mu_);
      fatal_ = saved;
      spdlog::critical("registered as agent {} but cannot store its credential: {}",
                       welcome.agent_id(), saved.message());
      context.TryCancel();
      stream->Finish();
      return saved;
    }
    credential_refused_ = false;
    spdlog::info("registered as agent {} of server {} (credential stored in {})",
                 welcome.agent_id(), welcome.server_id(), config_.state_dir);
  } else if (registering) {
    spdlog::warn("the server admitted a registration without a credential");
  } else {
    spdlog::info("connected as agent {} of server {}", welcome.agent_id(), welcome.server_id());
  }
  auto interval = std::chrono::milliseconds(welcome.heartbeat_interval().seconds() * 1000 +
                                            welcome.heartbeat_interval().nanos() / 1000000);
  if (interval.count() <= 0) interval = std::chrono::milliseconds(5000);

  {
    std::lock_guard lock(stream_mu_);
    live_ = stream.get();
  }
  // Results the server has not acknowledged yet, from before this stream.
  for (const auto& result : journal_.unacked_results()) {
    v1::AgentMessage again;
    *again.mutable_task_update() = result;
    write(again);
  }
  // Reader: tasks and cancels from the server; the stream's end wakes the heartbeat loop.
  std::atomic<bool> broken{false};
  std::thread reader([&] {
    v1::ServerMessage m;
    while (stream->Read(&m)) {
      if (m.has_task()) {
        on_task(m.task());
      } else if (m.has_cancel()) {
        on_cancel(m.cancel());
      } else if (m.has_result_ack()) {
        if (Status s = journal_.record_acked(m.result_ack().task_id()); !s.ok()) {
          spdlog::warn("task {}: cannot journal the server's receipt: {}",
                       m.result_ack().task_id(), s.message());
        }
      }
    }
    broken = true;
    std::lock_guard lock(mu_);
    cv_.notify_all();
  });

  // Heartbeats, the first one at once (so the server sees load right after Welcome).
  while (!broken) {
    v1::AgentMessage beat;
    *beat.mutable_heartbeat() = sampler_.sample();
    for (auto& service : runtimes_.running()) {
      *beat.mutable_heartbeat()->add_services() = std::move(service);
    }
    if (!write(beat)) break;
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, interval, [&] { return stopping_ || broken.load(); });
    if (stopping_) break;
  }
  {
    std::lock_guard lock(stream_mu_);
    live_ = nullptr;
    stream->WritesDone();
  }
  context.TryCancel();  // the reader may be blocked in Read
  reader.join();
  const grpc::Status status = stream->Finish();
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    spdlog::warn("the stream to axion-server ended: {}", status.error_message());
  }
  return ok_status();
}

}  // namespace axion::agent
