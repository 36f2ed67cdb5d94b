#include "infra/grpc/admin_service.h"

#include <google/protobuf/util/time_util.h>

#include <sstream>

#include "projections/event_tail.h"
#include "projections/replay.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;

::grpc::Status AdminServiceImpl::RebuildViews(::grpc::ServerContext* context,
                                              const v1::RebuildViewsRequest*,
                                              v1::RebuildViewsResponse* response) {
  if (Status s = gateway_.begin(context); !s.ok()) return to_grpc(s);
  auto rebuilt = admin_.rebuild_views();
  if (!rebuilt.ok()) return to_grpc(rebuilt.status());
  *response = std::move(rebuilt).value();
  return ::grpc::Status::OK;
}

::grpc::Status AdminServiceImpl::GetProjectAsOf(::grpc::ServerContext* context,
                                                const v1::GetProjectAsOfRequest* request,
                                                v1::GetProjectAsOfResponse* response) {
  if (Status s = gateway_.begin(context); !s.ok()) return to_grpc(s);
  if (Status s = require_id("project_id", request->project_id()); !s.ok()) return to_grpc(s);
  if (!request->has_at()) return to_grpc(invalid_field("at", "at (the instant) is required"));
  const std::int64_t at_ms =
      google::protobuf::util::TimeUtil::TimestampToMilliseconds(request->at());
  auto as_of = projections::views_as_of(log_, request->project_id(), at_ms, projector_);
  if (!as_of.ok()) return to_grpc(as_of.status());
  auto& queries = *as_of->queries;
  auto project = queries.project(request->project_id());
  if (!project.ok()) return to_grpc(project.status());
  *response->mutable_project() = std::move(project).value();
  v1::ListDeploymentsRequest list;
  list.set_project_id(request->project_id());
  list.set_page_size(projections::kMaxPageSize);
  auto deployments = queries.list_deployments(list);
  if (!deployments.ok()) return to_grpc(deployments.status());
  *response->mutable_deployments() = deployments->deployments();
  if (response->project().latest_graph_version() > 0) {
    auto graph = queries.graph(request->project_id(), 0);
    if (!graph.ok()) return to_grpc(graph.status());
    *response->mutable_graph() = std::move(graph).value();
  }
  response->set_events(as_of->events);
  return ::grpc::Status::OK;
}

::grpc::Status AdminServiceImpl::ExportAudit(
    ::grpc::ServerContext* context, const v1::ExportAuditRequest* request,
    ::grpc::ServerWriter<v1::ExportAuditResponse>* writer) {
  if (Status s = gateway_.begin(context); !s.ok()) return to_grpc(s);
  if (Status s = require_id("project_id", request->project_id()); !s.ok()) return to_grpc(s);
  std::ostringstream out;
  auto lines = projections::export_audit(log_, request->project_id(), out);
  if (!lines.ok()) return to_grpc(lines.status());
  if (*lines == 0) {
    return to_grpc(not_found("project '" + request->project_id() + "' has no events"));
  }
  std::istringstream in(out.str());
  v1::ExportAuditResponse line;
  while (std::getline(in, *line.mutable_line())) {
    if (context->IsCancelled()) return {::grpc::StatusCode::CANCELLED, "the client went away"};
    if (!writer->Write(line)) break;
  }
  return ::grpc::Status::OK;
}

::grpc::Status AdminServiceImpl::TailEvents(::grpc::ServerContext* context,
                                            const v1::TailEventsRequest* request,
                                            ::grpc::ServerWriter<v1::TailEventsResponse>* writer) {
  if (Status s = gateway_.begin(context); !s.ok()) return to_grpc(s);
  if (!request->project_id().empty()) {
    if (Status s = require_id("project_id", request->project_id()); !s.ok()) return to_grpc(s);
  }
  projections::TailOptions options;
  options.project_id = request->project_id();
  options.last = request->last();
  options.follow = request->follow();
  v1::TailEventsResponse out;
  Status tailed = projections::tail_events(
      log_, options, [&] { return context->IsCancelled(); },
      [&](const projections::TailedEvent& e) {
        *out.mutable_entry() = e.entry;
        out.set_json(e.json);
        return writer->Write(out);
      });
  if (context->IsCancelled()) return {::grpc::StatusCode::CANCELLED, "the client went away"};
  return to_grpc(tailed);
}

}  // namespace axion::infra::gateway
