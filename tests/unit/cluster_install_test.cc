// Cluster aggregate, agent installs and removals: the installer's step records (system only,
// forward only, a repeat is a no-op, a failure ends the install, WAIT_REGISTRATION completes it
// only once the agent is ONLINE), CancelAgentInstall, UninstallAgent's request and its record,
// and that the fold of all of it equals replay.
#include <gtest/gtest.h>

#include "cluster_test_support.h"

namespace axion::commands::testing {
namespace {

v1::InstallAgent install(const std::string& server_id) {
  v1::InstallAgent c;
  c.set_server_id(server_id);
  return c;
}

v1::RecordAgentInstallStep report(
    const std::string& server_id, const std::string& install_id, v1::AgentInstallStep step,
    v1::InstallStepOutcome outcome = v1::INSTALL_STEP_OUTCOME_SUCCEEDED) {
  v1::RecordAgentInstallStep r;
  r.set_server_id(server_id);
  r.set_install_id(install_id);
  r.set_step(step);
  r.set_outcome(outcome);
  r.set_detail("done");
  return r;
}

v1::AgentRegistered registered(const std::string& server_id) {
  v1::AgentRegistered r;
  r.set_server_id(server_id);
  r.set_agent_id("agent-7");
  r.set_version("0.1.0");
  return r;
}

// A server with install "i1" running; `install_id` is set.
History installing(std::string* id, std::string* install_id) {
  History h = with_server(id);
  const Decision d = h.step(install(*id), ctx("i1"));
  *install_id = d.ids.at("install_id");
  return h;
}

TEST(RecordAgentInstallStep, StepsGoForwardAndRegistrationCompletesTheInstall) {
  std::string id, inst;
  History h = installing(&id, &inst);
  const auto sys = [](std::string key) { return ctx(std::move(key), "system"); };
  EXPECT_REFUSED(decide(h.state, report(id, inst, v1::AGENT_INSTALL_STEP_CONNECT), ctx()),
                 StatusCode::kPermissionDenied, "");
  const auto ev = only_event<v1::AgentInstallStepCompleted>(
      h.step(report(id, inst, v1::AGENT_INSTALL_STEP_CONNECT), sys("s1")));
  EXPECT_EQ(ev.detail(), "done");
  EXPECT_EQ(ev.cluster_id(), "c-12");
  // The same report again changes nothing; an earlier step is refused.
  const auto again = decide(h.state, report(id, inst, v1::AGENT_INSTALL_STEP_CONNECT), sys("s1b"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->events.empty());
  h.step(report(id, inst, v1::AGENT_INSTALL_STEP_UPLOAD_BINARY, v1::INSTALL_STEP_OUTCOME_SKIPPED),
         sys("s2"));
  EXPECT_REFUSED(decide(h.state, report(id, inst, v1::AGENT_INSTALL_STEP_CONNECT), sys("s3")),
                 StatusCode::kFailedPrecondition, "");
  EXPECT_REFUSED(
      decide(h.state, report(id, "inst-other", v1::AGENT_INSTALL_STEP_START_SERVICE), sys("s3")),
      StatusCode::kFailedPrecondition, "");
  auto bad = report(id, inst, v1::AGENT_INSTALL_STEP_UNSPECIFIED);
  EXPECT_REFUSED(decide(h.state, bad, sys("s4")), StatusCode::kInvalidArgument, "step");
  bad =
      report(id, inst, v1::AGENT_INSTALL_STEP_START_SERVICE, v1::INSTALL_STEP_OUTCOME_UNSPECIFIED);
  EXPECT_REFUSED(decide(h.state, bad, sys("s4")), StatusCode::kInvalidArgument, "outcome");
  bad = report(id, inst, v1::AGENT_INSTALL_STEP_START_SERVICE);
  bad.set_output(std::string(64 * 1024 + 1, 'x'));
  EXPECT_REFUSED(decide(h.state, bad, sys("s4")), StatusCode::kInvalidArgument, "output");

  h.step(report(id, inst, v1::AGENT_INSTALL_STEP_START_SERVICE), sys("s5"));
  // Registration is the agent's to prove: not before it is ONLINE.
  EXPECT_REFUSED(
      decide(h.state, report(id, inst, v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION), sys("s6")),
      StatusCode::kFailedPrecondition, "");
  h.step(registered(id), sys("reg"));
  const Decision done =
      h.step(report(id, inst, v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION), sys("s6"));
  ASSERT_EQ(done.events.size(), 2u);
  v1::AgentInstalled installed;
  ASSERT_TRUE(done.events[1].UnpackTo(&installed));
  EXPECT_EQ(installed.agent_id(), "agent-7");
  EXPECT_EQ(installed.agent_version(), "0.1.0");
  const ServerState& s = h.state.servers.at(id);
  EXPECT_FALSE(s.install.running);
  EXPECT_EQ(s.agent_status, v1::AGENT_STATUS_ONLINE);
  // A second install of what runs is a no-op answered with this install's id.
  const auto second = decide(h.state, install(id), ctx("i2"));
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->events.empty());
  EXPECT_EQ(second->ids.at("install_id"), inst);
  EXPECT_EQ(fold({}, h.events), h.state);
}

TEST(RecordAgentInstallStep, AFailedStepEndsTheInstallWithItsReasonAndOutput) {
  std::string id, inst;
  History h = installing(&id, &inst);
  auto failed =
      report(id, inst, v1::AGENT_INSTALL_STEP_CHECK_REQUIREMENTS, v1::INSTALL_STEP_OUTCOME_FAILED);
  failed.set_reason("the host is aarch64");
  failed.set_output("uname: aarch64");
  const Decision d = h.step(failed, ctx("f", "system"));
  ASSERT_EQ(d.events.size(), 2u);
  v1::AgentInstallFailed ev;
  ASSERT_TRUE(d.events[1].UnpackTo(&ev));
  EXPECT_EQ(ev.step(), v1::AGENT_INSTALL_STEP_CHECK_REQUIREMENTS);
  EXPECT_EQ(ev.reason(), "the host is aarch64");
  EXPECT_EQ(ev.output(), "uname: aarch64");
  EXPECT_FALSE(ev.cancelled());
  const ServerState& s = h.state.servers.at(id);
  EXPECT_EQ(s.agent_status, v1::AGENT_STATUS_FAILED);
  EXPECT_EQ(s.install.failed_step, v1::AGENT_INSTALL_STEP_CHECK_REQUIREMENTS);
  // Nothing more is recorded for it.
  EXPECT_REFUSED(
      decide(h.state, report(id, inst, v1::AGENT_INSTALL_STEP_UPLOAD_BINARY), ctx("g", "system")),
      StatusCode::kFailedPrecondition, "");
}

TEST(CancelAgentInstall, EndsTheRunningInstallAtTheStepInProgress) {
  std::string id, inst;
  History h = installing(&id, &inst);
  v1::CancelAgentInstall cancel;
  cancel.set_server_id(id);
  cancel.set_reason("wrong server");
  cancel.set_install_id("inst-other");
  EXPECT_REFUSED(decide(h.state, cancel, ctx()), StatusCode::kFailedPrecondition, "");
  cancel.set_install_id(inst);
  h.step(report(id, inst, v1::AGENT_INSTALL_STEP_CONNECT), ctx("s1", "system"));
  const auto ev = only_event<v1::AgentInstallFailed>(h.step(cancel, ctx("c1", "bob")));
  EXPECT_TRUE(ev.cancelled());
  EXPECT_EQ(ev.step(), v1::AGENT_INSTALL_STEP_CHECK_REQUIREMENTS);
  EXPECT_EQ(ev.reason(), "cancelled by bob: wrong server");
  // The installer's late report is refused; cancelling again says nothing runs.
  EXPECT_REFUSED(decide(h.state, report(id, inst, v1::AGENT_INSTALL_STEP_CHECK_REQUIREMENTS),
                        ctx("s2", "system")),
                 StatusCode::kFailedPrecondition, "");
  EXPECT_REFUSED(decide(h.state, cancel, ctx("c2")), StatusCode::kFailedPrecondition, "");
  // A new install may start.
  EXPECT_TRUE(decide(h.state, install(id), ctx("i2")).ok());
}

TEST(UninstallAgent, IsRequestedThenRecordedAndVoidsTheAgentsSecrets) {
  std::string id, inst;
  History h = with_server(&id);
  v1::UninstallAgent u;
  u.set_server_id(id);
  u.set_reason("decommission");
  EXPECT_REFUSED(decide(h.state, u, ctx()), StatusCode::kFailedPrecondition, "");  // none
  h = installing(&id, &inst);
  EXPECT_REFUSED(decide(h.state, u, ctx()), StatusCode::kFailedPrecondition, "");  // running
  v1::IssueAgentToken token;
  token.set_server_id(id);
  token.set_cluster_id("c-12");
  token.set_token_hash(std::string(64, 'a'));
  token.mutable_ttl()->set_seconds(600);
  h.step(token, ctx("tok"));
  h.step(registered(id), ctx("reg", "system"));
  h.step(report(id, inst, v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION), ctx("w", "system"));

  const auto requested = only_event<v1::AgentUninstallRequested>(h.step(u, ctx("u1")));
  EXPECT_EQ(requested.reason(), "decommission");
  EXPECT_EQ(requested.requested_by(), "alice");
  const std::string uninst = requested.uninstall_id();
  // Asked again while it runs: the same attempt, no event; an install waits for it.
  const auto again = decide(h.state, u, ctx("u2"));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->events.empty());
  EXPECT_EQ(again->ids.at("uninstall_id"), uninst);
  EXPECT_REFUSED(decide(h.state, install(id), ctx("i3")), StatusCode::kFailedPrecondition, "");

