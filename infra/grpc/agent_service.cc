#include "infra/grpc/agent_service.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <deque>
#include <mutex>

#include "infra/grpc/command_gateway.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;
using google::protobuf::util::TimeUtil;

namespace {

class AgentStream;

// The hub's way into a stream; detached when the stream is done, so later calls are no-ops.
// Recursive: a reactor method holding it may call into the hub, which may answer inline.
struct Handle final : StreamHandle {
  std::recursive_mutex mu;
  AgentStream* stream = nullptr;
  void write(const v1::ServerMessage& message) override;
  void close(const Status& status) override;
  void admitted(Result<AgentHub::Admission> admission);
};

class AgentStream final : public ::grpc::ServerBidiReactor<v1::AgentMessage, v1::ServerMessage> {
 public:
  explicit AgentStream(AgentHub& hub) : hub_(hub), handle_(std::make_shared<Handle>()) {
    std::lock_guard lock(handle_->mu);
    handle_->stream = this;
    session_ = hub_.open(handle_);
    if (!finished_) StartRead(&in_);
  }

  // All below run with handle_->mu held.
  void enqueue_write(const v1::ServerMessage& message) {
    if (finished_) return;
    out_.push_back(message);
    if (!writing_) {
      writing_ = true;
      StartWrite(&out_.front());
    }
  }

  void finish(const ::grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  void on_admitted(Result<AgentHub::Admission> admission) {
    if (finished_) return;
    if (!admission.ok()) return finish(to_grpc(admission.status()));
    admitted_ = true;
    v1::ServerMessage welcome;
    auto* w = welcome.mutable_welcome();
    w->set_agent_id(admission->agent_id);
    w->set_credential(admission->credential);
    w->set_server_id(admission->server_id);
    w->set_cluster_id(admission->cluster_id);
    *w->mutable_heartbeat_interval() =
        TimeUtil::MillisecondsToDuration(hub_.options().heartbeat_interval.count());
    enqueue_write(welcome);
    StartRead(&in_);
  }

  void OnReadDone(bool ok) override {
    std::unique_lock lock(handle_->mu);
    if (!ok) return finish(::grpc::Status::OK);  // the agent closed its side, or the link broke
    if (!hello_seen_ && !in_.has_hello()) {
      return finish({::grpc::StatusCode::INVALID_ARGUMENT,
                     "the first message on an agent stream must be a Hello"});
    }
    switch (in_.msg_case()) {
      case v1::AgentMessage::kHello: {
        if (hello_seen_) {
          return finish({::grpc::StatusCode::INVALID_ARGUMENT, "a stream sends one Hello"});
        }
        hello_seen_ = true;
        const v1::AgentHello hello = in_.hello();
        lock.unlock();
        // No read until the hub answers: nothing else is processed before the Welcome.
        hub_.hello(session_, hello, [handle = handle_](Result<AgentHub::Admission> admission) {
          handle->admitted(std::move(admission));
        });
        return;
      }
      case v1::AgentMessage::kHeartbeat:
        hub_.heartbeat(session_, in_.heartbeat());
        break;
      case v1::AgentMessage::kTaskUpdate:
      case v1::AgentMessage::kTaskAck:
      case v1::AgentMessage::kLogLine:
        hub_.task_message(session_, in_);
        break;
      default:
        break;
    }
    StartRead(&in_);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(handle_->mu);
    out_.pop_front();
    if (ok && !finished_ && !out_.empty()) {
      StartWrite(&out_.front());
    } else {
      writing_ = false;
    }
  }

  void OnCancel() override {
    std::lock_guard lock(handle_->mu);
    finish(::grpc::Status::CANCELLED);
  }

  void OnDone() override {
    {
      std::lock_guard lock(handle_->mu);
      handle_->stream = nullptr;
    }
    hub_.closed(session_);
    delete this;
  }

 private:
  AgentHub& hub_;
  std::shared_ptr<Handle> handle_;
  std::string session_;
  v1::AgentMessage in_;
  std::deque<v1::ServerMessage> out_;  // front() is being written while writing_
  bool writing_ = false;
  bool finished_ = false;
  bool hello_seen_ = false;
  bool admitted_ = false;
};

void Handle::write(const v1::ServerMessage& message) {
  std::lock_guard lock(mu);
  if (stream) stream->enqueue_write(message);
}

void Handle::close(const Status& status) {
  std::lock_guard lock(mu);
  if (stream) stream->finish(to_grpc(status));
}

void Handle::admitted(Result<AgentHub::Admission> admission) {
  std::lock_guard lock(mu);
  if (stream) stream->on_admitted(std::move(admission));
}

}  // namespace

::grpc::ServerBidiReactor<v1::AgentMessage, v1::ServerMessage>* AgentServiceImpl::Connect(
    ::grpc::CallbackServerContext*) {
  return new AgentStream(hub_);
}

}  // namespace axion::infra::gateway
