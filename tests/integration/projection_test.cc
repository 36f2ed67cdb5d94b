// The read side end to end on both logs: commands decided by the CommandProcessor, projected
// by the ProjectionProcessor into a view store, answered by ViewQueries — read-your-writes by
// the positions a command's result carries, filters and paging, precise refusals, and a
// restarted projection that neither skips nor repeats an event.
#include <gtest/gtest.h>

#include <map>

#include "axion/v1/audit.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "commands/aggregate_kinds.h"
#include "commands/command_bus.h"
#include "commands/command_processor.h"
#include "events/topics.h"
#include "projections/memory_view_store.h"
#include "projections/projection_processor.h"
#include "projections/queries.h"
#include "tests/integration/log_backends.h"
#include "tests/integration/project_commands.h"

namespace axion::testing {
namespace {

using std::chrono::milliseconds;
namespace v1 = axion::v1;

constexpr auto kWait = milliseconds(60000);

class ReadSide : public ::testing::TestWithParam<LogBackend> {
 protected:
  void SetUp() override {
    auto log = GetParam().open(scratch_dir("read-side-" + GetParam().name));
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    log_ = std::move(log).value();
    const std::string suffix = unique_name("t");
    commands_.commands_topic = "cmd-" + suffix;
    commands_.results_topic = "res-" + suffix;
    for (const auto& t : {commands_.commands_topic, commands_.results_topic,
                          std::string(events::kDeploymentEventsTopic),
                          std::string(events::kInfrastructureEventsTopic)}) {
      ASSERT_TRUE(log_->ensure_topic({t, events::kDefaultPartitions}).ok());
    }
    commands_.group = "processor-" + suffix;
    commands_.transactional_id = "processor-" + suffix;
    commands_.clock = wall_ms;
    processor_ = std::make_unique<commands::CommandProcessor>(
        *log_, std::vector<const commands::AggregateKind*>{&commands::project_kind(),
                                                           &commands::cluster_kind()},
        commands_);
    ASSERT_TRUE(processor_->start().ok());
    bus_ = std::make_unique<commands::CommandBus>(*log_, "gw-" + suffix, commands_.commands_topic,
                                                  commands_.results_topic);
    ASSERT_TRUE(bus_->start().ok());
    store_ = projections::make_memory_view_store();
    views_.group = "views-" + suffix;
    views_.clock = wall_ms;
    views_.projector.max_history_per_project = 3;
    start_views();
    queries_ = std::make_unique<projections::ViewQueries>(*store_);
  }
  void TearDown() override {
    projection_.reset();
    bus_.reset();
    processor_.reset();
  }

  void start_views() {
    projection_ = std::make_unique<projections::ProjectionProcessor>(*log_, *store_, views_);
    ASSERT_TRUE(projection_->start().ok());
  }

  // Submits and waits until the views show the command's events.
  v1::CommandResult run(const v1::CommandEnvelope& command) {
    auto result = bus_->submit(command, kWait);
    EXPECT_TRUE(result.ok()) << result.status().to_string();
    if (!result.ok()) return {};
    EXPECT_EQ(result->status_code(), 0) << command.type() << ": " << result->ShortDebugString();
    std::vector<events::LogPosition> positions;
    for (const auto& p : result->positions()) {
      positions.push_back({{p.topic(), p.partition()}, p.offset()});
    }
    Status caught_up =
        projection_->wait_for(positions, std::chrono::steady_clock::now() + kWait);
    EXPECT_TRUE(caught_up.ok()) << caught_up.to_string();
    return *result;
  }

  std::unique_ptr<events::EventLog> log_;
  commands::ProcessorOptions commands_;
  projections::ProjectionOptions views_;
  std::unique_ptr<commands::CommandProcessor> processor_;
  std::unique_ptr<commands::CommandBus> bus_;
  std::unique_ptr<projections::ViewStore> store_;
  std::unique_ptr<projections::ProjectionProcessor> projection_;
  std::unique_ptr<projections::ViewQueries> queries_;
};

TEST_P(ReadSide, ACommandIsVisibleOnceItsPositionsAreApplied) {
  const std::string project = unique_name("proj");
  ASSERT_EQ(run(envelope(project, register_project(project))).status_code(), 0);
  auto p = queries_->project(project);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->name(), "shop");
  EXPECT_EQ(p->owner(), "team-a");
  EXPECT_EQ(p->version(), 1u);

