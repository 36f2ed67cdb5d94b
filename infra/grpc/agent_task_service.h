// AgentTaskService over gRPC: queue tasks for agents, cancel them, read and watch their
// results (the AgentTaskRelay does the work). Callers authenticate with an API token; the
// token's actor is recorded on the task and cancel records.
#pragma once

#include <grpcpp/grpcpp.h>

#include "axion/v1/agent.grpc.pb.h"
#include "infra/grpc/agent_task_relay.h"
#include "infra/grpc/command_gateway.h"

namespace axion::infra::gateway {

class AgentTaskServiceImpl final : public axion::v1::AgentTaskService::CallbackService {
 public:
  // REQUIRES: `gateway` (authentication) and `relay` outlive the service.
  AgentTaskServiceImpl(const CommandGateway& gateway, AgentTaskRelay& relay)
      : gateway_(gateway), relay_(relay) {}

  ::grpc::ServerUnaryReactor* SubmitAgentTask(
      ::grpc::CallbackServerContext* context, const axion::v1::SubmitAgentTaskRequest* request,
      axion::v1::SubmitAgentTaskResponse* response) override;
  ::grpc::ServerUnaryReactor* CancelAgentTask(
      ::grpc::CallbackServerContext* context, const axion::v1::CancelAgentTaskRequest* request,
      axion::v1::CancelAgentTaskResponse* response) override;
  ::grpc::ServerUnaryReactor* GetAgentTask(::grpc::CallbackServerContext* context,
                                           const axion::v1::GetAgentTaskRequest* request,
                                           axion::v1::AgentTaskStatus* response) override;
  ::grpc::ServerWriteReactor<axion::v1::AgentTaskStatus>* WatchAgentTask(
      ::grpc::CallbackServerContext* context,
      const axion::v1::GetAgentTaskRequest* request) override;

 private:
  const CommandGateway& gateway_;
  AgentTaskRelay& relay_;
};

}  // namespace axion::infra::gateway
