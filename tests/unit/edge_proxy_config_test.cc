// The edge proxy's pure parts: spec validation (hostile input never reaches haproxy.cfg),
// deterministic rendering, the reload decision, the admin socket parsers and the stored state.
#include "agent/edge_proxy_config.h"

#include <gtest/gtest.h>

#include "agent/edge_proxy_store.h"

namespace axion::agent::proxy {
namespace {

axion::v1::ProxySpec spec(const std::string& service, unsigned port,
                          std::vector<std::tuple<std::string, std::string, unsigned>> backends,
                          axion::v1::PortProtocol protocol = axion::v1::PORT_PROTOCOL_HTTP) {
  axion::v1::ProxySpec s;
  s.set_service(service);
  s.set_listen_port(port);
  s.set_protocol(protocol);
  for (const auto& [id, address, weight] : backends) {
    auto* b = s.add_backends();
    b->set_instance_id(id);
    b->set_address(address);
    b->set_weight(weight);
  }
  return s;
}

Route valid(const axion::v1::ProxySpec& s) {
  auto r = validate_proxy_spec(s);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? *r : Route{};
}

const RenderOptions kOptions{"/var/lib/axion-agent/proxy/admin.sock", "127.0.0.1"};

void expect_refused(const axion::v1::ProxySpec& s, const std::string& field) {
  auto r = validate_proxy_spec(s);
  ASSERT_FALSE(r.ok()) << "accepted: " << s.ShortDebugString();
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().field(), field) << r.status().message();
  EXPECT_EQ(r.status().message().find('\n'), std::string::npos) << r.status().message();
}

TEST(EdgeProxyConfig, RendersTheSameBytesForTheSameTable) {
  ProxyTable a;
  a["web"] = valid(spec("web", 8080, {{"v1", "127.0.0.1:9001", 100}, {"v2", "localhost:9002", 0}}));
  a["api"] = valid(spec("api", 8081, {{"a1", "10.0.0.5:7000", 1}}, axion::v1::PORT_PROTOCOL_TCP));
  ProxyTable b;  // other insertion order
  b["api"] = a["api"];
  b["web"] = a["web"];
  EXPECT_EQ(render_haproxy_config(a, kOptions), render_haproxy_config(b, kOptions));
  EXPECT_EQ(render_haproxy_config(a, kOptions), render_haproxy_config(a, kOptions));
}

TEST(EdgeProxyConfig, RendersMasterWorkerAdminSocketAndOneFrontendAndBackendPerService) {
  ProxyTable t;
  t["web"] = valid(spec("web", 8080, {{"v1", "127.0.0.1:9001", 100}, {"v2", "localhost:9002", 0}}));
  t["db"] = valid(spec("db", 5433, {{"p1", "10.0.0.5:5432", 1}}, axion::v1::PORT_PROTOCOL_TCP));
  const std::string cfg = render_haproxy_config(t, kOptions);
  for (const char* line :
       {"    master-worker\n",
        "    stats socket /var/lib/axion-agent/proxy/admin.sock mode 600 level admin expose-fd "
        "listeners\n",
        "    option redispatch\n", "    retries 3\n", "frontend fe_web\n    mode http\n",
        "    bind 127.0.0.1:8080\n    default_backend be_web\n",
        "backend be_web\n    mode http\n    balance roundrobin\n",
        "    server v1 127.0.0.1:9001 weight 100 check inter 500ms\n",
        "    server v2 127.0.0.1:9002 weight 0 check inter 500ms\n",
        "frontend fe_db\n    mode tcp\n    bind 127.0.0.1:5433\n",
        "    server p1 10.0.0.5:5432 weight 1 check inter 500ms\n"}) {
    EXPECT_NE(cfg.find(line), std::string::npos) << "missing: " << line << "in:\n" << cfg;
  }
  EXPECT_NE(cfg.find("    option idle-close-on-response\n"), std::string::npos);
  // Services in name order: db before web.
  EXPECT_LT(cfg.find("frontend fe_db"), cfg.find("frontend fe_web"));
}

TEST(EdgeProxyConfig, RefusesHostileServiceNames) {
  const std::vector<std::string> names = {
      "a;rm -rf /", "web\nfrontend evil", "we\"b", "$(x)", "`id`", "", "Web", "-web", "web-",
      "a b",        std::string(64, 'a')};
  for (const std::string& name : names) {
    expect_refused(spec(name, 8080, {{"v1", "127.0.0.1:9001", 1}}), "spec.proxy.service");
  }
}

TEST(EdgeProxyConfig, RefusesHostileInstanceIds) {
  const std::vector<std::string> ids = {
      "v1;reboot", "v1\n    server evil 1.2.3.4:80", "'v1'", "$(x)", "v1 backup", ""};
  for (const std::string& id : ids) {
    expect_refused(spec("web", 8080, {{"ok", "127.0.0.1:9000", 1}, {id, "127.0.0.1:9001", 1}}),
                   "spec.proxy.backends[1].instance_id");
  }
}

TEST(EdgeProxyConfig, RefusesBadAddresses) {
  for (const std::string& address : std::vector<std::string>{
           "127.0.0.1", "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:80\n", "example.com:80",
           "1.2.3:80", "127.0.0.1:8a", ":80", "127.0.0.1:80 backup", "[::1]:80", "$(x):80",
           "127.0.0.1:-1", "0x7f.0.0.1:80", "127.0.0.1:+80", "127.0.0.01:80", ""}) {
    expect_refused(spec("web", 8080, {{"v1", address, 1}}), "spec.proxy.backends[0].address");
  }
}

TEST(EdgeProxyConfig, RefusesBadListenPortsAndWeights) {
  expect_refused(spec("web", 0, {{"v1", "127.0.0.1:9001", 1}}), "spec.proxy.listen_port");
  expect_refused(spec("web", 65536, {{"v1", "127.0.0.1:9001", 1}}), "spec.proxy.listen_port");
  expect_refused(spec("web", 8080, {{"v1", "127.0.0.1:9001", 257}}),
                 "spec.proxy.backends[0].weight");
  EXPECT_TRUE(validate_proxy_spec(spec("web", 65535, {{"v1", "127.0.0.1:9001", 256}})).ok());
  EXPECT_TRUE(validate_proxy_spec(spec("web", 1, {{"v1", "127.0.0.1:9001", 0}})).ok());
}

TEST(EdgeProxyConfig, RefusesUdpEmptyBackendsAndDuplicateInstances) {
  expect_refused(spec("web", 8080, {{"v1", "127.0.0.1:9001", 1}}, axion::v1::PORT_PROTOCOL_UDP),
                 "spec.proxy.protocol");
  expect_refused(spec("web", 8080, {}), "spec.proxy.backends");
  expect_refused(spec("web", 8080, {{"v1", "127.0.0.1:9001", 1}, {"v1", "127.0.0.1:9002", 1}}),
                 "spec.proxy.backends[1].instance_id");
}

TEST(EdgeProxyConfig, UnsetProtocolIsTcpAndLocalhostIsTheLoopbackLiteral) {
  const Route r =
      valid(spec("web", 8080, {{"v1", "localhost:9001", 3}}, axion::v1::PORT_PROTOCOL_UNSPECIFIED));
  EXPECT_EQ(r.mode, ProxyMode::kTcp);
  ASSERT_EQ(r.backends.size(), 1u);
  EXPECT_EQ(r.backends[0].address(), "127.0.0.1:9001");
}

TEST(EdgeProxyConfig, RefusesAServiceOnAPortAnotherServiceListensOn) {
  ProxyTable t;
  t["web"] = valid(spec("web", 8080, {{"v1", "127.0.0.1:9001", 1}}));
  const Status s = check_fits(t, valid(spec("api", 8080, {{"a1", "127.0.0.1:9002", 1}})));
  EXPECT_EQ(s.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(s.message().find("'web'"), std::string::npos) << s.message();
  EXPECT_TRUE(check_fits(t, valid(spec("web", 8080, {{"v2", "127.0.0.1:9002", 1}}))).ok());
}

TEST(EdgeProxyConfig, RefusesUnsafeRenderOptions) {
  EXPECT_FALSE(check_render_options({"/tmp/my dir/admin.sock", "127.0.0.1"}).ok());
  EXPECT_FALSE(check_render_options({"/tmp/a#b/admin.sock", "127.0.0.1"}).ok());
  EXPECT_FALSE(check_render_options({"relative/admin.sock", "127.0.0.1"}).ok());
  EXPECT_FALSE(check_render_options({"/tmp/admin.sock", "localhost"}).ok());
  EXPECT_FALSE(check_render_options({"/tmp/admin.sock", "0.0.0.0 ssl"}).ok());
  EXPECT_TRUE(check_render_options({"/tmp/admin.sock", "0.0.0.0"}).ok());
}

TEST(EdgeProxyConfig, WeightAndAddressChangesNeedNoReloadButNewServersDo) {
  ProxyTable before;
  before["web"] =
      valid(spec("web", 8080, {{"v1", "127.0.0.1:9001", 100}, {"v2", "127.0.0.1:9002", 0}}));
  ProxyTable weights = before;
  weights["web"] =
      valid(spec("web", 8080, {{"v1", "127.0.0.1:9001", 0}, {"v2", "127.0.0.1:9003", 100}}));
  EXPECT_FALSE(needs_reload(before, weights));
  EXPECT_EQ(describe_change(before, weights),
            "web: v1 weight 100->0; v2 address 127.0.0.1:9002->127.0.0.1:9003; v2 weight 0->100");
  ProxyTable added = before;
  added["web"].backends.push_back({"v3", "127.0.0.1", 9004, 5});
  EXPECT_TRUE(needs_reload(before, added));
  EXPECT_EQ(describe_change(before, added), "web: added server v3 (127.0.0.1:9004, weight 5)");
  ProxyTable moved = before;
  moved["web"].listen_port = 8090;
  EXPECT_TRUE(needs_reload(before, moved));
  ProxyTable other = before;
  other["api"] = valid(spec("api", 8081, {{"a1", "127.0.0.1:9005", 1}}));
  EXPECT_TRUE(needs_reload(before, other));
  EXPECT_TRUE(needs_reload({}, before));
  EXPECT_EQ(describe_change(before, before), "no change");
}

constexpr const char* kServersState =
    "1\n"
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health "
    "srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord "
    "srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n"
    "3 be_web 1 v1 127.0.0.1 2 0 50 100 12 6 3 4 6 0 0 0 - 9001 - 0 0 - - 0\n"
    "3 be_web 2 v2 127.0.0.1 2 0 50 0 12 6 3 4 6 0 0 0 - 9002 - 0 0 - - 0\n"
    "\n";

TEST(EdgeProxyConfig, ParsesServersStateAndFindsMismatches) {
  const auto servers = parse_servers_state(kServersState);
  ASSERT_EQ(servers.size(), 2u);
  EXPECT_EQ(servers[1].backend, "be_web");
  EXPECT_EQ(servers[1].server, "v2");
  EXPECT_EQ(servers[1].host, "127.0.0.1");
  EXPECT_EQ(servers[1].port, 9002);
  EXPECT_EQ(servers[1].weight, 50u);
  ProxyTable t;
  t["web"] = valid(spec("web", 8080, {{"v1", "127.0.0.1:9001", 50}, {"v2", "127.0.0.1:9002", 50}}));
  EXPECT_EQ(mismatch(t, servers), "");
  t["web"].backends[1].weight = 100;
  t["web"].backends.push_back({"v3", "127.0.0.1", 9003, 1});
  EXPECT_EQ(mismatch(t, servers), "be_web/v2: weight 50, want 100; be_web/v3: not configured");
  EXPECT_EQ(parse_info_pid("Name: HAProxy\nVersion: 2.6.12\nPid: 4242\nUptime: 0d\n"), 4242);
  EXPECT_EQ(parse_info_pid("Name: HAProxy\n"), 0);
}

TEST(EdgeProxyStore, StateRoundTripsThroughJson) {
  ProxyState s;
  s.desired["web"] =
      valid(spec("web", 8080, {{"v1", "127.0.0.1:9001", 100}, {"v2", "127.0.0.1:9002", 0}}));
  s.desired["db"] =
      valid(spec("db", 5433, {{"p1", "10.0.0.5:5432", 1}}, axion::v1::PORT_PROTOCOL_TCP));
  s.loaded["web"] = s.desired["web"];
  const std::string text = state_to_json(s);
  auto back = state_from_json(text);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(*back, s);
  EXPECT_EQ(state_to_json(*back), text);
}

TEST(EdgeProxyStore, RefusesAStoredStateThatWouldInjectIntoTheConfig) {
  const auto hostile = state_from_json(
      R"({"version":1,"desired":{"a;rm -rf /":{"listen_port":80,"protocol":"http",)"
      R"("backends":[{"instance_id":"v1","address":"127.0.0.1:1","weight":1}]}},"loaded":{}})");
  EXPECT_EQ(hostile.status().code(), StatusCode::kDataLoss);
  const auto address = state_from_json(
      R"({"version":1,"desired":{"web":{"listen_port":80,"protocol":"http",)"
      R"("backends":[{"instance_id":"v1","address":"1.2.3.4:1\nbackend x","weight":1}]}}})");
  EXPECT_EQ(address.status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(state_from_json("not json").status().code(), StatusCode::kDataLoss);
  EXPECT_EQ(state_from_json(R"({"version":2})").status().code(), StatusCode::kDataLoss);
}

}  // namespace
}  // namespace axion::agent::proxy
