// The gRPC gateway over real gRPC, with a ServerApp in-process on an ephemeral port, on the
// embedded log and on the real Kafka broker: bearer-token auth, the RegisterProject ->
// PublishGraph -> DeployProject happy path (ids, positions, the actor on the events), idempotent
// retries that append nothing, hostile and oversized inputs refused before any event is
// appended, and 100 concurrent deploys of one project and environment -> exactly one accepted.
#include <grpcpp/grpcpp.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <thread>

#include "axion/v1/admin.grpc.pb.h"
#include "axion/v1/deployment.grpc.pb.h"
#include "axion/v1/infrastructure.grpc.pb.h"
#include "axion/v1/project.grpc.pb.h"
#include "events/envelope.h"
#include "events/partitioner.h"
#include "events/topics.h"
#include "server/server_app.h"
#include "tests/integration/log_backends.h"

namespace axion::testing {
namespace {

namespace v1 = axion::v1;
using ::testing::HasSubstr;
using std::chrono::milliseconds;

constexpr const char* kToken = "tok-alice-0123456789abcdef";

class GrpcGateway : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server::ServerConfig config;
    if (GetParam() == "kafka") {
      const char* brokers = std::getenv("KAFKA_BROKERS");
      ASSERT_TRUE(brokers && *brokers) << "KAFKA_BROKERS is not set: run scripts/test";
      config.kafka_brokers = brokers;
      config.kafka_timeout = milliseconds(15000);
    }
    // The broker is shared with command_processor_test, which makes the events topics with 4
    // partitions; whoever creates them first fixes the count, so agree on it.
    config.topic_partitions = events::kDefaultPartitions;  // as every server on the broker
    config.data_dir = scratch_dir("gateway");
    config.http_addr = "127.0.0.1:0";
    config.grpc_addr = "127.0.0.1:0";
    config.instance_id = unique_name("gw");
    config.api_tokens = {{"alice", infra::gateway::token_digest(kToken)}};
    config.master_key = "gw=dGVzdC1tYXN0ZXIta2V5LW9mLTMyLWJ5dGVzLW9rISE=";
    // The gateway alone: no saga moving the deployments these tests keep active and count.
    config.run_sagas = false;
    app_ = std::make_unique<server::ServerApp>(config);
    ASSERT_TRUE(app_->start().ok());
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->grpc_port()),
                                   grpc::InsecureChannelCredentials());
    projects_ = v1::ProjectService::NewStub(channel_);
    deployments_ = v1::DeploymentService::NewStub(channel_);
    infrastructure_ = v1::InfrastructureService::NewStub(channel_);
  }
  void TearDown() override {
    if (app_) app_->stop();
  }

  static void authorize(grpc::ClientContext& ctx, const std::string& token = kToken) {
    ctx.AddMetadata("authorization", "Bearer " + token);
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  }

  std::string register_project(const std::string& name = "shop") {
    grpc::ClientContext ctx;
    authorize(ctx);
    v1::RegisterProjectRequest req;
    req.set_name(name);
    v1::RegisterProjectResponse resp;
    auto s = projects_->RegisterProject(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.project_id();
  }
  void publish(const std::string& project) {
    grpc::ClientContext ctx;
    authorize(ctx);
    v1::PublishGraphRequest req;
    req.set_project_id(project);
    auto* svc = req.add_services();
    svc->set_name("web");
    svc->set_image("registry.local/shop/web:1");
    v1::PublishGraphResponse resp;
    auto s = projects_->PublishGraph(&ctx, req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.graph_version(), 1u);
    EXPECT_FALSE(resp.content_hash().empty());
    EXPECT_EQ(resp.positions_size(), 1);
  }
  static v1::DeployProjectRequest deploy_request(const std::string& project) {
    v1::DeployProjectRequest req;
    req.set_project_id(project);
    req.set_environment("production");
    return req;
  }

  // The project's events, read from its partition of the deployment events topic.
  std::vector<v1::EventEnvelope> events_of(const std::string& project) {
    const std::string topic(events::kDeploymentEventsTopic);
    auto partitions = app_->log()->partition_count(topic);
    EXPECT_TRUE(partitions.ok());
    const events::TopicPartition tp{topic, events::partition_for_key(project, *partitions)};
    std::vector<v1::EventEnvelope> out;
    auto end = app_->log()->end_offset(tp);
    EXPECT_TRUE(end.ok());
    for (std::int64_t next = 0; next < *end;) {
      auto records = app_->log()->read(tp, next, 10000, milliseconds(2000));
      EXPECT_TRUE(records.ok()) << records.status().to_string();
      if (!records.ok() || records->empty()) break;
      for (const auto& r : *records) {
        next = r.offset + 1;
        if (r.key != project) continue;
        auto e = events::parse_envelope(r);
        if (e.ok()) out.push_back(*e);
      }
    }
    return out;
  }

  std::unique_ptr<server::ServerApp> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ProjectService::Stub> projects_;
  std::unique_ptr<v1::DeploymentService::Stub> deployments_;
  std::unique_ptr<v1::InfrastructureService::Stub> infrastructure_;
};

