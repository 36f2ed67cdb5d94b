// axion deploy | status | cancel | rollback | history: a project's deployments. `--watch`
// follows a deployment until it ends (WatchDeployment) and exits kExitFailed unless it
// succeeded, so scripts can gate on it.
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <thread>

#include "axion/v1/deployment.grpc.pb.h"
#include "cli/commands.h"
#include "cli/live_view.h"

namespace axion::cli {

namespace v1 = axion::v1;
using google::protobuf::util::TimeUtil;

namespace {

bool ended(v1::DeploymentStatus s) {
  return s == v1::DEPLOYMENT_STATUS_SUCCESS || s == v1::DEPLOYMENT_STATUS_FAILED ||
         s == v1::DEPLOYMENT_STATUS_CANCELLED;
}

Result<v1::Strategy> strategy_of(const std::string& name, bool manual) {
  v1::Strategy s;
  if (name == "rolling") {
    s.mutable_rolling();
  } else if (name == "canary") {
    auto* c = s.mutable_canary();
    for (std::uint32_t w : {10u, 50u, 100u}) c->add_weights(w);
    c->mutable_bake_time()->set_seconds(10);
    c->set_manual_promotion(manual);
  } else if (name == "blue-green") {
    s.mutable_blue_green()->set_manual_promotion(manual);
  } else {
    return invalid_argument("--strategy must be rolling, canary or blue-green, not '" + name + "'");
  }
  return s;
}

Table deployment_table(const v1::Deployment& d) {
  Table t{{"SERVICE", "STATUS", "HEALTHY", "SERVERS", "DETAIL"}, {}};
  for (const auto& s : d.services()) {
    std::string servers;
    for (const auto& id : s.server_ids()) servers += (servers.empty() ? "" : ",") + id;
    t.rows.push_back(
        {s.service(), short_service_status(s.status()),
         std::to_string(s.healthy_replicas()) + "/" + std::to_string(s.desired_replicas()), servers,
         s.detail()});
  }
  return t;
}

Result<v1::Deployment> get(const Connection& c, const std::string& id) {
  auto stub = v1::DeploymentService::NewStub(c.channel());
  v1::GetDeploymentRequest req;
  req.set_deployment_id(id);
  v1::GetDeploymentResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->GetDeployment(cc, req, &resp); }));
  return resp.deployment();
}

// Follows the deployment until it ends; prints its headline whenever it changes.
Status watch(Context& ctx, const Connection& c, const std::string& id) {
  auto stub = v1::DeploymentService::NewStub(c.channel());
  auto cc = c.stream_context();
  v1::WatchDeploymentRequest req;
  req.set_deployment_id(id);
  auto stream = stub->WatchDeployment(cc.get(), req);
  v1::WatchDeploymentResponse update;
  v1::Deployment d;
  const bool table = ctx.format() == Format::kTable;
  const char* term = std::getenv("TERM");
  const bool terminal =
      table && ::isatty(STDOUT_FILENO) == 1 && term != nullptr && std::string(term) != "dumb";
  LiveView view(std::cout, terminal);
  while (stream->Read(&update)) {
    if (update.has_snapshot()) d = update.snapshot();
    if (update.has_event()) {
      auto fresh = get(c, id);
      if (fresh.ok()) d = *fresh;
    }
    if (table) view.show(d);
    if (ended(d.status())) {
      cc->TryCancel();
      break;
    }
  }
  if (!ended(d.status())) {
    AXION_RETURN_IF_ERROR(c.translate(stream->Finish()));
    // The stream ends with the deployment; the views may be a moment behind the log.
    for (int tries = 0; tries < 100 && !ended(d.status()); ++tries) {
      if (tries > 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      auto fresh = get(c, id);
      if (!fresh.ok()) return fresh.status();
      d = *fresh;
    }
    if (table) view.show(d);
  }
  // On a terminal the live block already shows the services as they ended.
  if (!terminal) std::cout << render(ctx.format(), d, deployment_table(d));
  if (d.status() != v1::DEPLOYMENT_STATUS_SUCCESS) {
    ctx.ended_badly = "deployment " + id + " ended " + short_status(d.status());
  }
  return ok_status();
}

struct DeployArgs {
  std::string project;
  std::string environment = "production";
  std::string strategy = "rolling";
  std::uint64_t graph_version = 0;
  bool auto_rollback = false;
  bool manual = false;
  bool supersede = false;
  bool watch = false;
  std::string cluster;
};

Status deploy(Context& ctx, const DeployArgs& a) {
  Connection c(ctx.connection);
  auto project = find_project(c, a.project);
  if (!project.ok()) return project.status();
  auto strategy = strategy_of(a.strategy, a.manual);
  if (!strategy.ok()) return strategy.status();
  auto stub = v1::DeploymentService::NewStub(c.channel());
  v1::DeployProjectRequest req;
  req.set_project_id(project->project_id());
  req.set_environment(a.environment);
  req.set_graph_version(a.graph_version);
  *req.mutable_strategy() = *strategy;
  req.mutable_options()->set_auto_rollback(a.auto_rollback);
  req.mutable_options()->set_supersede(a.supersede);
  if (!a.cluster.empty()) {
    auto cluster = find_cluster(c, a.cluster);
    if (!cluster.ok()) return cluster.status();
    req.mutable_options()->set_cluster_id(cluster->cluster_id());
  }
  v1::DeployProjectResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->DeployProject(cc, req, &resp); }));
  if (!a.watch) {
    Table t{{"DEPLOYMENT", "PROJECT", "ENVIRONMENT"},
            {{resp.deployment_id(), a.project, a.environment}}};
    std::cout << render(ctx.format(), resp, t);
    return ok_status();
  }
  return watch(ctx, c, resp.deployment_id());
}

