#include "infra/grpc/agent_task_service.h"

#include <deque>
#include <memory>
#include <mutex>

namespace axion::infra::gateway {

namespace v1 = axion::v1;

namespace {

// Runs `work(actor)` for an authenticated caller and finishes the unary call with its outcome.
template <typename Work>
::grpc::ServerUnaryReactor* unary(const CommandGateway& gateway,
                                  ::grpc::CallbackServerContext* context, Work work) {
  auto* reactor = context->DefaultReactor();
  auto call = gateway.begin(context, "");
  reactor->Finish(call.ok() ? to_grpc(work(call->actor)) : to_grpc(call.status()));
  return reactor;
}

// One WatchAgentTask stream: the current status, then every recorded change until a terminal
// one (then OK), the client's cancellation, or the server's stop.
class Watch final : public ::grpc::ServerWriteReactor<v1::AgentTaskStatus> {
 public:
  Watch(AgentTaskRelay& relay, const std::string& task_id) : relay_(relay) {
    state_->watch = this;  // no watcher exists yet: nothing else reads it
    auto self = state_;
    watcher_ = relay_.watch(task_id, [self](const v1::AgentTaskStatus& status) {
      std::lock_guard l(self->mu);
      if (self->watch) self->watch->push(status);
    });
    auto current = relay_.get(task_id);
    std::lock_guard lock(mu_);
    if (current.ok()) {
      push_locked(*current);
    } else {
      end(to_grpc(current.status()));
    }
  }

  void push(const v1::AgentTaskStatus& status) {
    std::lock_guard lock(mu_);
    push_locked(status);
  }

  void OnWriteDone(bool ok) override {
    std::lock_guard lock(mu_);
    writing_ = false;
    if (!ok) return end(::grpc::Status::CANCELLED);
    const bool last = out_.front().terminal();
    out_.pop_front();
    if (last) return end(::grpc::Status::OK);
    next_locked();
  }

  void OnCancel() override {
    std::lock_guard lock(mu_);
    end(::grpc::Status::CANCELLED);
  }

  void OnDone() override {
    relay_.unwatch(watcher_);
    {
      std::lock_guard lock(state_->mu);
      state_->watch = nullptr;
    }
    delete this;
  }

 private:
  struct Shared {
    std::mutex mu;
    Watch* watch = nullptr;
  };

  void push_locked(const v1::AgentTaskStatus& status) {
    if (finished_ || ended_input_) return;
    out_.push_back(status);
    if (status.terminal()) ended_input_ = true;
    next_locked();
  }
  void next_locked() {
    if (writing_ || finished_ || out_.empty()) return;
    writing_ = true;
    StartWrite(&out_.front());
  }
  void end(const ::grpc::Status& status) {
    if (finished_) return;
    finished_ = true;
    Finish(status);
  }

  AgentTaskRelay& relay_;
  std::shared_ptr<Shared> state_ = std::make_shared<Shared>();
  std::uint64_t watcher_ = 0;
  std::mutex mu_;
  std::deque<v1::AgentTaskStatus> out_;
  bool writing_ = false;
  bool finished_ = false;
  bool ended_input_ = false;  // a terminal status is queued: nothing follows it
};

}  // namespace

::grpc::ServerUnaryReactor* AgentTaskServiceImpl::SubmitAgentTask(
    ::grpc::CallbackServerContext* context, const v1::SubmitAgentTaskRequest* request,
    v1::SubmitAgentTaskResponse* response) {
  return unary(gateway_, context, [&](const std::string& actor) -> Status {
    auto answer = relay_.submit(request->task(), actor);
    if (!answer.ok()) return answer.status();
    *response = *answer;
    return ok_status();
  });
}

::grpc::ServerUnaryReactor* AgentTaskServiceImpl::CancelAgentTask(
    ::grpc::CallbackServerContext* context, const v1::CancelAgentTaskRequest* request,
    v1::CancelAgentTaskResponse* response) {
  return unary(gateway_, context, [&](const std::string& actor) -> Status {
    auto answer = relay_.cancel(request->task_id(), request->reason(), actor);
    if (!answer.ok()) return answer.status();
    *response = *answer;
    return ok_status();
  });
}

::grpc::ServerUnaryReactor* AgentTaskServiceImpl::GetAgentTask(
    ::grpc::CallbackServerContext* context, const v1::GetAgentTaskRequest* request,
    v1::AgentTaskStatus* response) {
  return unary(gateway_, context, [&](const std::string&) -> Status {
    auto answer = relay_.get(request->task_id());
    if (!answer.ok()) return answer.status();
    *response = *answer;
    return ok_status();
  });
}

::grpc::ServerWriteReactor<v1::AgentTaskStatus>* AgentTaskServiceImpl::WatchAgentTask(
    ::grpc::CallbackServerContext* context, const v1::GetAgentTaskRequest* request) {
  auto call = gateway_.begin(context, "");
  if (!call.ok()) {
    struct Refused final : ::grpc::ServerWriteReactor<v1::AgentTaskStatus> {
      explicit Refused(const ::grpc::Status& s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    return new Refused(to_grpc(call.status()));
  }
  return new Watch(relay_, request->task_id());
}

}  // namespace axion::infra::gateway
