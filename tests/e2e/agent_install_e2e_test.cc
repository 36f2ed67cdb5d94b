// Agent installs over SSH, end to end: axion-server (embedded) installs the real axion-agent on
// a real sshd host (tests/support/sshd-host: the login user "deploy", uid 4242, exists only in
// sshd's mount namespace). The install pins the host key, uploads the binary, writes the config
// and a one-time token, starts the agent as a supervised process (no systemd here) and waits
// until it registers; the agent then heartbeats. A second install is a no-op; uninstall stops
// it and removes its files; a kill -9 of axion-server mid-install resumes where it stopped and
// leaves one agent running; an agent that cannot reach the server fails the install at
// WAIT_REGISTRATION with its log; a cancelled install stops.
#include <sys/stat.h>

#include <filesystem>

#include "tests/e2e/agent_fixture.h"
#include "tests/e2e/tls_cert.h"
#include "tests/integration/sshd_host.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr milliseconds kInstallWait{120000};

class AgentInstallE2E : public AgentE2E {
 protected:
  void SetUp() override {
    extra_env_.push_back(std::string("AXION_AGENT_BINARY=") + AXION_AGENT_BIN);
    for (const auto& kv : install_env_) extra_env_.push_back(kv);
    AgentE2E::SetUp();
  }

