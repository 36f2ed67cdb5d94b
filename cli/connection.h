// The axion CLI's connection to axion-server: one gRPC channel, the API token on every call,
// a deadline per call, and gRPC's statuses turned into messages a person can act on (a server
// that does not answer, a token it refuses) with exit codes scripts can rely on.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/status.h"

namespace axion::cli {

struct ConnectionOptions {
  std::string addr = "127.0.0.1:50051";  // --addr / AXION_ADDR
  std::string token;                     // --token / AXION_TOKEN
  std::chrono::seconds timeout{30};      // --timeout
};

// Exit codes of the axion command.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRefused = 1;      // the server refused or failed the request
inline constexpr int kExitUsage = 2;        // invalid input: flags, project file, or as refused
inline constexpr int kExitUnreachable = 3;  // no server answered, or it refused the token
inline constexpr int kExitFailed = 4;       // a watched deployment or install ended badly, or
                                            // `servers test` found the server unusable

class Connection {
 public:
  explicit Connection(ConnectionOptions options);

  const std::shared_ptr<grpc::Channel>& channel() const { return channel_; }
  const ConnectionOptions& options() const { return options_; }

  // Runs a unary RPC with the token, the idempotency key (if any) and the deadline.
  Status call(const std::function<grpc::Status(grpc::ClientContext*)>& rpc,
              const std::string& idempotency_key = "") const;
  // A context for a streaming call: the token, no deadline.
  std::unique_ptr<grpc::ClientContext> stream_context() const;
  // A gRPC status as a Status whose message says what to do.
  Status translate(const grpc::Status& status) const;

 private:
  ConnectionOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
};

// Every page of a paged listing, merged into one response: `rpc` runs one page's call for the
// request (filters set by the caller; page size and token set here).
template <typename Request, typename Response, typename Rpc>
Result<Response> list_all(const Connection& c, Request req, Rpc&& rpc) {
  Response all;
  std::string token;
  do {
    req.set_page_size(200);
    req.set_page_token(token);
    Response page;
    AXION_RETURN_IF_ERROR(c.call([&](grpc::ClientContext* cc) { return rpc(cc, req, &page); }));
    token = page.next_page_token();
    all.MergeFrom(page);  // appends the page's items
  } while (!token.empty());
  all.clear_next_page_token();
  return all;
}

// The exit code for a Status (see above).
int exit_code(const Status& status);

}  // namespace axion::cli
