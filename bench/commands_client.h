// commands_bench's client side: the gRPC clients, the DeployProject requests they send, the
// asynchronous cell that keeps C calls in flight, and the projects the calls deploy.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "axion/v1/deployment.grpc.pb.h"
#include "axion/v1/project.grpc.pb.h"
#include "bench/bench_util.h"
#include "common/status.h"

namespace axion::bench {

namespace v1 = axion::v1;

// The API token the bench's server accepts (and the raw baselines ignore).
inline constexpr const char* kBenchToken = "bench-token-0123456789abcdef";

// One client: its own channel (a distinct channel arg keeps gRPC from sharing the connection).
struct Client {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::ProjectService::Stub> projects;
  std::unique_ptr<v1::DeploymentService::Stub> deployments;

  Client(int port, int index);
};

// `count` clients of the server on 127.0.0.1:`port`, each with its own connection.
std::vector<std::unique_ptr<Client>> make_clients(int port, int count);

// One blocking DeployProject call with the token; false and *error if it failed.
bool deploy_once(Client& client, const v1::DeployProjectRequest& request, std::string* error);

// User + system CPU time of the whole process so far.
std::chrono::microseconds process_cpu();

// The bearer token and a 30 s deadline.
void authorize(grpc::ClientContext& ctx);

// "<code> <message>" of a failed call.
std::string describe(const grpc::Status& s);

// The DeployProject request of call `seq` of client `t` among `clients`: the projects round-robin,
// each call to a new environment, so every command is accepted.
v1::DeployProjectRequest deploy_request(const std::vector<std::string>& projects, int clients,
                                        int t, std::uint64_t seq);

// `clients` calls kept in flight for `duration` with the async API: client t uses channel
// t % channels, and each channel has one thread that reaps completions from its completion queue
// and starts that client's next call. Latency is per call, from its start to its completion.
CellResult run_async_cell(std::vector<std::unique_ptr<Client>>& channels, int clients,
                          std::chrono::duration<double> duration,
                          const std::vector<std::string>& projects);

// P projects, each registered with one published 2-service graph; their ids.
Result<std::vector<std::string>> set_up_projects(Client& client, int count, const std::string& run);

}  // namespace axion::bench