  ASSERT_EQ(run(envelope(project, graph(project))).status_code(), 0);
  auto g = queries_->graph(project, 0);
  ASSERT_TRUE(g.ok()) << g.status().to_string();
  EXPECT_EQ(g->version(), 1u);
  EXPECT_EQ(g->services_size(), 2);
  EXPECT_EQ(queries_->project(project)->latest_graph_version(), 1u);

  auto deployed = run(envelope(project, deploy(project, "production")));
  ASSERT_EQ(deployed.status_code(), 0) << deployed.message();
  const std::string id = deployed.created_ids().at("deployment_id");
  auto d = queries_->deployment(id);
  ASSERT_TRUE(d.ok()) << d.status().to_string();
  EXPECT_EQ(d->project_id(), project);
  EXPECT_EQ(d->environment(), "production");
  EXPECT_EQ(d->status(), v1::DEPLOYMENT_STATUS_PENDING);
  EXPECT_EQ(d->requested_by(), "alice");
  EXPECT_EQ(d->version(), 3u);
  auto status = queries_->deployment_status(id);
  ASSERT_TRUE(status.ok());
  EXPECT_EQ(status->status(), v1::DEPLOYMENT_STATUS_PENDING);

  // Every event of the project has exactly one audit entry, in order.
  auto audit = queries_->audit(project, 0, 100);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 3u);
  EXPECT_EQ((*audit)[0].type(), "axion.v1.ProjectRegistered");
  EXPECT_EQ((*audit)[2].type(), "axion.v1.DeploymentRequested");
  EXPECT_NE((*audit)[2].summary().find("production"), std::string::npos) << (*audit)[2].summary();
}

TEST_P(ReadSide, ListingsFilterAndPageWithoutLossOrRepeat) {
  const std::string project = unique_name("proj");
  ASSERT_EQ(run(envelope(project, register_project(project))).status_code(), 0);
  ASSERT_EQ(run(envelope(project, graph(project))).status_code(), 0);
  std::set<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    auto r = run(envelope(project, deploy(project, "env-" + std::to_string(i))));
    ASSERT_EQ(r.status_code(), 0) << r.message();
    ids.insert(r.created_ids().at("deployment_id"));
  }
  v1::ListDeploymentsRequest request;
  request.set_project_id(project);
  request.set_page_size(3);
  std::set<std::string> seen;
  int pages = 0;
  do {
    auto page = queries_->list_deployments(request);
    ASSERT_TRUE(page.ok()) << page.status().to_string();
    for (const auto& d : page->deployments()) EXPECT_TRUE(seen.insert(d.deployment_id()).second);
    request.set_page_token(page->next_page_token());
    ++pages;
  } while (!request.page_token().empty() && pages < 10);
  EXPECT_EQ(seen, ids);
  EXPECT_EQ(pages, 3);

  // A filter by environment.
  v1::ListDeploymentsRequest staging;
  staging.set_project_id(project);
  staging.set_environment("env-0");
  auto one = queries_->list_deployments(staging);
  ASSERT_TRUE(one.ok());
  ASSERT_EQ(one->deployments_size(), 1);
  EXPECT_EQ(one->deployments(0).environment(), "env-0");

  // A token is bound to its filters; garbage and bad sizes are INVALID_ARGUMENT.
  request.set_page_token("");
  auto first = queries_->list_deployments(request);
  ASSERT_TRUE(first.ok());
  staging.set_page_token(first->next_page_token());
  EXPECT_EQ(queries_->list_deployments(staging).status().field(), "page_token");
  request.set_page_token("zz.1.00");
  EXPECT_EQ(queries_->list_deployments(request).status().code(), StatusCode::kInvalidArgument);
  request.set_page_token("");
  request.set_page_size(-1);
  EXPECT_EQ(queries_->list_deployments(request).status().field(), "page_size");
  request.set_page_size(3);
  request.add_statuses(static_cast<v1::DeploymentStatus>(99));
  EXPECT_EQ(queries_->list_deployments(request).status().field(), "statuses");
}

