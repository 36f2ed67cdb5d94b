// Agent tasks end to end, against a real axion-server: AgentTaskService queues a task on
// axion.agent.tasks.v1, the relay delivers it on the agent's stream (again after a reconnect,
// with its cancel), results are recorded once and acknowledged, output lines reach watchers,
// bad input is refused, and a real axion-agent answers a task it has no runtime for with a
// clear FAILED.
#include "tests/e2e/agent_task_fixture.h"

namespace axion::testing {
namespace {

using AgentTaskRelayE2E = AgentTaskE2E;

TEST_F(AgentTaskRelayE2E, AQueuedTaskReachesTheAgentAndItsResultIsRecordedOnce) {
  auto agent = connect(mint_token());
  v1::SubmitAgentTaskResponse first;
  ASSERT_TRUE(submit(start_task("t-1"), &first).ok());
  EXPECT_FALSE(first.duplicate());
  v1::ServerMessage m;
  ASSERT_TRUE(agent->next(&m));
  ASSERT_TRUE(m.has_task()) << m.DebugString();
  EXPECT_EQ(m.task().task_id(), "t-1");
  EXPECT_EQ(m.task().spec().process().argv(0), "/bin/true");
  agent->send(ack("t-1"));

  // The same task again is a duplicate; other content under its id is refused.
  v1::SubmitAgentTaskResponse again;
  ASSERT_TRUE(submit(start_task("t-1"), &again).ok());
  EXPECT_TRUE(again.duplicate());
  const auto clash = submit(start_task("t-1", "web-2"));
  EXPECT_EQ(clash.error_code(), grpc::StatusCode::ALREADY_EXISTS) << clash.error_message();

  agent->send(report("t-1", v1::TASK_STATE_RUNNING));
  agent->send(report("t-1", v1::TASK_STATE_SUCCEEDED));
  ASSERT_TRUE(agent->next(&m));
  ASSERT_TRUE(m.has_result_ack()) << m.DebugString();
  EXPECT_EQ(m.result_ack().task_id(), "t-1");
  // A result resent (its acknowledgement "lost") is acknowledged again, not recorded again.
  agent->send(report("t-1", v1::TASK_STATE_FAILED));
  ASSERT_TRUE(agent->next(&m));
  ASSERT_TRUE(m.has_result_ack());
  const auto status = get("t-1");
  EXPECT_TRUE(status.terminal());
  EXPECT_EQ(status.last_update().state(), v1::TASK_STATE_SUCCEEDED);
  EXPECT_FALSE(status.agent_id().empty());
  EXPECT_EQ(metric("axion_agent_task_results_total"), "1");
  EXPECT_EQ(metric("axion_agent_task_results_repeated_total"), "1");
  agent->close();

  // The result outlives a restart of the server: the topic is folded again at start.
  server_.reset();
  server_ = std::make_unique<ServerProcess>(server_env_);
  httplib::Client http("127.0.0.1", http_port_);
  ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server_->log();
  EXPECT_TRUE(eventually([&] { return get("t-1").last_update().state() ==
                                      v1::TASK_STATE_SUCCEEDED; }));
  v1::SubmitAgentTaskResponse after;
  ASSERT_TRUE(submit(start_task("t-1"), &after).ok());
  EXPECT_TRUE(after.duplicate());
}

TEST_F(AgentTaskRelayE2E, OutputLinesReachWatchersAndGetButOnlyForTheAgentsOwnTasks) {
  auto agent = connect(mint_token());
  ASSERT_TRUE(submit(start_task("t-log")).ok());
  v1::ServerMessage m;
  ASSERT_TRUE(agent->next(&m) && m.has_task());
  agent->send(ack("t-log"));
  agent->send(report("t-log", v1::TASK_STATE_RUNNING));
  ASSERT_TRUE(eventually([&] {
    return get("t-log").last_update().state() == v1::TASK_STATE_RUNNING;
  }));

  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + kApiToken);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GetAgentTaskRequest req;
  req.set_task_id("t-log");
  auto watch = tasks_->WatchAgentTask(&ctx, req);
  v1::AgentTaskStatus seen;
  ASSERT_TRUE(watch->Read(&seen));  // the current status first
  EXPECT_EQ(seen.log_lines_size(), 0);

  const auto line = [](const std::string& task_id, const std::string& text) {
    v1::AgentMessage msg;
    msg.mutable_log_line()->set_task_id(task_id);
    msg.mutable_log_line()->set_service("web");
    msg.mutable_log_line()->set_stream(v1::LOG_STREAM_STDERR);
    msg.mutable_log_line()->set_line(text);
    return msg;
  };
  agent->send(line("t-log", "starting"));
  agent->send(line("t-elsewhere", "not a task of this server"));  // unknown: dropped
  agent->send(line("t-log", "ready"));
  ASSERT_TRUE(watch->Read(&seen));
  ASSERT_EQ(seen.log_lines_size(), 1);  // each message carries what is new
  EXPECT_EQ(seen.log_lines(0).line(), "starting");
  ASSERT_TRUE(watch->Read(&seen));
  ASSERT_EQ(seen.log_lines_size(), 1);
  EXPECT_EQ(seen.log_lines(0).line(), "ready");

  const auto status = get("t-log");  // the lines kept, in order
  ASSERT_EQ(status.log_lines_size(), 2);
  EXPECT_EQ(status.log_lines(0).line(), "starting");
  EXPECT_EQ(status.log_lines(1).line(), "ready");
  EXPECT_EQ(status.log_lines(1).stream(), v1::LOG_STREAM_STDERR);
  EXPECT_EQ(metric("axion_agent_task_log_lines_total"), "2");

