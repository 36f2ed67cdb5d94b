// Cluster aggregate, servers: CreateServer and ConfigureServer — hostile hosts and users, port
// range, sealed credentials only (plaintext refused, also when smuggled in a request type),
// unique host:port and names, the per-user server limit, host key reset on a move.
#include <gtest/gtest.h>

#include "cluster_test_support.h"

namespace axion::commands::testing {
namespace {

TEST(CreateServer, RecordsTheServerWithTheDerivedId) {
  History h = with_cluster();
  auto cmd = create_server("web-1.example.com", "web-1", 0);
  const auto d = h.step(cmd, ctx("create-server", "alice"));
  const auto ev = only_event<v1::ServerCreated>(d);
  const std::string id = derive_id("srv", "create-server");
  EXPECT_EQ(d.ids.at("server_id"), id);
  EXPECT_EQ(ev.server_id(), id);
  EXPECT_EQ(ev.cluster_id(), "c-12");
  EXPECT_EQ(ev.host(), "web-1.example.com");
  EXPECT_EQ(ev.port(), 22u);  // 0 means 22, recorded explicitly
  EXPECT_EQ(ev.ssh_user(), "deploy");
  EXPECT_EQ(ev.credential().ciphertext(), sealed().ciphertext());
  EXPECT_EQ(ev.created_by(), "alice");
  const ServerState& s = h.state.servers.at(id);
  EXPECT_EQ(s.status, v1::SERVER_STATUS_NEW);
  EXPECT_EQ(s.agent_status, v1::AGENT_STATUS_UNKNOWN);
  EXPECT_EQ(s.labels.at("zone"), "a");
  EXPECT_EQ(s.version, 1u);
  EXPECT_EQ(h.state.version, 1u);  // server events do not advance the cluster's stream
}

TEST(CreateServer, KeepsAGatewayAssignedId) {
  auto cmd = create_server();
  cmd.set_server_id("s-42");
  EXPECT_EQ(only_event<v1::ServerCreated>(decide(with_cluster().state, cmd, ctx())).server_id(),
            "s-42");
  cmd.set_server_id("s 42");
  EXPECT_REFUSED(decide(with_cluster().state, cmd, ctx()), StatusCode::kInvalidArgument,
                 "server_id");
  std::string id;
  const History h = with_server(&id);
  cmd.set_server_id(id);
  cmd.set_host("10.0.0.99");
  cmd.set_name("other");
  EXPECT_REFUSED(decide(h.state, cmd, ctx()), StatusCode::kAlreadyExists, "");
  EXPECT_REFUSED(decide(h.state, create_server("10.0.0.99", "other"), ctx("")),
                 StatusCode::kInvalidArgument, "command_id");
}

TEST(CreateServer, TheClusterMustExist) {
  EXPECT_REFUSED(decide(ClusterState{}, create_server(), ctx()), StatusCode::kNotFound, "");
  History h = with_cluster();
  v1::DeleteCluster del;
  del.set_cluster_id("c-12");
  h.step(del, ctx("d"));
  EXPECT_REFUSED(decide(h.state, create_server(), ctx()), StatusCode::kNotFound, "");
  auto elsewhere = create_server();
  elsewhere.set_cluster_id("c-13");
  EXPECT_REFUSED(decide(with_cluster().state, elsewhere, ctx()), StatusCode::kInvalidArgument,
                 "cluster_id");
  elsewhere.clear_cluster_id();
  EXPECT_REFUSED(decide(with_cluster().state, elsewhere, ctx()), StatusCode::kInvalidArgument,
                 "cluster_id");
}

TEST(CreateServer, RefusesHostileHosts) {
  const ClusterState s = with_cluster().state;
  const std::vector<std::string> hostile = {
      "", "a;rm -rf /", "$(x)", "`id`", "host name", "host\nname", "host\tname",
      "-oProxyCommand=x", "a..b", ".a", "a.", "a_b.example", "h\u00e9st", "[::1]", "::1%eth0",
      "10.0.0.256", "1.2.3", "010.0.0.1", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "a/b",
      "a:22", std::string(64, 'a') + ".com", std::string(254, 'a'), std::string("a\0b", 3)};
  for (const std::string& host : hostile) {
    EXPECT_REFUSED(decide(s, create_server(host), ctx()), StatusCode::kInvalidArgument, "host");
  }
}

TEST(CreateServer, AcceptsHostnamesAndIpLiterals) {
  const ClusterState s = with_cluster().state;
  for (const std::string& host : std::vector<std::string>
       {"localhost", "web-1.example.com", "WEB1.Example.COM", "10.0.0.5", "0.0.0.0",
        "255.255.255.255", "::1", "::", "2001:db8::1", "fe80::a:b:c:d",
        "0:0:0:0:0:0:0:1", "::ffff:192.0.2.1", "3com.example", std::string(63, 'a') + ".io"}) {
    EXPECT_TRUE(decide(s, create_server(host), ctx()).ok()) << host;
  }
}

TEST(CreateServer, RefusesHostileSshUsersAndBadPorts) {
  const ClusterState s = with_cluster().state;
  for (const std::string& user :
       std::vector<std::string>{"", "Root", "1user", "-oops", "a b", "a;b", "$(x)", "us\ner",
                                "user$", std::string(33, 'u')}) {
    auto cmd = create_server();
    cmd.set_ssh_user(user);
    EXPECT_REFUSED(decide(s, cmd, ctx()), StatusCode::kInvalidArgument, "ssh_user");
  }
  for (const std::string& user :
       std::vector<std::string>{"root", "_svc", "deploy-bot", "a1_b2", std::string(32, 'u')}) {
    auto cmd = create_server();
    cmd.set_ssh_user(user);
    EXPECT_TRUE(decide(s, cmd, ctx()).ok()) << user;
  }
  EXPECT_REFUSED(decide(s, create_server("10.0.0.5", "web-1", 65536), ctx()),
                 StatusCode::kInvalidArgument, "port");
  EXPECT_TRUE(decide(s, create_server("10.0.0.5", "web-1", 65535), ctx()).ok());
  EXPECT_TRUE(decide(s, create_server("10.0.0.5", "web-1", 1), ctx()).ok());
}

TEST(CreateServer, RefusesBadNamesLabelsAndAuthKind) {
  const ClusterState s = with_cluster().state;
  EXPECT_REFUSED(decide(s, create_server("10.0.0.5", "Web 1"), ctx()),
                 StatusCode::kInvalidArgument, "name");
  auto labels = create_server();
  (*labels.mutable_labels())["bad key"] = "v";
  EXPECT_REFUSED(decide(s, labels, ctx()), StatusCode::kInvalidArgument, "labels");
  auto auth = create_server();
  auth.set_auth_kind(v1::SSH_AUTH_KIND_UNSPECIFIED);
  EXPECT_REFUSED(decide(s, auth, ctx()), StatusCode::kInvalidArgument, "auth_kind");
}

TEST(CreateServer, AcceptsOnlySealedCredentials) {
  const ClusterState s = with_cluster().state;
  auto missing = create_server();
  missing.clear_credential();
  EXPECT_REFUSED(decide(s, missing, ctx()), StatusCode::kInvalidArgument, "credential");

  const std::string password = "correct horse battery staple";
  auto plain = create_server();
  plain.mutable_credential()->set_ciphertext(password);
  const auto d = decide(s, plain, ctx());
  EXPECT_REFUSED(d, StatusCode::kInvalidArgument, "credential.ciphertext");
  EXPECT_EQ(d.status().message().find(password), std::string::npos) << "echoes the secret";

  auto pem = create_server();
  pem.mutable_credential()->set_ciphertext(std::string("\x01\x02") +
                                           "-----BEGIN OPENSSH PRIVATE KEY-----\n\x03");
  EXPECT_REFUSED(decide(s, pem, ctx()), StatusCode::kInvalidArgument, "credential.ciphertext");
  auto short_ct = create_server();
  short_ct.mutable_credential()->set_ciphertext(std::string(16, '\x01'));
  EXPECT_REFUSED(decide(s, short_ct, ctx()), StatusCode::kInvalidArgument,
                 "credential.ciphertext");
  auto nonce = create_server();
  nonce.mutable_credential()->clear_nonce();
  EXPECT_REFUSED(decide(s, nonce, ctx()), StatusCode::kInvalidArgument, "credential.nonce");
  auto key = create_server();
  key.mutable_credential()->set_key_id("hunter2 hunter2");
  const auto k = decide(s, key, ctx());
  EXPECT_REFUSED(k, StatusCode::kInvalidArgument, "credential.key_id");
  EXPECT_EQ(k.status().message().find("hunter2"), std::string::npos) << "echoes the secret";
}

TEST(CreateServer, RefusesARequestWithPlaintextPackedAsTheCommand) {
  // A client or buggy gateway that queues CreateServerRequest bytes (with its plaintext
  // SshCredential) as a CreateServer: field 7 arrives with the wrong wire type -> unknown field.
  v1::CreateServerRequest request;
  request.set_cluster_id("c-12");
  request.set_name("web-1");
  request.set_host("10.0.0.5");
  request.set_ssh_user("deploy");
  request.mutable_credential()->set_password("hunter2-plaintext");
  v1::CreateServer smuggled;
  ASSERT_TRUE(smuggled.ParseFromString(request.SerializeAsString()));
  const auto d = decide(with_cluster().state, smuggled, ctx());
  EXPECT_REFUSED(d, StatusCode::kInvalidArgument, "");
  EXPECT_EQ(d.status().message().find("hunter2"), std::string::npos);
  // An SshCredential's bytes read as a SealedSecret: the password becomes key_id, with no
  // nonce — refused as unsealed, without echoing it.
  std::string id;
  History h = with_server(&id);
  v1::SshCredential plaintext;
  plaintext.set_password("hunter2");
  auto cfg = v1::ConfigureServer();
  cfg.set_server_id(id);
  ASSERT_TRUE(cfg.mutable_credential()->ParseFromString(plaintext.SerializeAsString()));
  cfg.mutable_update_mask()->add_paths("credential");
  const auto c = decide(h.state, cfg, ctx());
  EXPECT_REFUSED(c, StatusCode::kInvalidArgument, "credential.nonce");
  EXPECT_EQ(c.status().message().find("hunter2"), std::string::npos);
}

TEST(CreateServer, HostAndPortAreUniqueWithinTheCluster) {
  std::string id;
  History h = with_server(&id);
  const auto d = decide(h.state, create_server("10.0.0.5", "web-9"), ctx("dup"));
  EXPECT_REFUSED(d, StatusCode::kAlreadyExists, "");
  EXPECT_EQ(d.status().message(), "server 10.0.0.5:22 already exists in cluster c-12 as " + id);
  EXPECT_REFUSED(decide(h.state, create_server("10.0.0.5", "web-9", 0), ctx()),
                 StatusCode::kAlreadyExists, "");
  EXPECT_TRUE(decide(h.state, create_server("10.0.0.5", "web-9", 2222), ctx()).ok());

  h.step(create_server("Db.Example.com", "db"), ctx("db"));
  EXPECT_REFUSED(decide(h.state, create_server("db.example.COM", "db-2"), ctx()),
                 StatusCode::kAlreadyExists, "");
  h.step(create_server("::1", "v6"), ctx("v6"));
  const auto v6 = decide(h.state, create_server("0:0:0:0:0:0:0:1", "v6-2"), ctx());
  EXPECT_REFUSED(v6, StatusCode::kAlreadyExists, "");
  EXPECT_NE(v6.status().message().find("[0:0:0:0:0:0:0:1]:22"), std::string::npos);
  EXPECT_REFUSED(decide(h.state, create_server("10.0.0.7", "web-1"), ctx()),
                 StatusCode::kAlreadyExists, "");  // the name is taken
}

TEST(CreateServer, RefusedOnAKubernetesCluster) {
  auto k8s = create_cluster();
  k8s.set_kind(v1::CLUSTER_KIND_KUBERNETES);
  History h;
  h.step(k8s, ctx());
  EXPECT_REFUSED(decide(h.state, create_server(), ctx()), StatusCode::kFailedPrecondition, "");
}

TEST(CreateServer, MaxServersPerUserCountsTheActorsServers) {
  History h = with_cluster();
  CommandContext alice = ctx("a1", "alice");
  alice.limits.max_servers_per_user = 2;
  h.step(create_server("10.0.0.1", "a1"), alice);
  alice.command_id = "a2";
  h.step(create_server("10.0.0.2", "a2"), alice);
  alice.command_id = "a3";
  const auto d = decide(h.state, create_server("10.0.0.3", "a3"), alice);
  EXPECT_REFUSED(d, StatusCode::kResourceExhausted, "");
  EXPECT_NE(d.status().message().find("MAX_SERVERS_PER_USER is 2"), std::string::npos);
  CommandContext bob = ctx("b1", "bob");
  bob.limits.max_servers_per_user = 2;
  EXPECT_TRUE(decide(h.state, create_server("10.0.0.3", "b1"), bob).ok());
  bob.limits.max_servers_per_user = 0;
  EXPECT_REFUSED(decide(h.state, create_server("10.0.0.3", "b1"), bob),
                 StatusCode::kResourceExhausted, "");
}

v1::ConfigureServer configure(const std::string& id, std::vector<std::string> mask) {
  v1::ConfigureServer c;
  c.set_server_id(id);
  c.set_name("web-1");
  c.set_host("10.0.0.9");
  c.set_port(22);
  c.set_ssh_user("deploy");
  c.set_auth_kind(v1::SSH_AUTH_KIND_PRIVATE_KEY);
  *c.mutable_credential() = sealed();
  (*c.mutable_labels())["zone"] = "b";
  for (auto& p : mask) c.mutable_update_mask()->add_paths(p);
  return c;
}

TEST(ConfigureServer, AMoveDropsThePinnedHostKey) {
  std::string id;
  History h = with_server(&id);
  v1::HostKeyPinned pinned;
  pinned.set_server_id(id);
  pinned.set_cluster_id("c-12");
  pinned.set_fingerprint("SHA256:abc");
  h.happen(pinned);
  const auto ev = only_event<v1::ServerConfigured>(h.step(configure(id, {}), ctx("cfg")));
  EXPECT_EQ(ev.host(), "10.0.0.9");
  EXPECT_TRUE(ev.host_key_reset());
  EXPECT_EQ(ev.labels().at("zone"), "b");
  const ServerState& s = h.state.servers.at(id);
  EXPECT_EQ(s.host, "10.0.0.9");
  EXPECT_EQ(s.host_key_fingerprint, "");
  EXPECT_EQ(s.status, v1::SERVER_STATUS_NEW);
  EXPECT_EQ(s.version, 3u);
}

TEST(ConfigureServer, TheMaskLimitsWhatChangesAndSameValuesAreANoOp) {
  std::string id;
  History h = with_server(&id);
  auto labels_only = configure(id, {"labels"});
  labels_only.clear_credential();  // not in the mask: not required
  const auto ev = only_event<v1::ServerConfigured>(h.step(labels_only, ctx()));
  EXPECT_EQ(ev.host(), "10.0.0.5");
  EXPECT_FALSE(ev.host_key_reset());
  EXPECT_EQ(ev.credential().ciphertext(), sealed().ciphertext());
  const auto again = decide(h.state, labels_only, ctx());
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->events.empty());
}

TEST(ConfigureServer, Refusals) {
  std::string id;
  History h = with_server(&id);
  h.step(create_server("10.0.0.9", "web-2"), ctx("s2"));
  EXPECT_REFUSED(decide(h.state, configure("srv-missing", {}), ctx()), StatusCode::kNotFound, "");
  EXPECT_REFUSED(decide(h.state, configure("", {}), ctx()), StatusCode::kInvalidArgument,
                 "server_id");
  EXPECT_REFUSED(decide(h.state, configure(id, {"cluster_id"}), ctx()),
                 StatusCode::kInvalidArgument, "update_mask");
  auto hostile = configure(id, {"host"});
  hostile.set_host("$(reboot)");
  EXPECT_REFUSED(decide(h.state, hostile, ctx()), StatusCode::kInvalidArgument, "host");
  auto name = configure(id, {"name"});
  name.set_name("web_1");
  EXPECT_REFUSED(decide(h.state, name, ctx()), StatusCode::kInvalidArgument, "name");
  auto auth = configure(id, {"auth_kind"});
  auth.set_auth_kind(v1::SSH_AUTH_KIND_UNSPECIFIED);
  EXPECT_REFUSED(decide(h.state, auth, ctx()), StatusCode::kInvalidArgument, "auth_kind");
  auto user = configure(id, {"ssh_user"});
  user.set_ssh_user("root;id");
  EXPECT_REFUSED(decide(h.state, user, ctx()), StatusCode::kInvalidArgument, "ssh_user");
  auto port = configure(id, {"port"});
  port.set_port(70000);
  EXPECT_REFUSED(decide(h.state, port, ctx()), StatusCode::kInvalidArgument, "port");
  auto no_cred = configure(id, {"credential"});
  no_cred.clear_credential();
  EXPECT_REFUSED(decide(h.state, no_cred, ctx()), StatusCode::kInvalidArgument, "credential");
  auto plain = configure(id, {"credential"});
  plain.mutable_credential()->set_ciphertext("my password is swordfish");
  EXPECT_REFUSED(decide(h.state, plain, ctx()), StatusCode::kInvalidArgument,
                 "credential.ciphertext");
  // Moving onto another server's host:port, or taking its name.
  EXPECT_REFUSED(decide(h.state, configure(id, {"host"}), ctx()), StatusCode::kAlreadyExists, "");
  auto taken = configure(id, {"name"});
  taken.set_name("web-2");
  EXPECT_REFUSED(decide(h.state, taken, ctx()), StatusCode::kAlreadyExists, "");
  // Connection settings are frozen while an install runs.
  v1::InstallAgent install;
  install.set_server_id(id);
  h.step(install, ctx("install"));
  auto move = configure(id, {"host"});
  move.set_host("10.0.0.10");
  EXPECT_REFUSED(decide(h.state, move, ctx()), StatusCode::kFailedPrecondition, "");
  EXPECT_TRUE(decide(h.state, configure(id, {"labels"}), ctx()).ok());
}

}  // namespace
}  // namespace axion::commands::testing
