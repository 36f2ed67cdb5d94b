// axion project publish|list, axion deploy: projects from axion.yaml and their deployments.
#include <google/protobuf/util/time_util.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "axion/v1/deployment.grpc.pb.h"
#include "cli/commands.h"
#include "cli/project_file.h"

namespace axion::cli {

namespace v1 = axion::v1;

namespace {

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return invalid_argument("cannot read " + path + " (-f names the project file)");
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Registers the project on first publish; the key makes a retried registration the same one.
Result<std::string> project_id_for(const Connection& c, const std::string& name) {
  auto found = find_project(c, name);
  if (found.ok()) return found->project_id();
  if (found.status().code() != StatusCode::kNotFound) return found.status();
  auto stub = v1::ProjectService::NewStub(c.channel());
  v1::RegisterProjectRequest req;
  req.set_name(name);
  v1::RegisterProjectResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* ctx) { return stub->RegisterProject(ctx, req, &resp); },
                               "axion-cli-register:" + name));
  return resp.project_id();
}

Status publish(const Context& ctx, const std::string& file, const std::string& commit) {
  auto text = read_text(file);
  if (!text.ok()) return text.status();
  auto project = parse_project_file(*text, file);
  if (!project.ok()) return project.status();
  Connection c(ctx.connection);
  auto id = project_id_for(c, project->project);
  if (!id.ok()) return id.status();
  auto stub = v1::ProjectService::NewStub(c.channel());
  v1::PublishGraphRequest req;
  req.set_project_id(*id);
  for (auto& s : project->services) *req.add_services() = s;
  for (auto& e : project->edges) *req.add_edges() = e;
  req.set_commit_hash(commit);
  v1::PublishGraphResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->PublishGraph(cc, req, &resp); }));
  Table t{{"PROJECT", "ID", "GRAPH VERSION", "CONTENT HASH"},
          {{project->project, *id, std::to_string(resp.graph_version()),
            resp.content_hash().substr(0, 12)}}};
  std::cout << render(ctx.format(), resp, t);
  return ok_status();
}

// Every project, page after page.
Result<v1::ListProjectsResponse> all_projects(const Connection& c) {
  auto stub = v1::ProjectService::NewStub(c.channel());
  return list_all<v1::ListProjectsRequest, v1::ListProjectsResponse>(
      c, {},
      [&](auto* cc, const auto& req, auto* page) { return stub->ListProjects(cc, req, page); });
}

Status list_projects(const Context& ctx) {
  Connection c(ctx.connection);
  auto listed = all_projects(c);
  if (!listed.ok()) return listed.status();
  const v1::ListProjectsResponse& all = *listed;
  Table t{{"NAME", "ID", "GRAPH VERSION", "CREATED"}, {}};
  for (const auto& p : all.projects()) {
    t.rows.push_back({p.name(), p.project_id(), std::to_string(p.latest_graph_version()),
                      google::protobuf::util::TimeUtil::ToString(p.created_at())});
  }
  std::cout << render(ctx.format(), all, t);
  return ok_status();
}

}  // namespace

Result<v1::Project> find_project(const Connection& c, const std::string& name) {
  auto all = all_projects(c);
  if (!all.ok()) return all.status();
  for (const auto& p : all->projects())
    if (p.name() == name) return p;
  return not_found("no project is named '" + name + "' (axion project publish registers it)");
}

void add_project_commands(CLI::App& app, Context& ctx) {
  CLI::App* project = app.add_subcommand("project", "publish and list projects");
  project->require_subcommand(1);

  CLI::App* pub = project->add_subcommand(
      "publish", "publish axion.yaml as the project's next graph version (registers it first)");
  auto file = std::make_shared<std::string>("axion.yaml");
  auto commit = std::make_shared<std::string>();
  pub->add_option("-f,--file", *file, "the project file")->capture_default_str();
  pub->add_option("--commit", *commit, "source commit the graph comes from");
  pub->callback([&ctx, file, commit] { ctx.finish(publish(ctx, *file, *commit)); });

  CLI::App* list = project->add_subcommand("list", "the projects");
  list->callback([&ctx] { ctx.finish(list_projects(ctx)); });
}

}  // namespace axion::cli
