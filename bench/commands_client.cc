// commands_bench's client side (see commands_client.h).
#include "bench/commands_client.h"

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <thread>

namespace axion::bench {

namespace v1 = axion::v1;

std::chrono::microseconds process_cpu() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return std::chrono::seconds(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         std::chrono::microseconds(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

void authorize(grpc::ClientContext& ctx) {
  ctx.AddMetadata("authorization", std::string("Bearer ") + kBenchToken);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
}

std::string describe(const grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + " " + s.error_message();
}

Client::Client(int port, int index) {
  grpc::ChannelArguments args;
  args.SetInt("axion.bench.channel", index);
  channel = grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(port),
                                      grpc::InsecureChannelCredentials(), args);
  projects = v1::ProjectService::NewStub(channel);
  deployments = v1::DeploymentService::NewStub(channel);
}

std::vector<std::unique_ptr<Client>> make_clients(int port, int count) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < count; ++i) clients.push_back(std::make_unique<Client>(port, i));
  return clients;
}

bool deploy_once(Client& client, const v1::DeployProjectRequest& request, std::string* error) {
  grpc::ClientContext ctx;
  authorize(ctx);
  v1::DeployProjectResponse resp;
  const grpc::Status s = client.deployments->DeployProject(&ctx, request, &resp);
  if (!s.ok()) *error = describe(s);
  return s.ok();
}

v1::DeployProjectRequest deploy_request(const std::vector<std::string>& projects, int clients,
                                        int t, std::uint64_t seq) {
  const auto n = static_cast<std::size_t>(t) + seq * static_cast<std::size_t>(clients);
  v1::DeployProjectRequest req;
  req.set_project_id(projects[n % projects.size()]);
  req.set_environment("c" + std::to_string(clients) + "-e" + std::to_string(t) + "-" +
                      std::to_string(seq));
  return req;
}

CellResult run_async_cell(std::vector<std::unique_ptr<Client>>& channels, int clients,
                          std::chrono::duration<double> duration,
                          const std::vector<std::string>& projects) {
  struct Slot {
    int t = 0;
    std::uint64_t seq = 0;
    std::unique_ptr<grpc::ClientContext> ctx;
    v1::DeployProjectResponse resp;
    grpc::Status status;
    std::unique_ptr<grpc::ClientAsyncResponseReader<v1::DeployProjectResponse>> rpc;
    Clock::time_point started;
  };
  const std::size_t n_threads = std::min(channels.size(), static_cast<std::size_t>(clients));
  std::vector<Slot> slots(static_cast<std::size_t>(clients));
  std::vector<ThreadSamples> per(n_threads);
  std::vector<grpc::CompletionQueue> queues(n_threads);
  std::atomic<bool> go{false};
  Clock::time_point start{}, deadline{};
  auto start_call = [&](Slot& slot, grpc::CompletionQueue& cq) {
    Client& client = *channels[static_cast<std::size_t>(slot.t) % channels.size()];
    slot.ctx = std::make_unique<grpc::ClientContext>();
    authorize(*slot.ctx);
    slot.started = Clock::now();
    slot.rpc = client.deployments->AsyncDeployProject(
        slot.ctx.get(), deploy_request(projects, clients, slot.t, slot.seq++), &cq);
    slot.rpc->Finish(&slot.resp, &slot.status, &slot);
  };
  std::vector<std::thread> threads;
  for (std::size_t q = 0; q < n_threads; ++q) {
    threads.emplace_back([&, q] {
      ThreadSamples& me = per[q];
      me.lat_ns.reserve(1 << 16);
      go.wait(false);
      std::size_t in_flight = 0;
      for (std::size_t i = q; i < slots.size(); i += n_threads) {
        slots[i].t = static_cast<int>(i);
        start_call(slots[i], queues[q]);
        ++in_flight;
      }
      void* tag = nullptr;
      bool ok = false;
      while (in_flight > 0 && queues[q].Next(&tag, &ok)) {
        Slot& slot = *static_cast<Slot*>(tag);
        const Clock::time_point now = Clock::now();
        if (ok && slot.status.ok()) {
          me.lat_ns.push_back(
              std::chrono::duration_cast<std::chrono::nanoseconds>(now - slot.started).count());
        } else if (me.errors++ == 0) {
          me.first_error = ok ? describe(slot.status) : "the completion queue failed the call";
        }
        if (now < deadline && me.errors < 100) {
          start_call(slot, queues[q]);
        } else {
          --in_flight;
        }
      }
      me.end = Clock::now();
    });
  }
  start = Clock::now();
  deadline = start + std::chrono::duration_cast<Clock::duration>(duration);
  go.store(true);
  go.notify_all();
  for (auto& th : threads) th.join();
  for (auto& cq : queues) {
    cq.Shutdown();
    void* tag = nullptr;
    bool ok = false;
    while (cq.Next(&tag, &ok)) {
    }
  }

  return merge_samples(per, start);
}

Result<std::vector<std::string>> set_up_projects(Client& client, int count,
                                                 const std::string& run) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    v1::RegisterProjectResponse reg;
    {
      grpc::ClientContext ctx;
      authorize(ctx);
      v1::RegisterProjectRequest req;
      req.set_name("bench-" + run + "-" + std::to_string(i));
      auto s = client.projects->RegisterProject(&ctx, req, &reg);
      if (!s.ok()) return unavailable("RegisterProject: " + describe(s));
    }
    grpc::ClientContext ctx;
    authorize(ctx);
    v1::PublishGraphRequest req;
    req.set_project_id(reg.project_id());
    for (const char* name : {"web", "api"}) {
      auto* svc = req.add_services();
      svc->set_name(name);
      svc->set_image(std::string("bench/") + name + ":1");
    }
    v1::PublishGraphResponse pub;
    auto s = client.projects->PublishGraph(&ctx, req, &pub);
    if (!s.ok()) return unavailable("PublishGraph: " + describe(s));
    ids.push_back(reg.project_id());
  }
  return ids;
}

}  // namespace axion::bench
