// axion clusters list|create, axion servers list|add|test|install|uninstall, axion agents list:
// the servers a project runs on and their agents. Clusters and servers are named by name or id.
// SSH secrets come from a key file or standard input, never from the command line (which other
// users of the machine can read).
#include <google/protobuf/util/time_util.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "axion/v1/infrastructure.grpc.pb.h"
#include "cli/commands.h"

namespace axion::cli {

namespace v1 = axion::v1;

namespace {

std::string tail_of(const std::string& name, const std::string& prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

Result<v1::ListClusterServersResponse> servers_of(const Connection& c, const std::string& id) {
  auto stub = v1::InfrastructureService::NewStub(c.channel());
  v1::ListClusterServersRequest req;
  req.set_cluster_id(id);
  return list_all<v1::ListClusterServersRequest, v1::ListClusterServersResponse>(
      c, req,
      [&](auto* cc, const auto& r, auto* page) { return stub->ListClusterServers(cc, r, page); });
}

Result<v1::ListClustersResponse> all_clusters(const Connection& c) {
  auto stub = v1::InfrastructureService::NewStub(c.channel());
  return list_all<v1::ListClustersRequest, v1::ListClustersResponse>(
      c, {}, [&](auto* cc, const auto& r, auto* page) { return stub->ListClusters(cc, r, page); });
}

Result<v1::Server> find_server(const Connection& c, const std::string& cluster,
                               const std::string& name_or_id) {
  auto cl = find_cluster(c, cluster);
  if (!cl.ok()) return cl.status();
  auto all = servers_of(c, cl->cluster_id());
  if (!all.ok()) return all.status();
  for (const auto& s : all->servers())
    if (s.name() == name_or_id || s.server_id() == name_or_id) return s;
  return not_found("cluster " + cl->name() + " has no server '" + name_or_id + "'");
}

Status list_clusters(const Context& ctx) {
  Connection c(ctx.connection);
  auto listed = all_clusters(c);
  if (!listed.ok()) return listed.status();
  const v1::ListClustersResponse& all = *listed;
  Table t{{"NAME", "ID", "SERVERS"}, {}};
  for (const auto& cl : all.clusters())
    t.rows.push_back({cl.name(), cl.cluster_id(), std::to_string(cl.server_count())});
  std::cout << render(ctx.format(), all, t);
  return ok_status();
}

Status create_cluster(const Context& ctx, const std::string& name) {
  Connection c(ctx.connection);
  auto stub = v1::InfrastructureService::NewStub(c.channel());
  v1::CreateClusterRequest req;
  req.set_name(name);
  v1::CreateClusterResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->CreateCluster(cc, req, &resp); },
                               "axion-cli-cluster:" + name));
  std::cout << render(ctx.format(), resp, Table{{"NAME", "ID"}, {{name, resp.cluster_id()}}});
  return ok_status();
}

Table server_table(const v1::ListClusterServersResponse& all) {
  Table t{{"NAME", "ID", "ADDRESS", "STATUS", "AGENT", "VERSION", "HOST KEY"}, {}};
  for (const auto& s : all.servers()) {
    t.rows.push_back({s.name(), s.server_id(),
                      s.ssh_user() + "@" + s.host() + ":" + std::to_string(s.port()),
                      tail_of(v1::ServerStatus_Name(s.status()), "SERVER_STATUS_"),
                      tail_of(v1::AgentStatus_Name(s.agent_status()), "AGENT_STATUS_"),
                      s.agent_version(), s.host_key_fingerprint()});
  }
  return t;
}

Status list_servers(const Context& ctx, const std::string& cluster) {
  Connection c(ctx.connection);
  auto cl = find_cluster(c, cluster);
  if (!cl.ok()) return cl.status();
  auto all = servers_of(c, cl->cluster_id());
  if (!all.ok()) return all.status();
  std::cout << render(ctx.format(), *all, server_table(*all));
  return ok_status();
}

struct AddArgs {
  std::string cluster, name, host, user = "root", key_file;
  std::uint32_t port = 22;
  bool password_stdin = false;
};

Status add_server(const Context& ctx, const AddArgs& a) {
  v1::CreateServerRequest req;
  req.set_name(a.name);
  req.set_host(a.host);
  req.set_port(a.port);
  req.set_ssh_user(a.user);
  if (a.password_stdin && !a.key_file.empty()) {
    return invalid_argument("give the SSH secret with one of --key-file or --password-stdin");
  }
  // Neither: a server without SSH access, whose agent is installed by hand (axion servers token).
  if (!a.key_file.empty()) {
    std::ifstream in(a.key_file);
    if (!in) return invalid_argument("cannot read the private key " + a.key_file);
    std::ostringstream key;
    key << in.rdbuf();
    req.mutable_credential()->set_private_key(key.str());
  } else if (a.password_stdin) {
    std::string password;
    std::getline(std::cin, password);
    req.mutable_credential()->set_password(password);
  }
  Connection c(ctx.connection);
  auto cl = find_cluster(c, a.cluster);
  if (!cl.ok()) return cl.status();
  req.set_cluster_id(cl->cluster_id());
  auto stub = v1::InfrastructureService::NewStub(c.channel());
  v1::CreateServerResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->CreateServer(cc, req, &resp); }));
  std::cout << render(ctx.format(), resp,
                      Table{{"NAME", "ID", "CLUSTER"}, {{a.name, resp.server_id(), cl->name()}}});
  return ok_status();
}

