// axion events tail | replay | audit export | as-of: the log and the views behind the API
// (AdminService). `events tail --follow` streams until the user interrupts it.
#include <google/protobuf/util/time_util.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>

#include "axion/v1/admin.grpc.pb.h"
#include "cli/commands.h"

namespace axion::cli {

namespace v1 = axion::v1;
using google::protobuf::util::TimeUtil;

namespace {

struct TailArgs {
  std::string project;
  std::uint32_t last = 20;
  bool follow = false;
};

Result<std::string> project_id_of(const Connection& c, const std::string& name) {
  auto p = find_project(c, name);
  if (!p.ok()) return p.status();
  return p->project_id();
}

std::string tail_line(const v1::AuditEntry& e) {
  std::string type = e.type();
  if (type.rfind("axion.v1.", 0) == 0) type = type.substr(std::string("axion.v1.").size());
  return TimeUtil::ToString(e.occurred_at()) + "  " + type + "  " + e.aggregate_id() + "#" +
         std::to_string(e.sequence()) + "  by " + e.actor();
}

Status tail(const Context& ctx, const TailArgs& a) {
  Connection c(ctx.connection);
  v1::TailEventsRequest req;
  if (!a.project.empty()) {
    auto id = project_id_of(c, a.project);
    if (!id.ok()) return id.status();
    req.set_project_id(*id);
  }
  req.set_last(a.last);
  req.set_follow(a.follow);
  auto stub = v1::AdminService::NewStub(c.channel());
  auto cc = c.stream_context();
  if (!a.follow) cc->set_deadline(std::chrono::system_clock::now() + c.options().timeout);
  auto stream = stub->TailEvents(cc.get(), req);
  v1::TailEventsResponse event;
  while (stream->Read(&event)) {
    switch (ctx.format()) {
      case Format::kJson:
        std::cout << event.json() << "\n";  // JSON lines: one event per line
        break;
      case Format::kYaml:
        std::cout << "---\n" << to_yaml(event.entry());
        break;
      case Format::kTable:
        std::cout << tail_line(event.entry()) << "\n";
        break;
    }
    std::cout.flush();
  }
  return c.translate(stream->Finish());
}

Status replay(const Context& ctx) {
  Connection c(ctx.connection);
  auto stub = v1::AdminService::NewStub(c.channel());
  v1::RebuildViewsRequest req;
  v1::RebuildViewsResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->RebuildViews(cc, req, &resp); }));
  Table t{{"RECORDS", "EVENTS", "DURATION", "STORE"},
          {{std::to_string(resp.records()), std::to_string(resp.events()),
            std::to_string(resp.duration_ms()) + " ms", resp.store()}}};
  std::cout << render(ctx.format(), resp, t);
  return ok_status();
}

// Writes the export to `out` (a file, written whole or removed) or stdout.
Status audit_export(const Context& ctx, const std::string& project, const std::string& out) {
  Connection c(ctx.connection);
  auto id = project_id_of(c, project);
  if (!id.ok()) return id.status();
  std::ofstream file;
  const std::string partial = out + ".partial";
  if (!out.empty()) {
    file.open(partial, std::ios::binary | std::ios::trunc);
    if (!file) return invalid_argument("cannot write " + partial + ": " + std::strerror(errno));
  }
  std::ostream& sink = out.empty() ? std::cout : file;
  auto stub = v1::AdminService::NewStub(c.channel());
  auto cc = c.stream_context();
  v1::ExportAuditRequest req;
  req.set_project_id(*id);
  auto stream = stub->ExportAudit(cc.get(), req);
  v1::ExportAuditResponse line;
  std::uint64_t lines = 0;
  while (stream->Read(&line)) {
    sink << line.line() << "\n";
    ++lines;
  }
  Status done = c.translate(stream->Finish());
  if (out.empty()) return done;
  file.close();
  if (done.ok() && !file) done = unavailable("cannot write " + partial);
  if (done.ok() && std::rename(partial.c_str(), out.c_str()) != 0) {
    done = unavailable("cannot rename " + partial + " to " + out + ": " + std::strerror(errno));
  }
  if (!done.ok()) {
    std::remove(partial.c_str());
    return done;
  }
  std::cerr << "wrote " << lines << " events to " << out << "\n";
  return ok_status();
}