Status status(Context& ctx, const std::string& id, bool follow) {
  Connection c(ctx.connection);
  if (follow) return watch(ctx, c, id);
  auto d = get(c, id);
  if (!d.ok()) return d.status();
  if (ctx.format() == Format::kTable) std::cout << headline(*d) << "\n";
  std::cout << render(ctx.format(), *d, deployment_table(*d));
  return ok_status();
}

Status history(const Context& ctx, const std::string& project_name, const std::string& env) {
  Connection c(ctx.connection);
  auto project = find_project(c, project_name);
  if (!project.ok()) return project.status();
  auto stub = v1::DeploymentService::NewStub(c.channel());
  v1::ListDeploymentsRequest req;
  req.set_project_id(project->project_id());
  req.set_environment(env);
  auto listed = list_all<v1::ListDeploymentsRequest, v1::ListDeploymentsResponse>(
      c, req,
      [&](auto* cc, const auto& r, auto* page) { return stub->ListDeployments(cc, r, page); });
  if (!listed.ok()) return listed.status();
  const v1::ListDeploymentsResponse& all = *listed;
  Table t{{"DEPLOYMENT", "ENVIRONMENT", "GRAPH", "STATUS", "CREATED", "ROLLBACK OF"}, {}};
  for (const auto& d : all.deployments()) {
    t.rows.push_back({d.deployment_id(), d.environment(), "v" + std::to_string(d.graph_version()),
                      short_status(d.status()), TimeUtil::ToString(d.created_at()),
                      d.rollback_of()});
  }
  std::cout << render(ctx.format(), all, t);
  return ok_status();
}

Status cancel(const Context& ctx, const std::string& id, const std::string& reason) {
  Connection c(ctx.connection);
  auto d = get(c, id);
  if (!d.ok()) return d.status();
  auto stub = v1::DeploymentService::NewStub(c.channel());
  v1::CancelDeploymentRequest req;
  req.set_deployment_id(id);
  req.set_project_id(d->project_id());
  req.set_reason(reason);
  v1::CancelDeploymentResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->CancelDeployment(cc, req, &resp); }));
  if (ctx.format() == Format::kTable) std::cout << "cancelling deployment " << id << "\n";
  return ok_status();
}

Status rollback(Context& ctx, const std::string& id, const std::string& to, bool fast,
                bool follow) {
  Connection c(ctx.connection);
  auto d = get(c, id);
  if (!d.ok()) return d.status();
  auto stub = v1::DeploymentService::NewStub(c.channel());
  v1::RollbackDeploymentRequest req;
  req.set_deployment_id(id);
  req.set_project_id(d->project_id());
  req.set_target_deployment_id(to);
  req.set_fast(fast);
  v1::RollbackDeploymentResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->RollbackDeployment(cc, req, &resp); }));
  if (follow) return watch(ctx, c, resp.rollback_deployment_id());
  Table t{{"ROLLBACK DEPLOYMENT", "RESTORES"},
          {{resp.rollback_deployment_id(), resp.target_deployment_id()}}};
  std::cout << render(ctx.format(), resp, t);
  return ok_status();
}

