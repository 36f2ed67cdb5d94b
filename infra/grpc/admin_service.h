// AdminService over gRPC (schemas/axion/v1/admin.proto): rebuild the views, a project as of an
// instant, a project's audit export, the event tail. Token-authenticated like every other RPC.
#pragma once

#include "axion/v1/admin.grpc.pb.h"
#include "events/event_log.h"
#include "infra/grpc/query_gateway.h"
#include "projections/projector.h"

namespace axion::infra::gateway {

// What only the server can do: swap its views.
class ViewsAdmin {
 public:
  virtual ~ViewsAdmin() = default;
  virtual Result<axion::v1::RebuildViewsResponse> rebuild_views() = 0;
};

class AdminServiceImpl final : public axion::v1::AdminService::Service {
 public:
  // REQUIRES: all references outlive the service.
  AdminServiceImpl(const QueryGateway& gateway, events::EventLog& log, ViewsAdmin& admin,
                   projections::ProjectorOptions projector)
      : gateway_(gateway), log_(log), admin_(admin), projector_(projector) {}

  ::grpc::Status RebuildViews(::grpc::ServerContext* context,
                              const axion::v1::RebuildViewsRequest* request,
                              axion::v1::RebuildViewsResponse* response) override;
  ::grpc::Status GetProjectAsOf(::grpc::ServerContext* context,
                                const axion::v1::GetProjectAsOfRequest* request,
                                axion::v1::GetProjectAsOfResponse* response) override;
  ::grpc::Status ExportAudit(::grpc::ServerContext* context,
                             const axion::v1::ExportAuditRequest* request,
                             ::grpc::ServerWriter<axion::v1::ExportAuditResponse>* writer) override;
  ::grpc::Status TailEvents(::grpc::ServerContext* context,
                            const axion::v1::TailEventsRequest* request,
                            ::grpc::ServerWriter<axion::v1::TailEventsResponse>* writer) override;

 private:
  const QueryGateway& gateway_;
  events::EventLog& log_;
  ViewsAdmin& admin_;
  projections::ProjectorOptions projector_;
};

}  // namespace axion::infra::gateway