Status test_server(Context& ctx, const std::string& cluster, const std::string& server, bool pin) {
  Connection c(ctx.connection);
  auto s = find_server(c, cluster, server);
  if (!s.ok()) return s.status();
  auto stub = v1::InfrastructureService::NewStub(c.channel());
  v1::TestServerConnectionRequest req;
  req.set_cluster_id(s->cluster_id());
  req.set_server_id(s->server_id());
  req.set_pin_host_key(pin);
  v1::TestServerConnectionResponse resp;
  AXION_RETURN_IF_ERROR(
      c.call([&](auto* cc) { return stub->TestServerConnection(cc, req, &resp); }));
  const v1::ServerReport& r = resp.report();
  Table t{{"REACHABLE", "AUTHENTICATED", "OS", "ARCH", "CPUS", "MEMORY MIB", "DISK MIB", "SYSTEMD",
           "DOCKER", "HOST KEY"},
          {{r.reachable() ? "yes" : "no", r.authenticated() ? "yes" : "no", r.os(), r.arch(),
            std::to_string(r.cpu_count()), std::to_string(r.memory_mb()),
            std::to_string(r.disk_mb()), r.systemd() ? "yes" : "no",
            r.docker() ? r.docker_version() : "no", r.host_key_fingerprint()}}};
  std::cout << render(ctx.format(), resp, t);
  for (const auto& e : r.errors()) std::cerr << "  " << e << "\n";
  if (!r.authenticated()) ctx.ended_badly = "server " + server + " is not usable over SSH";
  return ok_status();
}

// Follows an install until the agent registered or the install ended, printing each step.
Status watch_install(Context& ctx, const Connection& c, const v1::Server& s,
                     const std::string& install_id) {
  auto stub = v1::InfrastructureService::NewStub(c.channel());
  v1::AgentInstallStep shown = v1::AGENT_INSTALL_STEP_UNSPECIFIED;
  for (;;) {
    v1::GetAgentStatusRequest req;
    req.set_server_id(s.server_id());
    v1::GetAgentStatusResponse a;
    AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->GetAgentStatus(cc, req, &a); }));
    if (a.install_id() == install_id && a.last_install_step() != shown) {
      shown = a.last_install_step();
      if (ctx.format() == Format::kTable) {
        std::cout << "  " << tail_of(v1::AgentInstallStep_Name(shown), "AGENT_INSTALL_STEP_")
                  << "\n"
                  << std::flush;
      }
    }
    const bool done = a.status() == v1::AGENT_STATUS_ONLINE &&
                      a.last_install_step() == v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION;
    if (done || a.status() == v1::AGENT_STATUS_FAILED) {
      if (!done) ctx.ended_badly = "the install on " + s.name() + " failed: " + a.reason();
      Table t{{"SERVER", "AGENT", "STATUS", "VERSION"},
              {{s.name(), a.agent_id(), tail_of(v1::AgentStatus_Name(a.status()), "AGENT_STATUS_"),
                a.version()}}};
      std::cout << render(ctx.format(), a, t);
      return ok_status();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

Status install(Context& ctx, const std::string& cluster, const std::string& server, bool follow) {
  Connection c(ctx.connection);
  auto s = find_server(c, cluster, server);
  if (!s.ok()) return s.status();
  auto stub = v1::InfrastructureService::NewStub(c.channel());
  v1::InstallAgentRequest req;
  req.set_cluster_id(s->cluster_id());
  req.set_server_id(s->server_id());
  v1::InstallAgentResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->InstallAgent(cc, req, &resp); }));
  if (ctx.format() == Format::kTable) {
    std::cout << "installing the agent on " << s->name() << " (install " << resp.install_id()
              << ")\n";
  }
  if (follow) return watch_install(ctx, c, *s, resp.install_id());
  if (ctx.format() != Format::kTable) std::cout << render(ctx.format(), resp, Table{});
  return ok_status();
}

Status uninstall(Context& ctx, const std::string& cluster, const std::string& server) {
  Connection c(ctx.connection);
  auto s = find_server(c, cluster, server);
  if (!s.ok()) return s.status();
  auto stub = v1::InfrastructureService::NewStub(c.channel());
  v1::UninstallAgentRequest req;
  req.set_cluster_id(s->cluster_id());
  req.set_server_id(s->server_id());
  v1::UninstallAgentResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->UninstallAgent(cc, req, &resp); }));
  std::cout << render(ctx.format(), resp,
                      Table{{"SERVER", "REMOVAL"}, {{s->name(), resp.uninstall_id()}}});
  return ok_status();
}