// Lets a canary or blue-green deployment waiting for promotion go on (--full: with no more
// holds or bake times), or pauses one after its current step.
Status promote_or_pause(Context& ctx, const std::string& id, bool promote, bool full,
                        const std::string& reason, bool follow) {
  Connection c(ctx.connection);
  auto d = get(c, id);
  if (!d.ok()) return d.status();
  auto stub = v1::DeploymentService::NewStub(c.channel());
  if (promote) {
    v1::PromoteDeploymentRequest req;
    req.set_deployment_id(id);
    req.set_project_id(d->project_id());
    req.set_full(full);
    v1::PromoteDeploymentResponse resp;
    AXION_RETURN_IF_ERROR(
        c.call([&](auto* cc) { return stub->PromoteDeployment(cc, req, &resp); }));
  } else {
    v1::PauseDeploymentRequest req;
    req.set_deployment_id(id);
    req.set_project_id(d->project_id());
    req.set_reason(reason);
    v1::PauseDeploymentResponse resp;
    AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->PauseDeployment(cc, req, &resp); }));
  }
  if (follow) return watch(ctx, c, id);
  if (ctx.format() == Format::kTable) {
    std::cout << (promote ? "promoted" : "pausing") << " deployment " << id << "\n";
  }
  return ok_status();
}

}  // namespace

void add_deploy_commands(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<DeployArgs>();
  CLI::App* dep = app.add_subcommand("deploy", "deploy a project's graph to an environment");
  dep->add_option("-p,--project", a->project, "project name")->required();
  dep->add_option("-e,--env", a->environment, "environment")->capture_default_str();
  dep->add_option("-s,--strategy", a->strategy, "rolling, canary or blue-green")
      ->check(CLI::IsMember({"rolling", "canary", "blue-green"}))
      ->capture_default_str();
  dep->add_option("--graph-version", a->graph_version, "graph version (0 = the latest)");
  dep->add_option("--cluster", a->cluster,
                  "cluster (name or id) to deploy to (default: the one with agents)");
  dep->add_flag("--auto-rollback", a->auto_rollback, "roll back to the last success on failure");
  dep->add_flag("--manual-promotion", a->manual, "canary / blue-green wait for axion promote");
  dep->add_flag("--supersede", a->supersede, "replace the environment's running deployment");
  dep->add_flag("-w,--watch", a->watch, "follow it until it ends; exit 4 unless it succeeded");
  dep->callback([&ctx, a] { ctx.finish(deploy(ctx, *a)); });

  auto id = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  CLI::App* st = app.add_subcommand("status", "a deployment's services and progress");
  st->add_option("deployment", *id, "deployment id")->required();
  st->add_flag("-w,--watch", *follow, "follow it until it ends");
  st->callback([&ctx, id, follow] { ctx.finish(status(ctx, *id, *follow)); });

  auto project = std::make_shared<std::string>();
  auto env = std::make_shared<std::string>();
  CLI::App* hist = app.add_subcommand("history", "a project's deployments, newest first");
  hist->add_option("-p,--project", *project, "project name")->required();
  hist->add_option("-e,--env", *env, "only this environment");
  hist->callback([&ctx, project, env] { ctx.finish(history(ctx, *project, *env)); });

  auto reason = std::make_shared<std::string>();
  CLI::App* can = app.add_subcommand("cancel", "cancel a deployment (the previous release serves)");
  can->add_option("deployment", *id, "deployment id")->required();
  can->add_option("--reason", *reason, "why");
  can->callback([&ctx, id, reason] { ctx.finish(cancel(ctx, *id, *reason)); });

  auto to = std::make_shared<std::string>();
  auto fast = std::make_shared<bool>(false);
  CLI::App* rb = app.add_subcommand("rollback", "deploy an earlier successful deployment again");
  rb->add_option("deployment", *id, "the deployment to roll back")->required();
  rb->add_option("--to", *to, "the successful deployment to restore (default: the last one)");
  rb->add_flag("--fast", *fast, "no canary steps or holds: switch all traffic at once");
  rb->add_flag("-w,--watch", *follow, "follow the rollback until it ends");
  rb->callback(
      [&ctx, id, to, fast, follow] { ctx.finish(rollback(ctx, *id, *to, *fast, *follow)); });

  auto full = std::make_shared<bool>(false);
  auto promote_follow = std::make_shared<bool>(false);
  CLI::App* pro = app.add_subcommand(
      "promote", "let a canary or blue-green deployment waiting for promotion go on");
  pro->add_option("deployment", *id, "deployment id")->required();
  pro->add_flag("--full", *full, "no more holds or bake times: the remaining steps run at once");
  pro->add_flag("-w,--watch", *promote_follow, "then follow it until it ends");
  pro->callback([&ctx, id, full, promote_follow] {
    ctx.finish(promote_or_pause(ctx, *id, true, *full, "", *promote_follow));
  });

  auto pause_reason = std::make_shared<std::string>();
  CLI::App* pau = app.add_subcommand("pause", "pause a deployment after its current step");
  pau->add_option("deployment", *id, "deployment id")->required();
  pau->add_option("--reason", *pause_reason, "why");
  pau->callback([&ctx, id, pause_reason] {
    ctx.finish(promote_or_pause(ctx, *id, false, false, *pause_reason, false));
  });
}

}  // namespace axion::cli