// An RFC 3339 instant, or a duration ago: 90s, 15m, 2h, 3d.
Result<google::protobuf::Timestamp> instant_of(const std::string& text) {
  google::protobuf::Timestamp at;
  if (TimeUtil::FromString(text, &at)) return at;
  std::size_t used = 0;
  long long n = -1;
  try {
    n = std::stoll(text, &used);
  } catch (const std::exception&) {
  }
  const std::string unit = used > 0 ? text.substr(used) : "";
  const long long scale = unit == "s"   ? 1
                          : unit == "m" ? 60
                          : unit == "h" ? 3600
                          : unit == "d" ? 86400
                                        : 0;
  if (n < 0 || scale == 0 || n > 3650LL * 86400 / scale) {
    return invalid_argument("'" + text +
                            "' is neither an RFC 3339 time (2026-12-07T21:00:00Z) nor a duration "
                            "ago (90s, 15m, 2h, 3d)");
  }
  return TimeUtil::SecondsToTimestamp(TimeUtil::TimestampToSeconds(TimeUtil::GetCurrentTime()) -
                                      n * scale);
}

Status as_of(const Context& ctx, const std::string& project, const std::string& when) {
  auto at = instant_of(when);
  if (!at.ok()) return at.status();
  Connection c(ctx.connection);
  auto id = project_id_of(c, project);
  if (!id.ok()) return id.status();
  auto stub = v1::AdminService::NewStub(c.channel());
  v1::GetProjectAsOfRequest req;
  req.set_project_id(*id);
  *req.mutable_at() = *at;
  v1::GetProjectAsOfResponse resp;
  AXION_RETURN_IF_ERROR(c.call([&](auto* cc) { return stub->GetProjectAsOf(cc, req, &resp); }));
  Table t{{"DEPLOYMENT", "ENVIRONMENT", "GRAPH", "STATUS", "CREATED"}, {}};
  for (const auto& d : resp.deployments()) {
    std::string status = v1::DeploymentStatus_Name(d.status());
    status = status.substr(std::string("DEPLOYMENT_STATUS_").size());
    t.rows.push_back({d.deployment_id(), d.environment(), "v" + std::to_string(d.graph_version()),
                      status, TimeUtil::ToString(d.created_at())});
  }
  if (ctx.format() == Format::kTable) {
    std::cout << "project " << resp.project().name() << " as of " << TimeUtil::ToString(*at)
              << ": graph v" << resp.graph().version() << " (" << resp.graph().services_size()
              << " services), " << resp.events() << " events folded\n";
  }
  std::cout << render(ctx.format(), resp, t);
  return ok_status();
}

}  // namespace

void add_admin_commands(CLI::App& app, Context& ctx) {
  CLI::App* events = app.add_subcommand("events", "the event log");
  events->require_subcommand(1);
  auto a = std::make_shared<TailArgs>();
  CLI::App* t = events->add_subcommand(
      "tail", "the latest events (of one project or all); -o json prints the events as JSON lines");
  t->add_option("-p,--project", a->project, "only this project's events");
  t->add_option("-n,--last", a->last, "how many of the latest events")
      ->check(CLI::Range(1u, 1000u))
      ->capture_default_str();
  t->add_flag("-f,--follow", a->follow, "then keep printing events as they happen (Ctrl-C stops)");
  t->callback([&ctx, a] { ctx.finish(tail(ctx, *a)); });

  CLI::App* r = app.add_subcommand(
      "replay", "rebuild every view from the log into a fresh store, then swap it in");
  r->callback([&ctx] { ctx.finish(replay(ctx)); });

  CLI::App* audit = app.add_subcommand("audit", "a project's audit trail");
  audit->require_subcommand(1);
  auto project = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  CLI::App* ex =
      audit->add_subcommand("export", "every event of the project as JSON lines, in log order");
  ex->add_option("-p,--project", *project, "project name")->required();
  ex->add_option("--out", *out, "write to this file (whole, or not at all) instead of stdout");
  ex->callback([&ctx, project, out] { ctx.finish(audit_export(ctx, *project, *out)); });

  auto when = std::make_shared<std::string>();
  auto of = std::make_shared<std::string>();
  CLI::App* asof = app.add_subcommand(
      "as-of", "a project, its deployments and graph as they were at a time (folded from the log)");
  asof->add_option("time", *when, "RFC 3339 time (2026-12-07T21:00:00Z) or a duration ago (15m)")
      ->required();
  asof->add_option("-p,--project", *of, "project name")->required();
  asof->callback([&ctx, when, of] { ctx.finish(as_of(ctx, *of, *when)); });
}

}  // namespace axion::cli
