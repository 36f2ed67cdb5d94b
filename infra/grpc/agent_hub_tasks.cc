// AgentHub's part in task delivery: which streams it holds, writing to them, and passing the
// agents' TaskAck, TaskUpdate and LogLine messages to the relay (AgentHubListener).
#include "infra/grpc/agent_hub.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;

void AgentHub::task_message(const std::string& session_id, const v1::AgentMessage& message) {
  std::string server_id, agent_id;
  {
    std::lock_guard lock(mu_);
    const auto it = sessions_.find(session_id);
    if (it == sessions_.end() || !it->second.admitted) return;
    // Reports from a replaced stream still count: the task ran, its result must not be lost.
    server_id = it->second.server_id;
    agent_id = it->second.agent_id;
    it->second.last_sign = Clock::now();  // a busy agent is a live one
  }
  if (!listener_) return;
  if (message.has_task_ack()) {
    listener_->task_ack(server_id, message.task_ack());
  } else if (message.has_task_update()) {
    listener_->task_update(server_id, agent_id, message.task_update());
  } else if (message.has_log_line()) {
    listener_->task_log(server_id, message.log_line());
  }
}

bool AgentHub::holds(const std::string& server_id) const {
  std::lock_guard lock(mu_);
  const auto c = current_.find(server_id);
  if (c == current_.end()) return false;
  const auto s = sessions_.find(c->second);
  return s != sessions_.end() && s->second.admitted && s->second.close_reason.empty();
}

bool AgentHub::send(const std::string& server_id, const v1::ServerMessage& message) {
  std::shared_ptr<StreamHandle> handle;
  {
    std::lock_guard lock(mu_);
    const auto c = current_.find(server_id);
    if (c == current_.end()) return false;
    const auto s = sessions_.find(c->second);
    if (s == sessions_.end() || !s->second.admitted || !s->second.close_reason.empty()) {
      return false;
    }
    handle = s->second.handle;
  }
  handle->write(message);
  return true;
}

}  // namespace axion::infra::gateway