// A command for cluster `cluster` carrying `payload`.
template <typename Message>
v1::CommandEnvelope cluster_command(const std::string& cluster, const Message& payload,
                                    const std::string& actor = "alice") {
  v1::CommandEnvelope c = envelope(cluster, payload);
  c.set_aggregate_type("cluster");
  c.set_actor(actor);
  return c;
}

v1::CreateServer create_server(const std::string& cluster, const std::string& server,
                               const std::string& name, const std::string& host) {
  v1::CreateServer c;
  c.set_server_id(server);
  c.set_cluster_id(cluster);
  c.set_name(name);
  c.set_host(host);
  c.set_ssh_user("deploy");
  c.set_auth_kind(v1::SSH_AUTH_KIND_PRIVATE_KEY);
  c.mutable_credential()->set_key_id("kek-1");
  c.mutable_credential()->set_nonce(std::string(12, 'n'));
  std::string sealed;  // bytes that look like ciphertext (the gateway seals for real)
  for (int i = 0; i < 48; ++i) sealed.push_back(static_cast<char>((i * 37 + 11) % 256));
  c.mutable_credential()->set_ciphertext(sealed);
  return c;
}

// The cluster row moves with every event of the cluster; a server's event renders that server
// only, its neighbours' rows stay as they were; a credential is in a row only sealed, and
// never in an answer.
TEST_P(ReadSide, ClusterAndServerRowsFollowTheirOwnEvents) {
  const std::string cluster = unique_name("cl");
  const std::string web = unique_name("srv"), db = unique_name("srv");
  auto servers = [&] {
    v1::ListClusterServersRequest request;
    request.set_cluster_id(cluster);
    auto page = queries_->list_cluster_servers(request);
    EXPECT_TRUE(page.ok()) << page.status().to_string();
    std::map<std::string, v1::Server> by_id;
    if (page.ok()) {
      for (const auto& s : page->servers()) by_id[s.server_id()] = s;
    }
    return by_id;
  };
  v1::CreateCluster create;
  create.set_cluster_id(cluster);
  create.set_name(unique_name("prod"));
  ASSERT_EQ(run(cluster_command(cluster, create)).status_code(), 0);
  ASSERT_EQ(run(cluster_command(cluster, create_server(cluster, web, "web-1", "10.0.0.1")))
                .status_code(),
            0);
  ASSERT_EQ(run(cluster_command(cluster, create_server(cluster, db, "db-1", "10.0.0.2")))
                .status_code(),
            0);
  const auto before = servers();
  ASSERT_EQ(before.size(), 2u);

  v1::AgentRegistered registered;
  registered.set_server_id(web);
  registered.set_cluster_id(cluster);
  registered.set_agent_id("agent-web-1");
  registered.set_version("1.2.3");
  registered.add_runtimes("process");
  ASSERT_EQ(run(cluster_command(cluster, registered, "system")).status_code(), 0);

  auto c = queries_->cluster(cluster);
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_EQ(c->server_count(), 2u);
  EXPECT_EQ(c->name(), create.name());
  const auto after = servers();
  ASSERT_EQ(after.size(), 2u);
  for (const auto& [id, s] : after) {
    EXPECT_EQ(s.cluster_id(), cluster);
    EXPECT_FALSE(s.has_credential()) << "a credential reached the answer about " << id;
  }
  const auto sealed = queries_->server_with_credential(web);
  ASSERT_TRUE(sealed.ok()) << sealed.status().to_string();
  EXPECT_EQ(sealed->credential().ciphertext(),
            create_server(cluster, web, "web-1", "10.0.0.1").credential().ciphertext());
  const auto key_ids = queries_->credential_key_ids();
  ASSERT_TRUE(key_ids.ok());
  EXPECT_TRUE(key_ids->contains("kek-1"));
  const v1::Server& w = after.at(web);
  EXPECT_EQ(w.agent_status(), v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(w.agent_id(), "agent-web-1");
  EXPECT_EQ(w.agent_version(), "1.2.3");
  ASSERT_EQ(w.agent_runtimes_size(), 1);
  EXPECT_TRUE(w.has_last_seen_at());
  EXPECT_EQ(w.created_at().seconds(), before.at(web).created_at().seconds());
  auto status = queries_->agent_status(web);
  ASSERT_TRUE(status.ok()) << status.status().to_string();
  EXPECT_EQ(status->status(), v1::AGENT_STATUS_ONLINE);
  EXPECT_EQ(status->agent_id(), "agent-web-1");
  // The other server's row was not rewritten by web's registration.
  EXPECT_EQ(after.at(db).SerializeAsString(), before.at(db).SerializeAsString());

  v1::UpdateCluster rename;
  rename.set_cluster_id(cluster);
  rename.set_name(unique_name("production"));
  ASSERT_EQ(run(cluster_command(cluster, rename)).status_code(), 0);
  EXPECT_EQ(queries_->cluster(cluster)->name(), rename.name());
  EXPECT_EQ(servers().at(web).SerializeAsString(), w.SerializeAsString());
}

TEST_P(ReadSide, UnknownIdsAreNotFound) {
  EXPECT_EQ(queries_->deployment("no-such-deployment").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(queries_->project("no-such-project").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(queries_->cluster("no-such-cluster").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(queries_->agent_status("no-such-server").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(queries_->deployment("").status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ReadSide, ARestartedProjectionNeitherSkipsNorRepeatsAnEvent) {
  const std::string project = unique_name("proj");
  ASSERT_EQ(run(envelope(project, register_project(project))).status_code(), 0);
  ASSERT_EQ(run(envelope(project, graph(project))).status_code(), 0);
  projection_->stop();
  projection_.reset();
  // Written while the projection is down.
  v1::CommandResult last;
  for (int i = 0; i < 5; ++i) {
    last = *bus_->submit(envelope(project, deploy(project, "e" + std::to_string(i))), kWait);
    ASSERT_EQ(last.status_code(), 0) << last.message();
  }
  start_views();
  std::vector<events::LogPosition> positions;
  for (const auto& p : last.positions()) positions.push_back({{p.topic(), p.partition()}, p.offset()});
  ASSERT_TRUE(projection_->wait_for(positions, std::chrono::steady_clock::now() + kWait).ok());
  auto audit = queries_->audit(project, 0, 100);
  ASSERT_TRUE(audit.ok());
  ASSERT_EQ(audit->size(), 7u) << "each event exactly once";
  for (std::size_t i = 0; i < audit->size(); ++i) EXPECT_EQ((*audit)[i].sequence(), i + 1);
  EXPECT_EQ(queries_->project(project)->version(), 7u);
}

TEST_P(ReadSide, AWaitForAPositionNotYetAppliedEndsAtTheDeadline) {
  const events::LogPosition far{{std::string(events::kDeploymentEventsTopic), 0}, 1'000'000'000};
  Status s = projection_->wait_for({far}, std::chrono::steady_clock::now() + milliseconds(200));
  EXPECT_EQ(s.code(), StatusCode::kDeadlineExceeded);
  // Positions of topics the views do not read (e.g. results) do not block.
  const events::LogPosition other{{commands_.results_topic, 0}, 1'000'000'000};
  EXPECT_TRUE(projection_->wait_for({other}, std::chrono::steady_clock::now()).ok());
}

INSTANTIATE_TEST_SUITE_P(AllBackends, ReadSide, ::testing::ValuesIn(all_log_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace axion::testing