  struct Target {
    std::string cluster;
    std::string server;
  };
  Target create(const SshdHost& sshd, const std::string& name) {
    v1::CreateClusterRequest cluster;
    cluster.set_name("install-" + name);
    v1::CreateClusterResponse made_cluster;
    EXPECT_TRUE(
        call([&](auto* c) { return infra_->CreateCluster(c, cluster, &made_cluster); }).ok());
    v1::CreateServerRequest req;
    req.set_cluster_id(made_cluster.cluster_id());
    req.set_name(name);
    req.set_host(sshd.host());
    req.set_port(static_cast<std::uint32_t>(sshd.port()));
    req.set_ssh_user("deploy");
    req.mutable_credential()->set_private_key(sshd.private_key());
    v1::CreateServerResponse resp;
    const auto s = call([&](auto* c) { return infra_->CreateServer(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {made_cluster.cluster_id(), resp.server_id()};
  }
  grpc::Status install(const Target& t, v1::InstallAgentResponse* resp) {
    v1::InstallAgentRequest req;
    req.set_cluster_id(t.cluster);
    req.set_server_id(t.server);
    return call([&](auto* c) { return infra_->InstallAgent(c, req, resp); });
  }
  v1::GetAgentStatusResponse agent(const Target& t) {
    v1::GetAgentStatusRequest req;
    req.set_server_id(t.server);
    v1::GetAgentStatusResponse resp;
    call([&](auto* c) { return infra_->GetAgentStatus(c, req, &resp); });
    return resp;
  }
  bool wait_status(const Target& t, v1::AgentStatus want, milliseconds timeout = kInstallWait) {
    return eventually([&] { return agent(t).status() == want; }, timeout);
  }
  // The install ended with the agent registered (the agent's own registration makes it ONLINE
  // a moment before the installer records WAIT_REGISTRATION).
  bool wait_installed(const Target& t) {
    return eventually(
        [&] {
          const auto a = agent(t);
          return a.status() == v1::AGENT_STATUS_ONLINE &&
                 a.last_install_step() == v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION;
        },
        kInstallWait);
  }
  // The processes running the agent installed on `sshd` (supervisor and agent).
  static std::vector<pid_t> agent_processes(const SshdHost& sshd) {
    return pids_with(sshd.home() + "/.axion-agent/bin/axion-agent");
  }
  v1::Server server_view_of(const Target& t) {
    v1::ListClusterServersRequest req;
    req.set_cluster_id(t.cluster);
    v1::ListClusterServersResponse resp;
    call([&](auto* c) { return infra_->ListClusterServers(c, req, &resp); });
    return resp.servers_size() == 1 ? resp.servers(0) : v1::Server();
  }
  static std::string agent_dir(const SshdHost& sshd) { return sshd.home() + "/.axion-agent"; }

  std::vector<std::string> install_env_;  // set by a derived fixture before SetUp
};

TEST_F(AgentInstallE2E, InstallsAnAgentThatRegistersAndHeartbeatsThenUninstallsIt) {
  SshdHost sshd("127.0.0.1", free_port());
  ASSERT_TRUE(sshd.ok()) << sshd.log();
  const Target t = create(sshd, "web-ssh");

  v1::InstallAgentResponse first;
  auto s = install(t, &first);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_FALSE(first.install_id().empty());
  ASSERT_TRUE(wait_installed(t)) << agent(t).ShortDebugString() << "\n" << server_->log();
  v1::GetAgentStatusResponse online = agent(t);
  EXPECT_EQ(online.install_id(), first.install_id());
  EXPECT_EQ(online.last_install_step(), v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION);
  EXPECT_FALSE(online.agent_id().empty());
  EXPECT_EQ(online.version(), "0.1.0");
  // It heartbeats: the stream is open and the last heartbeat moves.
  ASSERT_TRUE(eventually([&] { return agent(t).connected(); }));
  const auto beat = agent(t).last_heartbeat_at();
  EXPECT_TRUE(eventually([&] {
    const auto now = agent(t).last_heartbeat_at();
    return now.seconds() * 1000000000LL + now.nanos() >
           beat.seconds() * 1000000000LL + beat.nanos();
  }));
  // The host key was pinned on first use.
  EXPECT_EQ(server_view_of(t).host_key_fingerprint(), sshd.fingerprint());

  // On the host: the binary, a private config, a supervisor and its agent, as the SSH user.
  struct stat st {};
  ASSERT_EQ(stat((agent_dir(sshd) + "/bin/axion-agent").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0755u);
  EXPECT_EQ(st.st_uid, 4242u);
  ASSERT_EQ(stat((agent_dir(sshd) + "/agent.conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  const std::string conf = read_file(agent_dir(sshd) + "/agent.conf");
  EXPECT_THAT(conf, HasSubstr("server-id = \"" + t.server + "\""));
  EXPECT_THAT(conf, HasSubstr("server = \"" + address() + "\""));
  EXPECT_EQ(agent_processes(sshd).size(), 2u) << "a supervisor and its agent";
  EXPECT_TRUE(std::filesystem::exists(agent_dir(sshd) + "/agent.pid"));

  // A second install of what runs is a no-op: the same install, nothing restarted.
  const auto pids = agent_processes(sshd);
  v1::InstallAgentResponse second;
  ASSERT_TRUE(install(t, &second).ok());
  EXPECT_EQ(second.install_id(), first.install_id());
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_EQ(agent_processes(sshd), pids);
  EXPECT_EQ(agent(t).install_id(), first.install_id());

  // Uninstall: the agent stops, its files go, its status says so.
  v1::UninstallAgentRequest remove;
  remove.set_cluster_id(t.cluster);
  remove.set_server_id(t.server);
  remove.set_reason("decommission");
  v1::UninstallAgentResponse removed;
  s = call([&](auto* c) { return infra_->UninstallAgent(c, remove, &removed); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(removed.uninstall_id().empty());
  ASSERT_TRUE(wait_status(t, v1::AGENT_STATUS_UNINSTALLED)) << agent(t).ShortDebugString();
  EXPECT_TRUE(eventually([&] { return agent_processes(sshd).empty(); }));
  EXPECT_FALSE(std::filesystem::exists(agent_dir(sshd)));
  // Nothing to remove any more.
  s = call([&](auto* c) { return infra_->UninstallAgent(c, remove, &removed); });
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();

  // Installing again works from scratch (new token, new credential).
  v1::InstallAgentResponse again;
  ASSERT_TRUE(install(t, &again).ok());
  EXPECT_NE(again.install_id(), first.install_id());
  ASSERT_TRUE(wait_installed(t)) << agent(t).ShortDebugString();
  EXPECT_EQ(agent(t).install_id(), again.install_id());
  EXPECT_TRUE(eventually([&] { return agent(t).connected(); }));
  EXPECT_THAT(server_->log(), Not(HasSubstr("axr_"))) << "a registration token was logged";
}

TEST_F(AgentInstallE2E, AKilledServerResumesTheInstallAndLeavesOneAgent) {
  SshdHost sshd("127.0.0.1", free_port());
  ASSERT_TRUE(sshd.ok()) << sshd.log();
  const Target t = create(sshd, "web-crash");
  v1::InstallAgentResponse first;
  ASSERT_TRUE(install(t, &first).ok());
  // Past the upload, before registration: kill -9.
  ASSERT_TRUE(eventually(
      [&] { return agent(t).last_install_step() >= v1::AGENT_INSTALL_STEP_UPLOAD_BINARY; },
      kInstallWait))
      << agent(t).ShortDebugString();
  const v1::GetAgentStatusResponse at_kill = agent(t);
  ASSERT_LT(at_kill.last_install_step(), v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION)
      << "the install ended before the kill: " << at_kill.ShortDebugString();
  server_->signal(SIGKILL);
  ASSERT_EQ(server_->wait_exit(milliseconds(10000)), 128 + SIGKILL);
  server_ = std::make_unique<ServerProcess>(server_env_);
  httplib::Client http("127.0.0.1", http_port_);
  ASSERT_TRUE(wait_ready(http, milliseconds(30000))) << server_->log();
  // The restarted server resumes the install after the last recorded step.
  ASSERT_TRUE(eventually([&] {
    return server_->log().find("install " + first.install_id() + " on server " + t.server +
                               " (resuming after AGENT_INSTALL_STEP_") != std::string::npos;
  })) << server_->log();
  ASSERT_TRUE(wait_installed(t)) << agent(t).ShortDebugString() << "\n" << server_->log();
  EXPECT_EQ(agent(t).install_id(), first.install_id());
  EXPECT_TRUE(eventually([&] { return agent(t).connected(); }));
  EXPECT_EQ(agent_processes(sshd).size(), 2u) << "one supervisor, one agent";
}

class AgentInstallUnreachableE2E : public AgentInstallE2E {
 protected:
  void SetUp() override {
    closed_port_ = free_port();
    install_env_ = {"AXION_AGENT_PUBLIC_ADDR=127.0.0.1:" + std::to_string(closed_port_),
                    "AXION_AGENT_INSTALL_TIMEOUT_MS=4000"};
    AgentInstallE2E::SetUp();
  }
  int closed_port_ = 0;
};

TEST_F(AgentInstallUnreachableE2E, AnAgentThatCannotRegisterFailsTheInstallWithWhereAndWhy) {
  SshdHost sshd("127.0.0.1", free_port());
  ASSERT_TRUE(sshd.ok()) << sshd.log();
  const Target t = create(sshd, "web-lost");
  v1::InstallAgentResponse resp;
  ASSERT_TRUE(install(t, &resp).ok());
  ASSERT_TRUE(wait_status(t, v1::AGENT_STATUS_FAILED)) << agent(t).ShortDebugString();
  const auto failed = agent(t);
  EXPECT_THAT(failed.reason(), HasSubstr("install failed at AGENT_INSTALL_STEP_WAIT_REGISTRATION"));
  EXPECT_THAT(failed.reason(), HasSubstr("did not register within 4 s"));
  EXPECT_THAT(failed.reason(), HasSubstr(std::to_string(closed_port_)));
  EXPECT_EQ(failed.last_install_step(), v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION);

  // What it left behind is removed by UninstallAgent (a failed install may leave a process).
  v1::UninstallAgentRequest remove;
  remove.set_cluster_id(t.cluster);
  remove.set_server_id(t.server);
  v1::UninstallAgentResponse removed;
  ASSERT_TRUE(call([&](auto* c) { return infra_->UninstallAgent(c, remove, &removed); }).ok());
  ASSERT_TRUE(wait_status(t, v1::AGENT_STATUS_UNINSTALLED)) << agent(t).ShortDebugString();
  EXPECT_TRUE(eventually([&] { return agent_processes(sshd).empty(); }));
}

class AgentInstallCancelE2E : public AgentInstallE2E {
 protected:
  void SetUp() override {
    install_env_ = {"AXION_AGENT_PUBLIC_ADDR=127.0.0.1:" + std::to_string(free_port()),
                    "AXION_AGENT_INSTALL_TIMEOUT_MS=600000"};
    AgentInstallE2E::SetUp();
  }
};

TEST_F(AgentInstallCancelE2E, ACancelledInstallStopsAndANewOneMayStart) {
  SshdHost sshd("127.0.0.1", free_port());
  ASSERT_TRUE(sshd.ok()) << sshd.log();
  const Target t = create(sshd, "web-cancel");
  v1::InstallAgentResponse resp;
  ASSERT_TRUE(install(t, &resp).ok());
  // It waits for a registration that cannot come (the agent dials a closed port).
  ASSERT_TRUE(eventually(
      [&] { return agent(t).last_install_step() == v1::AGENT_INSTALL_STEP_START_SERVICE; },
      kInstallWait))
      << agent(t).ShortDebugString();
  v1::InstallAgentResponse busy;
  EXPECT_EQ(install(t, &busy).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  v1::CancelAgentInstallRequest cancel;
  cancel.set_cluster_id(t.cluster);
  cancel.set_server_id(t.server);
  cancel.set_install_id("inst-not-this-one");
  v1::CancelAgentInstallResponse cancelled;
  EXPECT_EQ(
      call([&](auto* c) { return infra_->CancelAgentInstall(c, cancel, &cancelled); }).error_code(),
      grpc::StatusCode::FAILED_PRECONDITION);
  cancel.set_install_id(resp.install_id());
  cancel.set_reason("wrong address");
  const auto s = call([&](auto* c) { return infra_->CancelAgentInstall(c, cancel, &cancelled); });
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(cancelled.install_id(), resp.install_id());
  ASSERT_TRUE(wait_status(t, v1::AGENT_STATUS_FAILED, milliseconds(30000)));
  EXPECT_THAT(agent(t).reason(),
              HasSubstr("install stopped at AGENT_INSTALL_STEP_WAIT_REGISTRATION: cancelled by "
                        "tester: wrong address"));
  // The installer noticed at once: no WAIT_REGISTRATION record follows the cancel.
  std::this_thread::sleep_for(milliseconds(1000));
  EXPECT_EQ(agent(t).last_install_step(), v1::AGENT_INSTALL_STEP_START_SERVICE);
  v1::InstallAgentResponse next;
  EXPECT_TRUE(install(t, &next).ok());
  EXPECT_NE(next.install_id(), resp.install_id());
}

// A separate host: sshd in a network namespace of its own (10.77.<n>.2, reached over a veth from
// 10.77.<n>.1). The agent there dials the server's TLS agent listener at 10.77.<n>.1 and trusts
// the certificate the installer put beside its config.
class AgentInstallNetnsE2E : public AgentInstallE2E {
 protected:
  void SetUp() override {
    // Subnets 220..249 (ssh_test takes 20..219), one per test process.
    const std::string subnet = "10.77." + std::to_string(220 + getpid() % 30);
    sshd_ = std::make_unique<SshdHost>(subnet + ".2", free_port());
    ASSERT_TRUE(sshd_->ok()) << sshd_->log();
    const std::string dir = scratch_dir("install-tls");
    const auto [cert, key] = self_signed_certificate("IP:" + subnet + ".1");
    std::ofstream(dir + "/cert.pem") << cert;
    std::ofstream(dir + "/key.pem") << key;
    agent_addr_ = subnet + ".1:" + std::to_string(free_port());
    install_env_ = {"AXION_AGENT_ADDR=" + agent_addr_, "AXION_AGENT_TLS_CERT=" + dir + "/cert.pem",
                    "AXION_AGENT_TLS_KEY=" + dir + "/key.pem"};
    AgentInstallE2E::SetUp();
  }
  std::unique_ptr<SshdHost> sshd_;
  std::string agent_addr_;
};

TEST_F(AgentInstallNetnsE2E, InstallsOnASeparateHostWhoseAgentDialsBackOverTls) {
  const Target t = create(*sshd_, "web-netns");
  v1::InstallAgentResponse resp;
  ASSERT_TRUE(install(t, &resp).ok());
  ASSERT_TRUE(wait_installed(t)) << agent(t).ShortDebugString() << "\n" << server_->log();
  EXPECT_TRUE(eventually([&] { return agent(t).connected(); }));
  const std::string conf = read_file(agent_dir(*sshd_) + "/agent.conf");
  EXPECT_THAT(conf, HasSubstr("server = \"" + agent_addr_ + "\""));
  EXPECT_THAT(conf, HasSubstr("tls-ca = \"" + agent_dir(*sshd_) + "/ca.pem\""));
  EXPECT_THAT(read_file(agent_dir(*sshd_) + "/ca.pem"), HasSubstr("BEGIN CERTIFICATE"));
  EXPECT_EQ(agent_processes(*sshd_).size(), 2u);
}

}  // namespace
}  // namespace axion::testing
