// AgentService over gRPC: one callback-API bidi stream per agent (AgentService.Connect). The
// stream's reactor reads the Hello, hands it to the AgentHub and waits — reading nothing more —
// until the hub admits it (Welcome, with the credential when the agent just registered) or
// refuses it (the stream ends with the refusal: UNAUTHENTICATED, PERMISSION_DENIED, ...). Then
// heartbeats, task receipts (TaskAck) and task updates go to the hub, which passes the latter
// to the task relay (infra/grpc/agent_task_relay.h). The hub may end the stream (missed heartbeats, a newer connection, shutdown).
#pragma once

#include <grpcpp/grpcpp.h>

#include "axion/v1/agent.grpc.pb.h"
#include "infra/grpc/agent_hub.h"

namespace axion::infra::gateway {

class AgentServiceImpl final : public axion::v1::AgentService::CallbackService {
 public:
  // REQUIRES: `hub` outlives the service.
  explicit AgentServiceImpl(AgentHub& hub) : hub_(hub) {}

  ::grpc::ServerBidiReactor<axion::v1::AgentMessage, axion::v1::ServerMessage>* Connect(
      ::grpc::CallbackServerContext* context) override;

 private:
  AgentHub& hub_;
};

}  // namespace axion::infra::gateway
