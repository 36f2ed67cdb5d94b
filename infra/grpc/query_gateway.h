// QueryGateway: what every query RPC shares — the bearer token (as for commands), then the
// consistency token: a query may carry the log positions a command's answer returned
// (`min_positions`) and is answered only once the views have applied them, within the call's
// deadline (capped at kMaxQueryWait) or DEADLINE_EXCEEDED. Answers come from ViewQueries.
#pragma once

#include <google/protobuf/repeated_ptr_field.h>
#include <grpcpp/grpcpp.h>

#include <chrono>

#include "axion/v1/envelope.pb.h"
#include "common/status.h"
#include "infra/grpc/api_tokens.h"
#include "projections/projection_processor.h"
#include "projections/queries.h"

namespace axion::infra::gateway {

inline constexpr std::chrono::milliseconds kMaxQueryWait{30000};

class QueryGateway {
 public:
  // REQUIRES: all three outlive the gateway.
  QueryGateway(const ApiTokens& tokens, projections::ViewQueries& queries,
               projections::ProjectionProcessor& views)
      : tokens_(tokens), queries_(queries), views_(views) {}

  // UNAUTHENTICATED without a valid token; INVALID_ARGUMENT for a malformed position;
  // DEADLINE_EXCEEDED if the views do not reach the positions in time.
  Status begin(::grpc::ServerContext* context,
               const google::protobuf::RepeatedPtrField<axion::v1::LogPosition>& min_positions) const;
  Status begin(::grpc::ServerContext* context) const;
  // Waits until the views applied `min_positions` (none: at once), until `deadline` capped at
  // kMaxQueryWait; INVALID_ARGUMENT for a malformed position, DEADLINE_EXCEEDED in time.
  Status wait_for(const google::protobuf::RepeatedPtrField<axion::v1::LogPosition>& min_positions,
                  std::chrono::system_clock::time_point deadline) const;

  projections::ViewQueries& queries() const { return queries_; }

 private:
  const ApiTokens& tokens_;
  projections::ViewQueries& queries_;
  projections::ProjectionProcessor& views_;
};

// Runs `answer` (returning axion::Status) after `begin`, mapping both to a grpc::Status.
template <typename Answer>
::grpc::Status answer_query(const QueryGateway* gateway, ::grpc::ServerContext* context,
                            const google::protobuf::RepeatedPtrField<axion::v1::LogPosition>&
                                min_positions,
                            Answer&& answer);

}  // namespace axion::infra::gateway

#include "infra/grpc/command_gateway.h"

namespace axion::infra::gateway {

template <typename Answer>
::grpc::Status answer_query(const QueryGateway* gateway, ::grpc::ServerContext* context,
                            const google::protobuf::RepeatedPtrField<axion::v1::LogPosition>&
                                min_positions,
                            Answer&& answer) {
  if (!gateway) {
    return {::grpc::StatusCode::UNAVAILABLE, "this server does not serve queries"};
  }
  if (Status s = gateway->begin(context, min_positions); !s.ok()) return to_grpc(s);
  return to_grpc(answer(gateway->queries()));
}

}  // namespace axion::infra::gateway
