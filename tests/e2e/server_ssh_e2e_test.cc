// SSH bootstrap through the API, end to end: axion-server (embedded) and a real sshd
// (tests/support/sshd-host). CreateServer seals the password or key it is given;
// TestServerConnection opens it, connects, pins the host key on first use and answers the
// report; a wrong password is a report that says so; a changed host key is refused and the pin
// stays; hostile settings are refused; and afterwards neither the server's log, nor its data
// directory (log and views), nor any API answer holds a secret. A missing, malformed or wrong
// AXION_MASTER_KEY stops the start with a clear error.
#include <sys/utsname.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "axion/v1/project.grpc.pb.h"
#include "tests/e2e/agent_fixture.h"
#include "tests/integration/sshd_host.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every file under `dir` whose bytes contain `needle`.
std::vector<std::string> files_holding(const std::string& dir, const std::string& needle) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file() && slurp(e.path()).find(needle) != std::string::npos)
      out.push_back(e.path());
  return out;
}

class ServerSshE2E : public AgentE2E {
 protected:
  struct Created {
    std::string id;
    std::string cluster;
    google::protobuf::RepeatedPtrField<v1::LogPosition> positions;
  };
  // A cluster of its own for every server made here: host:port is unique within a cluster, and
  // these servers are all the same sshd.
  std::string new_cluster() {
    v1::CreateClusterRequest req;
    req.set_name("ssh-" + std::to_string(++clusters_));
    v1::CreateClusterResponse resp;
    EXPECT_TRUE(call([&](auto* c) { return infra_->CreateCluster(c, req, &resp); }).ok());
    return resp.cluster_id();
  }
  Created create(const std::string& name, const SshdHost& host, const v1::SshCredential& cred,
                 const std::string& user = "deploy", grpc::Status* status = nullptr) {
    v1::CreateServerRequest req;
    req.set_cluster_id(new_cluster());
    req.set_name(name);
    req.set_host(host.host());
    req.set_port(static_cast<std::uint32_t>(host.port()));
    req.set_ssh_user(user);
    *req.mutable_credential() = cred;
    v1::CreateServerResponse resp;
    const auto s = call([&](auto* c) { return infra_->CreateServer(c, req, &resp); });
    if (status)
      *status = s;
    else
      EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.server_id(), req.cluster_id(), resp.positions()};
  }
  grpc::Status test(const Created& server, bool pin, v1::TestServerConnectionResponse* resp) {
    v1::TestServerConnectionRequest req;
    req.set_cluster_id(server.cluster);
    req.set_server_id(server.id);
    req.set_pin_host_key(pin);
    *req.mutable_min_positions() = server.positions;
    return call([&](auto* c) { return infra_->TestServerConnection(c, req, resp); });
  }
  v1::Server listed(const Created& server,
                    const google::protobuf::RepeatedPtrField<v1::LogPosition>& after) {
    v1::ListClusterServersRequest req;
    req.set_cluster_id(server.cluster);
    *req.mutable_min_positions() = after;
    v1::ListClusterServersResponse resp;
    const auto s = call([&](auto* c) { return infra_->ListClusterServers(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    listed_answers_ += resp.SerializeAsString();
    for (const auto& row : resp.servers())
      if (row.server_id() == server.id) return row;
    ADD_FAILURE() << "server " << server.id << " not listed";
    return {};
  }
  std::string listed_answers_;  // every list answer, to look for secrets in
  int clusters_ = 0;
};

TEST_F(ServerSshE2E, ConnectionTestsPinReportAndRefuseWithoutEverShowingASecret) {
  SshdHost sshd("127.0.0.1", free_port());
  ASSERT_TRUE(sshd.ok()) << sshd.log();
  v1::SshCredential password;
  password.set_password(sshd.password());
  v1::SshCredential key;
  key.set_private_key(sshd.private_key());

  // Password: the first test pins the key and reports the host.
  const Created by_password = create("ssh-pw", sshd, password);
  v1::TestServerConnectionResponse first;
  auto s = test(by_password, true, &first);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << server_->log();
  const v1::ServerReport& r = first.report();
  EXPECT_TRUE(r.reachable());
  EXPECT_TRUE(r.authenticated()) << r.ShortDebugString();
  EXPECT_EQ(r.host_key_fingerprint(), sshd.fingerprint());
  EXPECT_EQ(r.host_key_algorithm(), "ssh-ed25519");
  utsname self{};
  uname(&self);
  EXPECT_EQ(r.arch(), self.machine);  // the sshd runs on this machine
  EXPECT_GT(r.cpu_count(), 0u);
  EXPECT_GT(r.memory_mb(), 0u);
  EXPECT_GT(r.disk_mb(), 0u);
  EXPECT_FALSE(r.os().empty());
  EXPECT_EQ(r.docker(), !r.docker_version().empty()) << r.ShortDebugString();
  v1::Server row = listed(by_password, first.positions());
  EXPECT_EQ(row.host_key_fingerprint(), sshd.fingerprint());
  EXPECT_EQ(row.last_report().host_key_fingerprint(), sshd.fingerprint());
  EXPECT_EQ(row.auth_kind(), v1::SSH_AUTH_KIND_PASSWORD);
  EXPECT_FALSE(row.has_credential()) << "an answer never carries the credential, sealed or not";

  // A private key works the same way.
  const Created by_key = create("ssh-key", sshd, key);
  v1::TestServerConnectionResponse keyed;
  ASSERT_TRUE(test(by_key, false, &keyed).ok());
  EXPECT_TRUE(keyed.report().authenticated()) << keyed.report().ShortDebugString();
  EXPECT_TRUE(listed(by_key, keyed.positions()).host_key_fingerprint().empty())
      << "pin_host_key was not asked for";

  // A wrong password is a report that says so (the server is reachable).
  v1::SshCredential wrong;
  wrong.set_password("not-the-password");
  const Created by_wrong = create("ssh-wrong", sshd, wrong);
  v1::TestServerConnectionResponse refused;
  ASSERT_TRUE(test(by_wrong, true, &refused).ok());
  EXPECT_TRUE(refused.report().reachable());
  EXPECT_FALSE(refused.report().authenticated());
  ASSERT_GT(refused.report().errors_size(), 0);
  EXPECT_THAT(refused.report().errors(0), HasSubstr("with a password failed"));

  // The host key changes: refused, and the pin stays.
  ASSERT_TRUE(sshd.rekey()) << sshd.log();
  v1::TestServerConnectionResponse impostor;
  s = test(by_password, true, &impostor);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(s.error_message(), HasSubstr("changed: pinned " + r.host_key_fingerprint() +
                                           ", presented " + sshd.fingerprint()));
  EXPECT_EQ(listed(by_password, first.positions()).host_key_fingerprint(),
            r.host_key_fingerprint());

  // Requests that cannot be tested are refused precisely, before any connection.
  v1::TestServerConnectionResponse unused;
  const Created no_ssh{server_id_, cluster_id_, {}};  // the fixture's server: no credential
  s = test(no_ssh, true, &unused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
  EXPECT_THAT(s.error_message(), HasSubstr("has no SSH credential"));
  s = test({by_key.id, by_password.cluster, {}}, false, &unused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  s = test({"srv;reboot", by_key.cluster, {}}, false, &unused);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();

  // Hostile settings never reach SSH.
  grpc::Status hostile;
  create("ssh-hostile", sshd, password, "a;rm -rf /", &hostile);
  EXPECT_EQ(hostile.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << hostile.error_message();
  v1::SshCredential empty;
  create("ssh-empty", sshd, empty, "deploy", &hostile);
  EXPECT_EQ(hostile.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << hostile.error_message();

  // No secret anywhere: log, data directory (event log and views), answers.
  const std::string key_body = sshd.private_key().substr(sshd.private_key().find('\n') + 1, 40);
  for (const std::string& secret : {sshd.password(), key_body}) {
    ASSERT_GE(secret.size(), 12u);
    EXPECT_THAT(server_->log(), Not(HasSubstr(secret)));
    EXPECT_EQ(files_holding(data_dir_, secret), std::vector<std::string>{});
    EXPECT_THAT(listed_answers_, Not(HasSubstr(secret)));
    EXPECT_THAT(first.SerializeAsString() + keyed.SerializeAsString(), Not(HasSubstr(secret)));
  }
  EXPECT_FALSE(files_holding(data_dir_, "ssh-pw").empty()) << "the data directory was searched";
}

TEST_F(ServerSshE2E, SystemRequirementsOfAGraphAgainstTheTestedCluster) {
  SshdHost sshd("127.0.0.1", free_port());
  ASSERT_TRUE(sshd.ok()) << sshd.log();
  v1::SshCredential password;
  password.set_password(sshd.password());
  const Created server = create("ssh-sized", sshd, password);
  v1::TestServerConnectionResponse tested;
  ASSERT_TRUE(test(server, false, &tested).ok());
  ASSERT_GT(tested.report().memory_mb(), 256u) << tested.report().ShortDebugString();
  auto projects = v1::ProjectService::NewStub(channel_);
  v1::RegisterProjectRequest reg;
  reg.set_name("sized");
  v1::RegisterProjectResponse project;
  ASSERT_TRUE(call([&](auto* c) { return projects->RegisterProject(c, reg, &project); }).ok());
  google::protobuf::RepeatedPtrField<v1::LogPosition> published;
  const auto publish = [&](std::uint64_t memory_mb) {
    v1::PublishGraphRequest req;
    req.set_project_id(project.project_id());
    auto* web = req.add_services();
    web->set_name("web");
    web->set_image("axion.local/web:1");
    web->add_command("/usr/bin/web");
    web->set_replicas(2);
    web->mutable_resources()->set_cpu_millis(100);
    web->mutable_resources()->set_memory_mb(memory_mb);
    web->mutable_resources()->set_disk_mb(10);
    v1::PublishGraphResponse resp;
    const auto s = call([&](auto* c) { return projects->PublishGraph(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    published = resp.positions();
    return resp.graph_version();
  };
  const auto requirements = [&](std::uint64_t version) {
    v1::CalculateSystemRequirementsRequest req;
    req.set_project_id(project.project_id());
    req.set_graph_version(version);
    req.set_cluster_id(server.cluster);
    *req.mutable_min_positions() = published;
    v1::CalculateSystemRequirementsResponse resp;
    const auto s =
        call([&](auto* c) { return infra_->CalculateSystemRequirements(c, req, &resp); });
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.requirements();
  };
  const std::uint64_t small = publish(64);
  v1::SystemRequirements fits;
  ASSERT_TRUE(eventually([&] {  // the tested capacity reaches the view
    fits = requirements(small);
    return fits.fits();
  })) << fits.ShortDebugString();
  EXPECT_EQ(fits.steady().memory_mb(), 128u);
  EXPECT_EQ(fits.recommended_servers(), 2u);
  EXPECT_FALSE(fits.requires_docker()) << "web runs a command";
  std::string notes;
  for (const auto& n : fits.shortfalls()) notes += n + "\n";
  EXPECT_THAT(notes, Not(HasSubstr("capacity unknown")));
  const std::uint64_t huge = publish(tested.report().memory_mb() * 4);
  const auto short_of = requirements(huge);
  EXPECT_FALSE(short_of.fits());
  notes.clear();
  for (const auto& n : short_of.shortfalls()) notes += n + "\n";
  EXPECT_THAT(notes, HasSubstr("memory: the deployment peak needs"));
  v1::CalculateSystemRequirementsRequest bad;
  bad.set_project_id("no-such-project");
  v1::CalculateSystemRequirementsResponse unused;
  EXPECT_EQ(call([&](auto* c) {
              return infra_->CalculateSystemRequirements(c, bad, &unused);
            }).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(ServerSshE2E, AMissingMalformedOrWrongMasterKeyStopsTheStart) {
  // A sealed credential in the data directory, applied to the views.
  SshdHost sshd("127.0.0.1", free_port());
  ASSERT_TRUE(sshd.ok()) << sshd.log();
  v1::SshCredential password;
  password.set_password(sshd.password());
  const Created made = create("sealed", sshd, password);
  listed(made, made.positions);
  server_.reset();  // kill -9: the data stays

  const auto start_with = [&](const std::string& key_setting) {
    std::vector<std::string> env = server_env_;
    env.push_back(key_setting);
    auto process = std::make_unique<ServerProcess>(env);
    const int code = process->wait_exit(milliseconds(30000));
    return std::make_pair(code, process->log());
  };
  auto [missing_code, missing] = start_with("AXION_MASTER_KEY=");
  EXPECT_NE(missing_code, 0);
  EXPECT_THAT(missing, HasSubstr("AXION_MASTER_KEY is not set"));
  auto [malformed_code, malformed] = start_with("AXION_MASTER_KEY=test=c2hvcnQ=");
  EXPECT_NE(malformed_code, 0);
  EXPECT_THAT(malformed, HasSubstr("key 'test' is 5 bytes; AES-256-GCM needs exactly 32"));
  EXPECT_THAT(malformed, Not(HasSubstr("c2hvcnQ=")));
  auto [wrong_code, wrong] =
      start_with("AXION_MASTER_KEY=test=d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMzI=");
  EXPECT_NE(wrong_code, 0);
  EXPECT_THAT(wrong, HasSubstr("cannot open the stored SSH credentials"));
  EXPECT_THAT(wrong, HasSubstr("wrong master key?"));
  auto [other_code, other] =
      start_with("AXION_MASTER_KEY=other=d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktMzI=");
  EXPECT_NE(other_code, 0);
  EXPECT_THAT(other, HasSubstr("holds none of the keys the stored SSH credentials were sealed"));
  // The right key (the fixture's) starts it again.
  server_ = std::make_unique<ServerProcess>(server_env_);
  httplib::Client http("127.0.0.1", http_port_);
  EXPECT_TRUE(wait_ready(http, milliseconds(30000))) << server_->log();
}

}  // namespace
}  // namespace axion::testing