TEST_P(GrpcGateway, RefusesMissingOrWrongTokensButServesHealthWithout) {
  for (const std::string token : {"", "not-the-token-0123456789"}) {
    grpc::ClientContext ctx;
    if (!token.empty()) authorize(ctx, token);
    v1::RegisterProjectRequest req;
    req.set_name("shop");
    v1::RegisterProjectResponse resp;
    auto s = projects_->RegisterProject(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(s.error_message(),
              "missing or invalid API token: pass 'authorization: Bearer <token>'");
  }
  grpc::ClientContext ctx;
  v1::CreateClusterRequest req;
  req.set_name("prod");
  v1::CreateClusterResponse resp;
  EXPECT_EQ(infrastructure_->CreateCluster(&ctx, req, &resp).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(channel_->GetState(false), GRPC_CHANNEL_READY);
}

TEST_P(GrpcGateway, RegisterPublishDeployReturnIdsAndPositionsAndRecordTheActor) {
  const std::string project = register_project();
  ASSERT_FALSE(project.empty());
  publish(project);
  grpc::ClientContext ctx;
  authorize(ctx);
  v1::DeployProjectResponse resp;
  auto s = deployments_->DeployProject(&ctx, deploy_request(project), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_FALSE(resp.deployment_id().empty());
  ASSERT_GE(resp.positions_size(), 1);
  EXPECT_EQ(resp.positions(0).topic(), events::kDeploymentEventsTopic);
  EXPECT_EQ(resp.aggregate_version(), 3u);
  const auto events = events_of(project);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].type(), "axion.v1.ProjectRegistered");
  for (const auto& e : events) EXPECT_EQ(e.actor(), "alice");

  // A query needs the id it asks for.
  grpc::ClientContext q;
  authorize(q);
  v1::GetDeploymentRequest get;
  v1::GetDeploymentResponse got;
  EXPECT_EQ(deployments_->GetDeployment(&q, get, &got).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_P(GrpcGateway, RetryWithTheSameIdempotencyKeyReturnsTheFirstResultAndAppendsNothing) {
  // Unique per run: the Kafka log outlives runs, and the key names the project.
  const std::string key = unique_name("register");
  const auto register_with_key = [&] {
    grpc::ClientContext ctx;
    authorize(ctx);
    ctx.AddMetadata("idempotency-key", key);
    v1::RegisterProjectRequest req;
    req.set_name("retry");
    v1::RegisterProjectResponse resp;
    EXPECT_TRUE(projects_->RegisterProject(&ctx, req, &resp).ok());
    return resp.project_id();
  };
  const std::string project = register_with_key();
  ASSERT_FALSE(project.empty());
  publish(project);
  const auto deploy_with_key = [&] {
    grpc::ClientContext ctx;
    authorize(ctx);
    ctx.AddMetadata("idempotency-key", "deploy-1");
    v1::DeployProjectResponse resp;
    auto s = deployments_->DeployProject(&ctx, deploy_request(project), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.deployment_id();
  };
  const std::string first = deploy_with_key();
  const auto before = events_of(project).size();
  EXPECT_EQ(deploy_with_key(), first);
  EXPECT_EQ(register_with_key(), project);
  EXPECT_EQ(events_of(project).size(), before);
}

TEST_P(GrpcGateway, BadInputsAreInvalidArgumentsNamingTheFieldAndAppendNothing) {
  const std::string project = register_project();
  publish(project);
  const auto before = events_of(project).size();
  const auto expect_invalid = [&](grpc::Status s, const std::string& field) {
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(field + ": ")) << s.error_message();
  };
  for (const std::string hostile : {"a;rm -rf /", "$(x)", "web\nINFO forged"}) {
    {
      grpc::ClientContext ctx;
      authorize(ctx);
      v1::RegisterProjectRequest req;
      req.set_name(hostile);
      v1::RegisterProjectResponse resp;
      expect_invalid(projects_->RegisterProject(&ctx, req, &resp), "name");
    }
    {
      grpc::ClientContext ctx;
      authorize(ctx);
      v1::PublishGraphRequest req;
      req.set_project_id(project);
      auto* svc = req.add_services();
      svc->set_name(hostile);
      svc->set_image("registry.local/x:1");
      v1::PublishGraphResponse resp;
      expect_invalid(projects_->PublishGraph(&ctx, req, &resp), "services[0].name");
    }
    {
      grpc::ClientContext ctx;
      authorize(ctx);
      auto req = deploy_request(project);
      req.set_environment(hostile);
      v1::DeployProjectResponse resp;
      expect_invalid(deployments_->DeployProject(&ctx, req, &resp), "environment");
    }
    {
      grpc::ClientContext ctx;
      authorize(ctx);
      auto req = deploy_request(hostile);
      v1::DeployProjectResponse resp;
      expect_invalid(deployments_->DeployProject(&ctx, req, &resp), "project_id");
    }
  }
  {  // A deployment command without its project.
    grpc::ClientContext ctx;
    authorize(ctx);
    v1::CancelDeploymentRequest req;
    req.set_deployment_id("d-1");
    v1::CancelDeploymentResponse resp;
    expect_invalid(deployments_->CancelDeployment(&ctx, req, &resp), "project_id");
  }
  {  // Within gRPC's limit but over the aggregate's: refused with the field.
    grpc::ClientContext ctx;
    authorize(ctx);
    v1::PublishGraphRequest req;
    req.set_project_id(project);
    auto* svc = req.add_services();
    svc->set_name("web");
    svc->set_image("registry.local/web:1");
    (*svc->mutable_env())["BIG"] = std::string(100 * 1024, 'x');
    v1::PublishGraphResponse resp;
    expect_invalid(projects_->PublishGraph(&ctx, req, &resp), "services[0].env['BIG']");
  }
  {  // Over gRPC's max receive size: refused before it is even parsed.
    grpc::ClientContext ctx;
    authorize(ctx);
    v1::RegisterProjectRequest req;
    req.set_name("big");
    req.set_description(std::string(5 * 1024 * 1024, 'x'));
    v1::RegisterProjectResponse resp;
    EXPECT_EQ(projects_->RegisterProject(&ctx, req, &resp).error_code(),
              grpc::StatusCode::RESOURCE_EXHAUSTED);
  }
  {  // A credential that is not one is refused before anything is sealed or queued.
    grpc::ClientContext ctx;
    authorize(ctx);
    v1::CreateServerRequest req;
    req.set_cluster_id("c-1");
    req.mutable_credential()->set_private_key("hunter2-hunter2");
    v1::CreateServerResponse resp;
    auto s = infrastructure_->CreateServer(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_THAT(s.error_message(), HasSubstr("OpenSSH or PEM private key"));
    EXPECT_THAT(s.error_message(), ::testing::Not(HasSubstr("hunter2")));
  }
  EXPECT_EQ(events_of(project).size(), before);
}

TEST_P(GrpcGateway, OneOfAHundredConcurrentDeploysIsAcceptedAndTheOthersNameIt) {
  const std::string project = register_project();
  publish(project);
  constexpr int kCalls = 100;
  std::vector<grpc::Status> statuses(kCalls);
  std::vector<std::string> ids(kCalls);
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int i = 0; i < kCalls; ++i) {
    threads.emplace_back([&, i] {
      while (!go) std::this_thread::yield();
      grpc::ClientContext ctx;
      authorize(ctx);
      v1::DeployProjectResponse resp;
      statuses[i] = deployments_->DeployProject(&ctx, deploy_request(project), &resp);
      ids[i] = resp.deployment_id();
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  std::string accepted;
  int ok = 0, refused = 0;
  for (int i = 0; i < kCalls; ++i) {
    if (statuses[i].ok()) {
      ++ok;
      accepted = ids[i];
    }
  }
  ASSERT_EQ(ok, 1);
  for (const auto& s : statuses) {
    if (s.ok()) continue;
    EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
    EXPECT_THAT(s.error_message(), HasSubstr(accepted));
    ++refused;
  }
  EXPECT_EQ(refused, kCalls - 1);
}

// The query RPCs answer from the views; with the command's positions as consistency token the
// answer already shows the command (read-your-writes), whatever the projection's lag.
TEST_P(GrpcGateway, QueriesReadTheirWritesAndRefusePrecisely) {
  grpc::ClientContext rctx;
  authorize(rctx);
  v1::RegisterProjectRequest reg;
  reg.set_name("shop");
  v1::RegisterProjectResponse registered;
  ASSERT_TRUE(projects_->RegisterProject(&rctx, reg, &registered).ok());
  publish(registered.project_id());
  grpc::ClientContext dctx;
  authorize(dctx);
  v1::DeployProjectResponse deployed;
  ASSERT_TRUE(deployments_->DeployProject(&dctx, deploy_request(registered.project_id()), &deployed).ok());

  grpc::ClientContext gctx;
  authorize(gctx);
  v1::GetDeploymentRequest get;
  get.set_deployment_id(deployed.deployment_id());
  *get.mutable_min_positions() = deployed.positions();
  v1::GetDeploymentResponse got;
  auto s = deployments_->GetDeployment(&gctx, get, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.deployment().project_id(), registered.project_id());
  EXPECT_EQ(got.deployment().status(), v1::DEPLOYMENT_STATUS_PENDING);
  EXPECT_EQ(got.deployment().requested_by(), "alice");

  grpc::ClientContext pctx;
  authorize(pctx);
  v1::GetProjectRequest gp;
  gp.set_project_id(registered.project_id());
  *gp.mutable_min_positions() = deployed.positions();
  v1::GetProjectResponse project;
  ASSERT_TRUE(projects_->GetProject(&pctx, gp, &project).ok());
  EXPECT_EQ(project.project().latest_graph_version(), 1u);

  grpc::ClientContext lctx;
  authorize(lctx);
  v1::ListDeploymentsRequest list;
  list.set_project_id(registered.project_id());
  v1::ListDeploymentsResponse listed;
  ASSERT_TRUE(deployments_->ListDeployments(&lctx, list, &listed).ok());
  ASSERT_EQ(listed.deployments_size(), 1);

  auto code_of = [&](auto call) {
    grpc::ClientContext ctx;
    authorize(ctx);
    return call(ctx).error_code();
  };
  EXPECT_EQ(code_of([&](grpc::ClientContext& ctx) {
              v1::GetDeploymentRequest r;
              r.set_deployment_id("no-such-deployment");
              v1::GetDeploymentResponse out;
              return deployments_->GetDeployment(&ctx, r, &out);
            }),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(code_of([&](grpc::ClientContext& ctx) {
              v1::ListDeploymentsRequest r;
              r.set_page_token("not-a-token");
              v1::ListDeploymentsResponse out;
              return deployments_->ListDeployments(&ctx, r, &out);
            }),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(code_of([&](grpc::ClientContext& ctx) {
              v1::GetClusterRequest r;
              r.set_cluster_id("c-1");
              auto* far = r.add_min_positions();
              far->set_topic(std::string(events::kInfrastructureEventsTopic));
              far->set_offset(1'000'000'000);
              ctx.set_deadline(std::chrono::system_clock::now() + milliseconds(300));
              v1::GetClusterResponse out;
              return infrastructure_->GetCluster(&ctx, r, &out);
            }),
            grpc::StatusCode::DEADLINE_EXCEEDED);
  grpc::ClientContext anonymous;
  v1::GetProjectResponse none;
  EXPECT_EQ(projects_->GetProject(&anonymous, gp, &none).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// Rebuild the views while serving, then keep serving from the rebuilt ones; a project as of an
// instant; its audit export, stable across the rebuild.
TEST_P(GrpcGateway, RebuildAsOfAndAuditExport) {
  auto admin = v1::AdminService::NewStub(channel_);
  const std::string project = register_project();
  publish(project);
  const auto before_deploy = std::chrono::system_clock::now();
  std::this_thread::sleep_for(milliseconds(5));  // a distinct instant, not an assertion on time
  grpc::ClientContext dctx;
  authorize(dctx);
  v1::DeployProjectResponse deployed;
  ASSERT_TRUE(deployments_->DeployProject(&dctx, deploy_request(project), &deployed).ok());

  auto export_lines = [&] {
    grpc::ClientContext ctx;
    authorize(ctx);
    v1::ExportAuditRequest req;
    req.set_project_id(project);
    auto reader = admin->ExportAudit(&ctx, req);
    std::vector<std::string> lines;
    v1::ExportAuditResponse line;
    while (reader->Read(&line)) lines.push_back(line.line());
    EXPECT_TRUE(reader->Finish().ok());
    return lines;
  };
  const auto first = export_lines();
  ASSERT_EQ(first.size(), 3u);
  EXPECT_THAT(first[2], HasSubstr("\"type\":\"axion.v1.DeploymentRequested\""));

  grpc::ClientContext rctx;
  authorize(rctx);
  v1::RebuildViewsResponse rebuilt;
  auto s = admin->RebuildViews(&rctx, v1::RebuildViewsRequest(), &rebuilt);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_GE(rebuilt.events(), 3u);
  EXPECT_EQ(export_lines(), first);

  // The rebuilt views answer, and keep following the log.
  grpc::ClientContext gctx;
  authorize(gctx);
  v1::GetDeploymentRequest get;
  get.set_deployment_id(deployed.deployment_id());
  v1::GetDeploymentResponse got;
  ASSERT_TRUE(deployments_->GetDeployment(&gctx, get, &got).ok());
  grpc::ClientContext cctx;
  authorize(cctx);
  v1::CancelDeploymentRequest cancel;
  cancel.set_project_id(project);
  cancel.set_deployment_id(deployed.deployment_id());
  v1::CancelDeploymentResponse cancelled;
  ASSERT_TRUE(deployments_->CancelDeployment(&cctx, cancel, &cancelled).ok());
  grpc::ClientContext pctx;
  authorize(pctx);
  v1::GetProjectRequest gp;
  gp.set_project_id(project);
  *gp.mutable_min_positions() = cancelled.positions();
  v1::GetProjectResponse after;
  ASSERT_TRUE(projects_->GetProject(&pctx, gp, &after).ok());
  EXPECT_EQ(after.project().version(), 4u);

  // As of before the deployment: the project and its graph, no deployment.
  grpc::ClientContext actx;
  authorize(actx);
  v1::GetProjectAsOfRequest as_of;
  as_of.set_project_id(project);
  as_of.mutable_at()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(
                                      before_deploy.time_since_epoch()).count());
  as_of.mutable_at()->set_nanos(static_cast<int>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(before_deploy.time_since_epoch())
          .count() % 1000000000));
  v1::GetProjectAsOfResponse then;
  s = admin->GetProjectAsOf(&actx, as_of, &then);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(then.events(), 2u);
  EXPECT_EQ(then.deployments_size(), 0);
  EXPECT_EQ(then.graph().version(), 1u);
  grpc::ClientContext ectx;
  authorize(ectx);
  as_of.mutable_at()->set_seconds(1);  // 1970: the project did not exist
  EXPECT_EQ(admin->GetProjectAsOf(&ectx, as_of, &then).error_code(), grpc::StatusCode::NOT_FOUND);
}

INSTANTIATE_TEST_SUITE_P(Backends, GrpcGateway, ::testing::Values("rocksdb", "kafka"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace axion::testing
