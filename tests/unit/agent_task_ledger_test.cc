// The agent task ledger: the fold every axion-server applies to axion.agent.tasks.v1.
#include "commands/agent_task_ledger.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace axion::commands {
namespace {

namespace v1 = axion::v1;

v1::AgentTask task(const std::string& id, const std::string& server = "srv-1",
                   const std::string& instance = "web-1") {
  v1::AgentTask t;
  t.set_server_id(server);
  t.mutable_task()->set_task_id(id);
  t.mutable_task()->set_kind(v1::TASK_KIND_START_SERVICE);
  auto* p = t.mutable_task()->mutable_spec()->mutable_process();
  p->set_instance_id(instance);
  p->add_argv("/usr/bin/web");
  return t;
}

v1::AgentTaskResult result(const std::string& id, v1::TaskState state) {
  v1::AgentTaskResult r;
  r.set_server_id("srv-1");
  r.set_agent_id("agent-1");
  r.mutable_update()->set_task_id(id);
  r.mutable_update()->set_state(state);
  return r;
}

TEST(AgentTaskLedger, TheFirstTaskUnderAnIdWinsAndASameSubmitIsADuplicate) {
  AgentTaskLedger ledger;
  EXPECT_EQ(ledger.apply_task(task("t1")), AgentTaskLedger::Change::kNewTask);
  EXPECT_EQ(ledger.apply_task(task("t1", "srv-1", "other")), AgentTaskLedger::Change::kNone);
  EXPECT_EQ(ledger.find("t1")->task.task().spec().process().instance_id(), "web-1");
  bool duplicate = false;
  EXPECT_TRUE(ledger.check_submit(task("t1"), &duplicate).ok());
  EXPECT_TRUE(duplicate);
  EXPECT_EQ(ledger.check_submit(task("t1", "srv-1", "other"), &duplicate).code(),
            StatusCode::kAlreadyExists);
  EXPECT_TRUE(ledger.check_submit(task("t2"), &duplicate).ok());
  EXPECT_FALSE(duplicate);
}

TEST(AgentTaskLedger, TheFirstTerminalResultWinsAndClosesTheTask) {
  AgentTaskLedger ledger;
  ledger.apply_task(task("t1"));
  ledger.apply_task(task("t2"));
  EXPECT_EQ(ledger.open_tasks("srv-1").size(), 2u);
  EXPECT_EQ(ledger.apply_result(result("t1", v1::TASK_STATE_RUNNING), 10),
            AgentTaskLedger::Change::kNewUpdate);
  EXPECT_EQ(ledger.apply_result(result("t1", v1::TASK_STATE_SUCCEEDED), 20),
            AgentTaskLedger::Change::kNewTerminal);
  EXPECT_EQ(ledger.apply_result(result("t1", v1::TASK_STATE_FAILED), 30),
            AgentTaskLedger::Change::kNone);
  EXPECT_EQ(ledger.apply_result(result("t1", v1::TASK_STATE_RUNNING), 40),
            AgentTaskLedger::Change::kNone);
  EXPECT_EQ(ledger.find("t1")->last.state(), v1::TASK_STATE_SUCCEEDED);
  ASSERT_EQ(ledger.open_tasks("srv-1").size(), 1u);
  EXPECT_EQ(ledger.open_tasks("srv-1")[0]->task.task().task_id(), "t2");
  bool duplicate = false;
  EXPECT_EQ(ledger.check_cancel("t1", &duplicate).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(ledger.check_cancel("nope", &duplicate).code(), StatusCode::kNotFound);
}

TEST(AgentTaskLedger, AResultBeforeItsTaskIsKeptAndTheTaskArrivesClosed) {
  AgentTaskLedger ledger;
  ledger.apply_result(result("t1", v1::TASK_STATE_FAILED), 5);
  EXPECT_EQ(ledger.find("t1"), nullptr);  // no task yet
  ledger.apply_task(task("t1"));
  ASSERT_NE(ledger.find("t1"), nullptr);
  EXPECT_TRUE(ledger.find("t1")->terminal());
  EXPECT_TRUE(ledger.open_tasks("srv-1").empty());
}

TEST(AgentTaskLedger, CancelsAreRecordedOnceAndFinishedTasksExpireAfterTheTtl) {
  AgentTaskLedger ledger;
  ledger.apply_task(task("t1"));
  v1::AgentTaskCancel cancel;
  cancel.set_server_id("srv-1");
  cancel.set_task_id("t1");
  EXPECT_EQ(ledger.apply_cancel(cancel), AgentTaskLedger::Change::kNewCancel);
  EXPECT_EQ(ledger.apply_cancel(cancel), AgentTaskLedger::Change::kNone);
  bool duplicate = false;
  EXPECT_TRUE(ledger.check_cancel("t1", &duplicate).ok());
  EXPECT_TRUE(duplicate);
  ledger.apply_result(result("t1", v1::TASK_STATE_CANCELLED), 1000);
  EXPECT_EQ(ledger.expire(1500, 1000), 0u);
  EXPECT_EQ(ledger.expire(2500, 1000), 1u);
  EXPECT_EQ(ledger.find("t1"), nullptr);
}

TEST(AgentTaskChecks, RefuseWhatNoAgentCouldRunNamingTheField) {
  EXPECT_TRUE(check_agent_task(task("t1")).ok());
  auto bad = task("t1", "srv-1", "a;rm -rf /");
  EXPECT_EQ(check_agent_task(bad).field(), "task.spec.process.instance_id");
  bad = task("t1");
  bad.mutable_task()->mutable_spec()->mutable_process()->clear_argv();
  EXPECT_EQ(check_agent_task(bad).field(), "task.spec.process.argv");
  bad = task("t1");
  (*bad.mutable_task()->mutable_spec()->mutable_process()->mutable_env())["1BAD"] = "x";
  EXPECT_EQ(check_agent_task(bad).field(), "task.spec.process.env");
  bad = task("");
  EXPECT_EQ(check_agent_task(bad).code(), StatusCode::kInvalidArgument);
  bad = task("t1");
  bad.mutable_task()->set_kind(v1::TASK_KIND_APPLY_COMPOSE);
  bad.mutable_task()->mutable_spec()->set_compose_project("Shop$");
  EXPECT_EQ(check_agent_task(bad).field(), "task.spec.compose_project");
  bad = task("t1");
  bad.mutable_task()->set_kind(v1::TASK_KIND_SWITCH_TRAFFIC);
  bad.mutable_task()->mutable_spec()->mutable_proxy()->set_service("web");
  bad.mutable_task()->mutable_spec()->mutable_proxy()->set_listen_port(70000);
  EXPECT_EQ(check_agent_task(bad).field(), "task.spec.proxy.listen_port");
  bad = task("t1");
  bad.mutable_task()->set_kind(v1::TASK_KIND_PREPARE_INFRA);
  EXPECT_EQ(check_agent_task(bad).field(), "task.spec.prepare.services");  // names none
  bad.mutable_task()->mutable_spec()->mutable_prepare()->add_services()->set_service("a b");
  EXPECT_EQ(check_agent_task(bad).field(), "task.spec.prepare.services.service");
  bad.mutable_task()->mutable_spec()->mutable_prepare()->mutable_services(0)->set_service("web");
  EXPECT_TRUE(check_agent_task(bad).ok());
  bad = task("t1");
  bad.mutable_task()->set_kind(v1::TASK_KIND_REPORT_TRAFFIC);
  bad.mutable_task()->mutable_spec()->mutable_proxy()->set_service("web");
  EXPECT_EQ(check_agent_task(bad).field(), "task.spec.proxy.backends");
  bad.mutable_task()->mutable_spec()->mutable_proxy()->add_backends()->set_instance_id("$(x)");
  EXPECT_EQ(check_agent_task(bad).field(), "task.spec.proxy.backends.instance_id");
  bad = task("t1");
  bad.mutable_task()->set_kind(v1::TASK_KIND_UNSPECIFIED);
  EXPECT_EQ(check_agent_task(bad).field(), "task.task.kind");
}

}  // namespace
}  // namespace axion::commands
