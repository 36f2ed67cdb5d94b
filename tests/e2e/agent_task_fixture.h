// The agent task tests' fixture: AgentE2E plus an AgentTaskService client (submit, get,
// cancel, watch to the end), a test-driven agent stream, /metrics values and a real agent.
#pragma once

#include "tests/e2e/agent_fixture.h"

namespace axion::testing {

class AgentTaskE2E : public AgentE2E {
 protected:
  void SetUp() override {
    AgentE2E::SetUp();
    tasks_ = v1::AgentTaskService::NewStub(channel_);
  }

  v1::AgentTask start_task(const std::string& id, const std::string& instance = "web-1") {
    v1::AgentTask t;
    t.set_server_id(server_id_);
    t.mutable_task()->set_task_id(id);
    t.mutable_task()->set_kind(v1::TASK_KIND_START_SERVICE);
    t.mutable_task()->set_attempt(1);
    auto* p = t.mutable_task()->mutable_spec()->mutable_process();
    p->set_service("web");
    p->set_instance_id(instance);
    p->add_argv("/bin/true");
    return t;
  }

  grpc::Status submit(const v1::AgentTask& task, v1::SubmitAgentTaskResponse* out = nullptr) {
    v1::SubmitAgentTaskRequest req;
    *req.mutable_task() = task;
    v1::SubmitAgentTaskResponse resp;
    auto s = call([&](auto* c) { return tasks_->SubmitAgentTask(c, req, &resp); });
    if (out) *out = resp;
    return s;
  }

  v1::AgentTaskStatus get(const std::string& id, grpc::Status* status = nullptr) {
    v1::GetAgentTaskRequest req;
    req.set_task_id(id);
    v1::AgentTaskStatus resp;
    auto s = call([&](auto* c) { return tasks_->GetAgentTask(c, req, &resp); });
    if (status) *status = s;
    return resp;
  }

  grpc::Status cancel(const std::string& id) {
    v1::CancelAgentTaskRequest req;
    req.set_task_id(id);
    req.set_reason("test cancels it");
    v1::CancelAgentTaskResponse resp;
    return call([&](auto* c) { return tasks_->CancelAgentTask(c, req, &resp); });
  }

  // An agent stream driven by the test: Hello, then messages in both directions.
  struct Stream {
    grpc::ClientContext ctx;
    std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ServerMessage>> rw;
    v1::AgentWelcome welcome;
    bool send(const v1::AgentMessage& m) { return rw->Write(m); }
    // The next message that is not a Welcome; false if the stream ended.
    bool next(v1::ServerMessage* m) { return rw->Read(m); }
    void close() {
      rw->WritesDone();
      ctx.TryCancel();
      rw->Finish();
    }
  };
  std::unique_ptr<Stream> connect(const std::string& token, const std::string& agent_id = "") {
    auto s = std::make_unique<Stream>();
    s->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    s->rw = agents_->Connect(&s->ctx);
    v1::AgentMessage hello;
    hello.mutable_hello()->set_server_id(server_id_);
    hello.mutable_hello()->set_token(token);
    hello.mutable_hello()->set_agent_id(agent_id);
    hello.mutable_hello()->set_version("9.9.9");
    s->send(hello);
    v1::ServerMessage reply;
    EXPECT_TRUE(s->rw->Read(&reply) && reply.has_welcome());
    s->welcome = reply.welcome();
    return s;
  }

  static v1::AgentMessage report(const std::string& id, v1::TaskState state) {
    v1::AgentMessage m;
    m.mutable_task_update()->set_task_id(id);
    m.mutable_task_update()->set_state(state);
    m.mutable_task_update()->set_detail("reported by the test");
    return m;
  }
  static v1::AgentMessage ack(const std::string& id) {
    v1::AgentMessage m;
    m.mutable_task_ack()->set_task_id(id);
    return m;
  }

  std::string metric(const std::string& name) {
    httplib::Client http("127.0.0.1", http_port_);
    auto res = http.Get("/metrics");
    if (!res) return "";
    const auto at = res->body.find("\n" + name + " ");
    if (at == std::string::npos) return "";
    const auto start = at + name.size() + 2;
    return res->body.substr(start, res->body.find('\n', start) - start);
  }

  // Waits for the task's terminal status through WatchAgentTask (as a client would).
  v1::AgentTaskStatus wait_terminal(const std::string& id, int seconds = 60) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer " + kApiToken);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    v1::GetAgentTaskRequest req;
    req.set_task_id(id);
    auto watch = tasks_->WatchAgentTask(&ctx, req);
    v1::AgentTaskStatus seen, last;
    while (watch->Read(&seen)) last = seen;
    watch->Finish();
    return last;
  }

  // A real axion-agent for this fixture's server, registered with a fresh token.
  // `extra` are more flags, `env` ("NAME=value") set on top of the test's environment.
  std::unique_ptr<AgentProcess> start_agent(const std::string& dir,
                                            std::vector<std::string> extra = {},
                                            std::vector<std::string> env = {}) {
    if (!std::filesystem::exists(dir + "/token")) std::ofstream(dir + "/token") << mint_token();
    auto args = agent_args(dir + "/state", dir + "/token");
    args.insert(args.end(), extra.begin(), extra.end());
    auto agent = std::make_unique<AgentProcess>(args, std::move(env));
    EXPECT_TRUE(eventually([&] { return status().connected(); })) << agent->log();
    return agent;
  }

  std::unique_ptr<v1::AgentTaskService::Stub> tasks_;
};

}  // namespace axion::testing
