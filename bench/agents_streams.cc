// The simulated agents and the bare baseline server of agents_bench (see agents_streams.h).
#include "bench/agents_streams.h"

#include <algorithm>
#include <cstdio>

namespace axion::bench {

AgentStream::AgentStream(AgentFleet& fleet, std::size_t index, v1::AgentService::Stub& stub,
                         const AgentIdentity& who)
    : fleet_(fleet), index_(index) {
  auto* hello = out_.mutable_hello();
  hello->set_server_id(who.server_id);
  hello->set_cluster_id(who.cluster_id);
  hello->set_token(who.token);
  hello->set_version("agents-bench");
  hello->add_runtimes("process");
  stub.async()->Connect(&ctx_, this);
  AddHold();
  StartWrite(&out_);
  StartRead(&in_);
  StartCall();
}

bool AgentStream::beat() {
  std::lock_guard lock(mu_);
  if (!live_ || writing_.exchange(true)) return false;
  out_.Clear();
  auto* hb = out_.mutable_heartbeat();
  hb->set_cpu_percent(12.5);
  hb->set_memory_used_mb(2048);
  hb->set_memory_total_mb(8192);
  hb->set_disk_used_mb(10240);
  hb->set_disk_total_mb(102400);
  StartWrite(&out_);
  return true;
}

void AgentStream::OnReadDone(bool ok) {
  if (ok) {
    if (in_.has_welcome() && !welcomed_) {
      welcomed_ = true;
      fleet_.on_welcome(index_);
    }
    StartRead(&in_);
    return;
  }
  {
    std::lock_guard lock(mu_);
    live_ = false;
  }
  RemoveHold();
}

void AgentStream::OnDone(const grpc::Status& status) {
  fleet_.on_done(index_, status, welcomed_);
  done_.store(true);
}

AgentFleet::AgentFleet(const std::string& address, int channels,
                       std::chrono::milliseconds heartbeat, int connect_per_second)
    : heartbeat_(heartbeat), connect_per_second_(connect_per_second) {
  for (int c = 0; c < channels; ++c) {
    grpc::ChannelArguments args;
    // Distinct arguments and a local subchannel pool: one TCP connection per channel, so the
    // streams spread over `channels` connections instead of queueing on one.
    args.SetInt("axion.bench.agent_channel", c);
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    channels_.push_back(
        grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
    stubs_.push_back(v1::AgentService::NewStub(channels_.back()));
  }
}

void AgentFleet::connect(std::vector<AgentIdentity> agents) {
  agents_.reserve(agents.size());
  for (auto& who : agents) {
    auto a = std::make_unique<Agent>();
    a->who = std::move(who);
    agents_.push_back(std::move(a));
  }
  ticker_ = std::thread([this] { tick_loop(); });
}

void AgentFleet::open(std::size_t index) {
  Agent& a = *agents_[index];
  if (a.stream) a.ended.push_back(std::move(a.stream));
  ++a.tries;
  a.stream = std::make_unique<AgentStream>(*this, index, *stubs_[index % stubs_.size()], a.who);
}

void AgentFleet::on_welcome(std::size_t index) {
  std::uniform_int_distribution<std::int64_t> phase(0,
                                                    std::chrono::nanoseconds(heartbeat_).count());
  std::int64_t offset = 0;
  {
    std::lock_guard lock(mu_);
    offset = phase(rng_);
  }
  agents_[index]->next_beat_ns.store(now_ns() + offset);
  welcomed_.fetch_add(1);
}

void AgentFleet::on_done(std::size_t index, const grpc::Status& status, bool welcomed) {
  Agent& a = *agents_[index];
  a.next_beat_ns.store(0);
  if (stopping_.load()) return;
  {
    std::lock_guard lock(mu_);
    if (first_error_.empty() && !status.ok()) {
      first_error_ =
          std::to_string(static_cast<int>(status.error_code())) + " " + status.error_message();
    }
  }
  if (welcomed) {
    dropped_.fetch_add(1);
  } else if (a.tries < 5) {
    a.retry_at_ns.store(now_ns() + std::chrono::nanoseconds(std::chrono::seconds(1)).count());
  } else {
    refused_.fetch_add(1);
  }
}

void AgentFleet::tick_loop() {
  constexpr auto kTick = std::chrono::milliseconds(50);
  const auto per_tick =
      std::max<std::size_t>(1, static_cast<std::size_t>(connect_per_second_) / 20);
  const auto beat_ns = std::chrono::nanoseconds(heartbeat_).count();
  std::size_t opened = 0;
  while (!stopping_.load()) {
    const auto tick_start = SteadyClock::now();
    for (std::size_t n = 0; n < per_tick && opened < agents_.size(); ++n) open(opened++);
    const std::int64_t now = now_ns();
    for (std::size_t i = 0; i < opened; ++i) {
      Agent& a = *agents_[i];
      const std::int64_t due = a.next_beat_ns.load(std::memory_order_relaxed);
      if (due > 0 && due <= now) {
        if (a.stream->beat()) {
          beats_.fetch_add(1, std::memory_order_relaxed);
        } else {
          skipped_.fetch_add(1, std::memory_order_relaxed);
        }
        // The next beat one interval later; if we fell behind, from now (no burst to catch up).
        std::int64_t expected = due;  // unless the stream ended meanwhile (then it is 0)
        a.next_beat_ns.compare_exchange_strong(expected,
                                               std::max(due + beat_ns, now + beat_ns / 2));
      }
      const std::int64_t retry = a.retry_at_ns.load(std::memory_order_relaxed);
      if (retry > 0 && retry <= now && a.stream->done()) {
        a.retry_at_ns.store(0);
        open(i);
      }
    }
    std::this_thread::sleep_until(tick_start + kTick);
  }
}

void AgentFleet::stop() {
  if (stopping_.exchange(true)) return;
  if (ticker_.joinable()) ticker_.join();
  for (auto& a : agents_) {
    if (a->stream) a->stream->cancel();
  }
  const auto deadline = SteadyClock::now() + std::chrono::seconds(60);
  for (auto& a : agents_) {
    while (a->stream && !a->stream->done() && SteadyClock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
}

namespace {

// One stream of the bare server: Welcome after the Hello, then reads until the client leaves.
class BareStream final : public grpc::ServerBidiReactor<v1::AgentMessage, v1::ServerMessage> {
 public:
  BareStream() { StartRead(&in_); }
  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status::OK);
      return;
    }
    if (in_.has_hello() && !welcomed_) {
      welcomed_ = true;
      out_.mutable_welcome()->set_agent_id("agent-" + in_.hello().server_id());
      out_.mutable_welcome()->set_server_id(in_.hello().server_id());
      out_.mutable_welcome()->mutable_heartbeat_interval()->set_seconds(5);
      StartWrite(&out_);
    }
    StartRead(&in_);
  }
  void OnWriteDone(bool) override {}
  void OnDone() override { delete this; }

 private:
  v1::AgentMessage in_;
  v1::ServerMessage out_;
  bool welcomed_ = false;
};

}  // namespace

grpc::ServerBidiReactor<v1::AgentMessage, v1::ServerMessage>* BareAgentService::Connect(
    grpc::CallbackServerContext*) {
  return new BareStream();
}

int serve_bare(int port) {
  BareAgentService service;
  grpc::ServerBuilder builder;
  int bound = 0;
  builder.AddListeningPort("127.0.0.1:" + std::to_string(port), grpc::InsecureServerCredentials(),
                           &bound);
  builder.RegisterService(&service);
  auto server = builder.BuildAndStart();
  if (!server || bound == 0) {
    std::fprintf(stderr, "agents_bench: the bare server cannot listen on 127.0.0.1:%d\n", port);
    return 1;
  }
  server->Wait();  // until the parent kills this process
  return 0;
}

}  // namespace axion::bench
