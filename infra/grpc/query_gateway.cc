#include "infra/grpc/query_gateway.h"

#include <algorithm>

namespace axion::infra::gateway {

Status QueryGateway::begin(::grpc::ServerContext* context) const {
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    if (tokens_.authenticate(std::string_view(it->second.data(), it->second.size()))) {
      return ok_status();
    }
  }
  return Status(StatusCode::kUnauthenticated, std::string(kUnauthenticatedMessage));
}

Status QueryGateway::begin(
    ::grpc::ServerContext* context,
    const google::protobuf::RepeatedPtrField<axion::v1::LogPosition>& min_positions) const {
  AXION_RETURN_IF_ERROR(begin(context));
  return wait_for(min_positions, context->deadline());
}

Status QueryGateway::wait_for(
    const google::protobuf::RepeatedPtrField<axion::v1::LogPosition>& min_positions,
    std::chrono::system_clock::time_point deadline) const {
  if (min_positions.empty()) return ok_status();
  std::vector<events::LogPosition> positions;
  for (int i = 0; i < min_positions.size(); ++i) {
    const auto& p = min_positions[i];
    if (p.topic().empty() || p.topic().size() > 249 || p.partition() < 0 || p.offset() < 0) {
      return invalid_field("min_positions[" + std::to_string(i) + "]",
                           "a position needs a topic, a partition >= 0 and an offset >= 0: pass "
                           "the positions a command's answer returned");
    }
    positions.push_back({{p.topic(), p.partition()}, p.offset()});
  }
  const auto now = std::chrono::system_clock::now();
  const auto wait = std::min<std::chrono::system_clock::duration>(
      std::max<std::chrono::system_clock::duration>(deadline - now, std::chrono::milliseconds(0)),
      kMaxQueryWait);
  return views_.wait_for(positions, std::chrono::steady_clock::now() + wait);
}

}  // namespace axion::infra::gateway
