// infra/ssh against a real OpenSSH server (tests/support/sshd-host): key and password
// authentication, a wrong password, a refused port and an unreachable host (clear errors within
// the timeout), a changed host key refused, argv that reaches the remote program exactly
// whatever it holds, hostile user names and paths refused before connecting, atomic SFTP
// uploads, and the same against a separate host in a network namespace.
#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <unistd.h>

#include <chrono>
#include <random>

#include "infra/ssh/ssh_argv.h"
#include "infra/ssh/ssh_session.h"
#include "tests/integration/sshd_host.h"
#include "tests/support/free_port.h"

namespace axion::testing {
namespace {

using infra::ssh::SshAuth;
using infra::ssh::SshOptions;
using infra::ssh::SshSession;
using infra::ssh::SshTarget;
using std::chrono::milliseconds;

// A subnet of its own per test process: 10.77.<n>.0/24.
std::string netns_address(int host) {
  return "10.77." + std::to_string(20 + getpid() % 200) + "." + std::to_string(host);
}

class SshTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(sshd_.ok()) << sshd_.log(); }
  SshTarget target() const {
    return {sshd_.host(), static_cast<std::uint16_t>(sshd_.port()), "deploy"};
  }
  SshAuth key() const {
    SshAuth a;
    a.kind = SshAuth::Kind::kPrivateKey;
    a.private_key = sshd_.private_key();
    return a;
  }
  SshAuth password(const std::string& pw) const {
    SshAuth a;
    a.password = pw;
    return a;
  }
  std::unique_ptr<SshSession> connect(const SshAuth& auth, const std::string& pinned = "") {
    auto s = SshSession::connect(target(), auth, pinned);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    return s.ok() ? std::move(s).value() : nullptr;
  }

  SshdHost sshd_{"127.0.0.1", free_port()};
};

TEST_F(SshTest, KeyAuthenticationRunsArgvExactlyAsGiven) {
  auto s = connect(key());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->host_key().fingerprint, sshd_.fingerprint()) << "as ssh-keygen -l prints it";
  EXPECT_EQ(s->host_key().algorithm, "ssh-ed25519");
  const std::vector<std::string> hostile = {
      "a b", "it's", "$(id)", "x;rm -rf /tmp/x", "`uname`", "line\nbreak", "*", "--", "", "\\"};
  std::vector<std::string> argv = {"printf", "[%s]"};
  argv.insert(argv.end(), hostile.begin(), hostile.end());
  auto printed = s->run(argv, milliseconds(10000));
  ASSERT_TRUE(printed.ok()) << printed.status().to_string();
  std::string want;
  for (const auto& a : hostile) want += "[" + a + "]";
  EXPECT_EQ(printed->out, want);
  EXPECT_EQ(printed->exit_code, 0);
  auto who = s->run({"id", "-un"}, milliseconds(10000));
  ASSERT_TRUE(who.ok());
  EXPECT_EQ(who->out, "deploy\n");
  auto failing = s->run({"sh", "-c", "echo oops >&2; exit 3"}, milliseconds(10000));
  ASSERT_TRUE(failing.ok());
  EXPECT_EQ(failing->exit_code, 3);
  EXPECT_EQ(failing->err, "oops\n");
  EXPECT_EQ(s->run({}, milliseconds(100)).status().code(), StatusCode::kInvalidArgument);
  auto slow = s->run({"sleep", "30"}, milliseconds(300));
  EXPECT_EQ(slow.status().code(), StatusCode::kDeadlineExceeded) << slow.status().to_string();
  EXPECT_EQ(s->run({"true"}, milliseconds(1000)).status().code(), StatusCode::kUnavailable)
      << "a session that timed out is dropped";
}

TEST_F(SshTest, PasswordAuthenticationAndAWrongPassword) {
  auto s = connect(password(sshd_.password()));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->run({"id", "-un"}, milliseconds(10000))->out, "deploy\n");
  auto wrong = SshSession::connect(target(), password("not-" + sshd_.password()), "");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(wrong.status().message().find("SSH authentication of deploy@127.0.0.1:" +
                                          std::to_string(sshd_.port()) + " with a password failed"),
            std::string::npos)
      << wrong.status().message();
  EXPECT_EQ(wrong.status().message().find(sshd_.password()), std::string::npos);
  SshAuth not_a_key;
  not_a_key.kind = SshAuth::Kind::kPrivateKey;
  not_a_key.private_key = "-----BEGIN OPENSSH PRIVATE KEY-----\nnonsense\n";
  EXPECT_EQ(SshSession::connect(target(), not_a_key, "").status().code(),
            StatusCode::kUnauthenticated);
}

TEST_F(SshTest, AChangedHostKeyIsRefused) {
  const std::string pinned = sshd_.fingerprint();
  ASSERT_TRUE(connect(key(), pinned));
  ASSERT_TRUE(sshd_.rekey()) << sshd_.log();
  ASSERT_NE(sshd_.fingerprint(), pinned);
  auto refused = SshSession::connect(target(), key(), pinned);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("changed: pinned " + pinned + ", presented " +
                                            sshd_.fingerprint()),
            std::string::npos)
      << refused.status().message();
  EXPECT_TRUE(connect(key(), sshd_.fingerprint())) << "the new key, once pinned, is accepted";
}