  v1::RecordAgentUninstall done;
  done.set_server_id(id);
  done.set_uninstall_id(uninst);
  done.set_detail("agent stopped; files removed");
  EXPECT_REFUSED(decide(h.state, done, ctx("d")), StatusCode::kPermissionDenied, "");
  done.set_succeeded(false);
  only_event<v1::AgentUninstallFailed>(h.step(done, ctx("d1", "system")));
  EXPECT_EQ(h.state.servers.at(id).agent_status, v1::AGENT_STATUS_ONLINE);  // as it was
  EXPECT_EQ(h.state.servers.at(id).agent_status_reason,
            "uninstall failed: agent stopped; files removed");
  EXPECT_REFUSED(decide(h.state, done, ctx("d2", "system")), StatusCode::kFailedPrecondition, "");

  const std::string second =
      only_event<v1::AgentUninstallRequested>(h.step(u, ctx("u3"))).uninstall_id();
  done.set_uninstall_id(second);
  done.set_succeeded(true);
  const auto gone = only_event<v1::AgentUninstalled>(h.step(done, ctx("d3", "system")));
  EXPECT_EQ(gone.detail(), "agent stopped; files removed");
  const ServerState& s = h.state.servers.at(id);
  EXPECT_EQ(s.agent_status, v1::AGENT_STATUS_UNINSTALLED);
  EXPECT_TRUE(s.agent_credential.revoked || s.agent_credential.hash.empty());
  EXPECT_TRUE(s.registration_token.revoked);
  EXPECT_FALSE(s.install.uninstall_running);
  EXPECT_EQ(fold({}, h.events), h.state);
  // Installing again is allowed.
  EXPECT_TRUE(decide(h.state, install(id), ctx("i4")).ok());
}

TEST(AgentInstallRecords, HostileOrOversizedFieldsAreRefusedNamingTheField) {
  std::string id, inst;
  History h = installing(&id, &inst);
  const auto sys = ctx("h", "system");
  auto step = report(id, "inst;rm -rf /", v1::AGENT_INSTALL_STEP_CONNECT);
  EXPECT_REFUSED(decide(h.state, step, sys), StatusCode::kInvalidArgument, "install_id");
  step = report(id, inst, v1::AGENT_INSTALL_STEP_CONNECT);
  step.set_detail(std::string(4 * 1024 + 1, 'd'));
  EXPECT_REFUSED(decide(h.state, step, sys), StatusCode::kInvalidArgument, "detail");
  step.set_detail("ok");
  step.set_agent_version("$(id)");
  EXPECT_REFUSED(decide(h.state, step, sys), StatusCode::kInvalidArgument, "agent_version");

  v1::CancelAgentInstall cancel;
  cancel.set_server_id(id);
  cancel.set_install_id("a b");
  EXPECT_REFUSED(decide(h.state, cancel, ctx()), StatusCode::kInvalidArgument, "install_id");
  cancel.set_install_id(inst);
  cancel.set_reason(std::string(1025, 'r'));
  EXPECT_REFUSED(decide(h.state, cancel, ctx()), StatusCode::kInvalidArgument, "reason");

  v1::RecordAgentUninstall done;
  done.set_server_id(id);
  done.set_uninstall_id("x\ny");
  EXPECT_REFUSED(decide(h.state, done, sys), StatusCode::kInvalidArgument, "uninstall_id");
  EXPECT_TRUE(h.state.servers.at(id).install.running);  // nothing of it was recorded
}

}  // namespace
}  // namespace axion::commands::testing