// A one-time registration token for installing an agent by hand; printed once.
Status token(Context& ctx, const std::string& cluster, const std::string& server) {
  Connection c(ctx.connection);
  auto s = find_server(c, cluster, server);
  if (!s.ok()) return s.status();
  auto stub = v1::InfrastructureService::NewStub(c.channel());
  v1::CreateAgentRegistrationTokenRequest req;
  req.set_cluster_id(s->cluster_id());
  req.set_server_id(s->server_id());
  v1::CreateAgentRegistrationTokenResponse resp;
  AXION_RETURN_IF_ERROR(
      c.call([&](auto* cc) { return stub->CreateAgentRegistrationToken(cc, req, &resp); }));
  if (ctx.format() == Format::kTable) {
    std::cout << resp.token() << "\n";
    std::cerr << "one-time token for server " << s->name() << ": axion-agent --server-id "
              << s->server_id() << " --token-file <a file holding it> --server <address>\n";
  } else {
    std::cout << render(ctx.format(), resp, Table{});
  }
  return ok_status();
}

}  // namespace

Result<v1::Cluster> find_cluster(const Connection& c, const std::string& name_or_id) {
  auto all = all_clusters(c);
  if (!all.ok()) return all.status();
  for (const auto& cl : all->clusters())
    if (cl.name() == name_or_id || cl.cluster_id() == name_or_id) return cl;
  return not_found("no cluster is named '" + name_or_id + "' (axion clusters create makes one)");
}

void add_infra_commands(CLI::App& app, Context& ctx) {
  CLI::App* clusters = app.add_subcommand("clusters", "clusters of servers");
  clusters->require_subcommand(1);
  clusters->add_subcommand("list", "the clusters")->callback([&ctx] {
    ctx.finish(list_clusters(ctx));
  });
  auto name = std::make_shared<std::string>();
  CLI::App* create = clusters->add_subcommand("create", "a new cluster");
  create->add_option("name", *name, "its name")->required();
  create->callback([&ctx, name] { ctx.finish(create_cluster(ctx, *name)); });

  auto cluster = std::make_shared<std::string>();
  auto server = std::make_shared<std::string>();
  CLI::App* servers = app.add_subcommand("servers", "servers, their SSH access and their agent");
  servers->require_subcommand(1);
  servers->fallthrough();  // -c may follow the subcommand: axion servers list -c prod
  servers->add_option("-c,--cluster", *cluster, "cluster name or id")->required();
  servers->add_subcommand("list", "the cluster's servers")->callback([&ctx, cluster] {
    ctx.finish(list_servers(ctx, *cluster));
  });

  auto a = std::make_shared<AddArgs>();
  CLI::App* add = servers->add_subcommand("add", "register a server reached over SSH");
  add->add_option("name", a->name, "its name")->required();
  add->add_option("--host", a->host, "SSH host name or address")->required();
  add->add_option("--port", a->port, "SSH port")->capture_default_str();
  add->add_option("--user", a->user, "SSH user")->capture_default_str();
  add->add_option("--key-file", a->key_file, "private key file");
  add->add_flag("--password-stdin", a->password_stdin, "read the SSH password from stdin");
  add->callback([&ctx, a, cluster] {
    a->cluster = *cluster;
    ctx.finish(add_server(ctx, *a));
  });

  auto pin = std::make_shared<bool>(false);
  CLI::App* test = servers->add_subcommand("test", "connect over SSH and report what is there");
  test->add_option("server", *server, "server name or id")->required();
  test->add_flag("--pin", *pin, "pin the host key it presents (trust on first use)");
  test->callback(
      [&ctx, cluster, server, pin] { ctx.finish(test_server(ctx, *cluster, *server, *pin)); });

  auto follow = std::make_shared<bool>(false);
  CLI::App* inst = servers->add_subcommand("install", "install the agent over SSH");
  inst->add_option("server", *server, "server name or id")->required();
  inst->add_flag("-w,--watch", *follow, "follow the steps; exit 4 unless it registered");
  inst->callback(
      [&ctx, cluster, server, follow] { ctx.finish(install(ctx, *cluster, *server, *follow)); });

  CLI::App* tok =
      servers->add_subcommand("token", "a one-time registration token to start an agent by hand");
  tok->add_option("server", *server, "server name or id")->required();
  tok->callback([&ctx, cluster, server] { ctx.finish(token(ctx, *cluster, *server)); });

  CLI::App* un = servers->add_subcommand("uninstall", "stop the agent and remove its files");
  un->add_option("server", *server, "server name or id")->required();
  un->callback([&ctx, cluster, server] { ctx.finish(uninstall(ctx, *cluster, *server)); });

  CLI::App* agents = app.add_subcommand("agents", "the agents of a cluster's servers");
  agents->require_subcommand(1);
  auto agents_cluster = std::make_shared<std::string>();
  CLI::App* al = agents->add_subcommand("list", "servers with their agent's status");
  al->add_option("-c,--cluster", *agents_cluster, "cluster name or id")->required();
  al->callback([&ctx, agents_cluster] { ctx.finish(list_servers(ctx, *agents_cluster)); });
}

}  // namespace axion::cli