TEST_F(SshTest, RefusedAndUnreachableHostsFailClearlyWithinTheTimeout) {
  SshTarget closed = target();
  closed.port = static_cast<std::uint16_t>(free_port());
  auto refused = SshSession::connect(closed, key(), "");
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(refused.status().message().find("Connection refused"), std::string::npos)
      << refused.status().message();

  SshdHost neighbour(netns_address(2), 22);  // gives the subnet a route; .3 is nobody
  ASSERT_TRUE(neighbour.ok()) << neighbour.log();
  SshTarget nobody{netns_address(3), 22, "deploy"};
  SshOptions quick;
  quick.connect_timeout = milliseconds(1500);
  const auto started = std::chrono::steady_clock::now();
  auto unreachable = SshSession::connect(nobody, key(), "", quick);
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(unreachable.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(unreachable.status().message().find("cannot reach " + netns_address(3) + ":22"),
            std::string::npos)
      << unreachable.status().message();
  EXPECT_LT(took, std::chrono::seconds(30)) << "the connect timeout was not honoured";

  auto unresolved = SshSession::connect({"no-such-host.invalid", 22, "deploy"}, key(), "");
  EXPECT_EQ(unresolved.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(unresolved.status().message().find("cannot resolve"), std::string::npos);
}

TEST_F(SshTest, HostileUserNamesAndPathsAreRefusedBeforeAnythingHappens) {
  for (const char* user : {"a;rm -rf /", "$(x)", "root\n", "-oProxyCommand=x", "", "Deploy"}) {
    SshTarget t = target();
    t.user = user;
    const auto s = SshSession::connect(t, key(), "");
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument) << user;
  }
  auto s = connect(key());
  ASSERT_TRUE(s);
  const std::vector<std::string> paths = {"relative/file", sshd_.home() + "/../escape",
                                          "/tmp/a b",      "/tmp/$(touch x)",
                                          "/tmp/a;b",      "/tmp//x",
                                          "/tmp/x\n"};
  for (const auto& path : paths) {
    const Status up = s->upload("x", path, 0644);
    EXPECT_EQ(up.code(), StatusCode::kInvalidArgument) << path;
  }
  EXPECT_FALSE(std::filesystem::exists(sshd_.home() + "/../escape"));
  EXPECT_EQ(infra::ssh::shell_quote("it's"), "'it'\\''s'");
}

TEST_F(SshTest, UploadsLandWholeWithTheirModeAndReplaceTheOldFile) {
  auto s = connect(key());
  ASSERT_TRUE(s);
  std::string content(3 * 1024 * 1024 + 17, '\0');
  std::mt19937 random(7);
  for (auto& c : content) c = static_cast<char>(random());
  const std::string path = sshd_.home() + "/bin/axion-agent";
  ASSERT_EQ(s->run({"mkdir", "-p", sshd_.home() + "/bin"}, milliseconds(10000))->exit_code, 0);
  ASSERT_TRUE(s->upload(content, path, 0755).ok());
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(content.data()), content.size(), digest);
  char hex[2 * SHA256_DIGEST_LENGTH + 1];
  for (int i = 0; i < SHA256_DIGEST_LENGTH; ++i) std::snprintf(hex + 2 * i, 3, "%02x", digest[i]);
  auto sum = s->run({"sha256sum", path}, milliseconds(10000));
  ASSERT_TRUE(sum.ok());
  EXPECT_EQ(sum->out.substr(0, 64), std::string(hex));
  EXPECT_EQ(s->run({"stat", "-c", "%a %U", path}, milliseconds(10000))->out, "755 deploy\n");
  ASSERT_TRUE(s->upload("second\n", path, 0600).ok());
  EXPECT_EQ(s->run({"cat", path}, milliseconds(10000))->out, "second\n");
  EXPECT_FALSE(std::filesystem::exists(path + ".axion-upload"));
  const Status denied = s->upload("x", "/etc/axion-test-denied", 0644);
  EXPECT_EQ(denied.code(), StatusCode::kUnavailable) << denied.to_string();
  EXPECT_NE(denied.message().find("cannot write /etc/axion-test-denied.axion-upload"),
            std::string::npos)
      << denied.message();
}

TEST(SshSeparateHost, ASeparateHostInItsOwnNetworkNamespace) {
  SshdHost remote(netns_address(2), 22);
  ASSERT_TRUE(remote.ok()) << remote.log();
  SshAuth auth;
  auth.kind = SshAuth::Kind::kPrivateKey;
  auth.private_key = remote.private_key();
  auto s = SshSession::connect({remote.host(), 22, "deploy"}, auth, "");
  ASSERT_TRUE(s.ok()) << s.status().to_string();
  EXPECT_EQ((*s)->host_key().fingerprint, remote.fingerprint());
  auto addresses = (*s)->run({"hostname", "-I"}, milliseconds(10000));
  ASSERT_TRUE(addresses.ok());
  EXPECT_NE(addresses->out.find(remote.host()), std::string::npos) << addresses->out;
  EXPECT_EQ(addresses->out.find("127.0.0.1 "), std::string::npos);
  ASSERT_TRUE((*s)->upload("hello\n", remote.home() + "/greeting", 0644).ok());
  EXPECT_EQ((*s)->run({"cat", remote.home() + "/greeting"}, milliseconds(10000))->out, "hello\n");
}

}  // namespace
}  // namespace axion::testing