  agent->send(report("t-log", v1::TASK_STATE_SUCCEEDED));
  while (watch->Read(&seen)) {
  }
  EXPECT_TRUE(watch->Finish().ok());
  EXPECT_TRUE(seen.terminal());
  agent->close();
}

TEST_F(AgentTaskRelayE2E, AnUnfinishedTaskIsDeliveredAgainOnReconnectAndItsCancelFollows) {
  auto agent = connect(mint_token());
  const std::string agent_id = agent->welcome.agent_id();
  const std::string credential = agent->welcome.credential();
  ASSERT_TRUE(submit(start_task("t-2")).ok());
  v1::ServerMessage m;
  ASSERT_TRUE(agent->next(&m));
  ASSERT_TRUE(m.has_task());
  agent->send(ack("t-2"));
  agent->close();

  // While the agent is away the task is cancelled; on reconnect it gets the task and the cancel.
  ASSERT_TRUE(cancel("t-2").ok());
  EXPECT_TRUE(get("t-2").cancel_requested());
  auto back = connect(credential, agent_id);
  ASSERT_TRUE(back->next(&m));
  ASSERT_TRUE(m.has_task()) << m.DebugString();
  EXPECT_EQ(m.task().task_id(), "t-2");
  ASSERT_TRUE(back->next(&m));
  ASSERT_TRUE(m.has_cancel()) << m.DebugString();
  EXPECT_EQ(m.cancel().task_id(), "t-2");
  EXPECT_EQ(m.cancel().reason(), "test cancels it");
  back->send(report("t-2", v1::TASK_STATE_CANCELLED));
  ASSERT_TRUE(back->next(&m));
  EXPECT_TRUE(m.has_result_ack());
  EXPECT_EQ(get("t-2").last_update().state(), v1::TASK_STATE_CANCELLED);
  EXPECT_EQ(cancel("t-2").error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  back->close();
}

TEST_F(AgentTaskRelayE2E, BadTasksAndCallsAreRefusedWithTheirReason) {
  auto empty_id = start_task("");
  auto s = submit(empty_id);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  auto no_argv = start_task("t-3");
  no_argv.mutable_task()->mutable_spec()->mutable_process()->clear_argv();
  s = submit(no_argv);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(s.error_message(), ::testing::HasSubstr("argv"));
  for (const std::string hostile : {"a;rm -rf /", "$(x)", "web\n1", "../etc"}) {
    s = submit(start_task("t-4", hostile));
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << hostile;
    EXPECT_THAT(s.error_message(), ::testing::HasSubstr("instance_id"));
  }
  auto elsewhere = start_task("t-5");
  elsewhere.set_server_id("srv-does-not-exist");
  EXPECT_EQ(submit(elsewhere).error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status got;
  get("never-queued", &got);
  EXPECT_EQ(got.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(cancel("never-queued").error_code(), grpc::StatusCode::NOT_FOUND);
  // Without an API token.
  grpc::ClientContext ctx;
  v1::SubmitAgentTaskRequest req;
  *req.mutable_task() = start_task("t-6");
  v1::SubmitAgentTaskResponse resp;
  EXPECT_EQ(tasks_->SubmitAgentTask(&ctx, req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  // Nothing of it was queued.
  get("t-3", &got);
  EXPECT_EQ(got.error_code(), grpc::StatusCode::NOT_FOUND);
  get("t-6", &got);
  EXPECT_EQ(got.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AgentTaskRelayE2E, ARealAgentAnswersATaskForARuntimeItLacksAndWatchersSeeTheEnd) {
  const std::string dir = scratch_dir("agent-task-agent");
  const std::string token_file = dir + "/token";
  std::ofstream(token_file) << mint_token();
  // No Docker engine answers at this address, so the agent lacks the compose runtime.
  AgentProcess agent(agent_args(dir + "/state", token_file),
                     {"DOCKER_HOST=unix://" + dir + "/no-docker.sock"});
  ASSERT_TRUE(eventually([&] { return status().connected(); })) << agent.log();

  v1::AgentTask compose;
  compose.set_server_id(server_id_);
  compose.mutable_task()->set_task_id("t-compose");
  compose.mutable_task()->set_kind(v1::TASK_KIND_APPLY_COMPOSE);
  compose.mutable_task()->mutable_spec()->set_compose_project("shop");
  compose.mutable_task()->mutable_spec()->set_compose_yaml("services: {}\n");
  // A watcher started before the task exists is refused; one started after sees the end.
  ASSERT_TRUE(submit(compose).ok());
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", "Bearer " + kApiToken);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GetAgentTaskRequest req;
  req.set_task_id("t-compose");
  auto watch = tasks_->WatchAgentTask(&ctx, req);
  v1::AgentTaskStatus seen;
  v1::AgentTaskStatus last;
  while (watch->Read(&seen)) last = seen;
  EXPECT_TRUE(watch->Finish().ok());
  EXPECT_TRUE(last.terminal());
  EXPECT_EQ(last.last_update().state(), v1::TASK_STATE_FAILED);
  EXPECT_THAT(last.last_update().detail(), ::testing::HasSubstr("not available"));
  // The agent journaled it: its result was acknowledged, and a redelivery would not run it.
  EXPECT_TRUE(eventually([&] { return metric("axion_agent_task_results_total") == "1"; }));
}

}  // namespace
}  // namespace axion::testing
