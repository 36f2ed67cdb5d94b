#include "cli/connection.h"

namespace axion::cli {

Connection::Connection(ConnectionOptions options)
    : options_(std::move(options)),
      channel_(grpc::CreateChannel(options_.addr, grpc::InsecureChannelCredentials())) {}

Status Connection::call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc,
                        const std::string& idempotency_key) const {
  grpc::ClientContext ctx;
  if (!options_.token.empty()) ctx.AddMetadata("authorization", "Bearer " + options_.token);
  if (!idempotency_key.empty()) ctx.AddMetadata("idempotency-key", idempotency_key);
  ctx.set_deadline(std::chrono::system_clock::now() + options_.timeout);
  return translate(rpc(&ctx));
}

std::unique_ptr<grpc::ClientContext> Connection::stream_context() const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!options_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options_.token);
  return ctx;
}

Status Connection::translate(const grpc::Status& s) const {
  if (s.ok()) return ok_status();
  const auto code = static_cast<StatusCode>(s.error_code());
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return Status(code, "cannot reach axion-server at " + options_.addr +
                              " (is it running? set AXION_ADDR or --addr): " + s.error_message());
    case grpc::StatusCode::UNAUTHENTICATED:
      return Status(code, "axion-server at " + options_.addr +
                              " refused the API token: set AXION_TOKEN or --token to a token "
                              "listed in its AXION_API_TOKENS (" +
                              s.error_message() + ")");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return Status(code, "axion-server at " + options_.addr + " did not answer within " +
                              std::to_string(options_.timeout.count()) +
                              " s (--timeout): " + s.error_message());
    default:
      return Status(code, s.error_message());
  }
}

int exit_code(const Status& status) {
  if (status.ok()) return kExitOk;
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kUnauthenticated:
    case StatusCode::kDeadlineExceeded:
      return kExitUnreachable;
    case StatusCode::kInvalidArgument:  // bad flags, a bad project file, or input the server
                                        // refused
      return kExitUsage;
    default:
      return kExitRefused;
  }
}

}  // namespace axion::cli
