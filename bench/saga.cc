// saga_bench: the deployment saga on the embedded log — N concurrent deployments (one per
// project) driven by the real command processor and saga processor against simulated fast
// agents (a consumer of axion.agent.tasks.v1 that answers every task SUCCEEDED at once, through
// the same topic). Reports the saga's step transitions per second (progress records it had
// accepted — status changes, config, placement, steps, task results, ends), the events they
// appended, and each deployment's time from DeploymentRequested to its terminal status.
// Baseline in the same run: the same deployments through the saga in memory (SagaSim: the pure
// fold/react and the aggregate's decide, no log), so the ratio is what durability and the
// processors cost.
//
//   saga_bench [--deployments 1000] [--servers 8] [--dir DIR]
#include <google/protobuf/util/time_util.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <iostream>
#include <map>
#include <thread>

#include "bench/bench_cli.h"
#include "bench/bench_util.h"
#include "commands/aggregate_kinds.h"
#include "commands/command_bus.h"
#include "commands/command_processor.h"
#include "common/wall_clock.h"
#include "events/envelope.h"
#include "events/topics.h"
#include "infra/rocksdb/rocks_event_log.h"
#include "server/saga_processor.h"
#include "tests/support/saga_sim.h"

namespace {

using namespace axion;
namespace fs = std::filesystem;
namespace v1 = axion::v1;
using Clock = std::chrono::steady_clock;
using google::protobuf::util::TimeUtil;

void check(const Status& s, const std::string& what) {
  if (s.ok()) return;
  std::cerr << what << ": " << s.message() << "\n";
  std::exit(1);
}

// web (published port, 2 replicas) -START_ORDER-> api (1 replica).
v1::GraphVersion graph() {
  v1::GraphVersion g;
  for (const auto& [name, replicas] : {std::pair<const char*, int>{"api", 1}, {"web", 2}}) {
    auto* s = g.add_services();
    s->set_name(name);
    s->set_image("axion.local/bench:1");
    s->add_command("/usr/bin/true");
    s->set_replicas(static_cast<std::uint32_t>(replicas));
    auto* p = s->add_ports();
    p->set_name("http");
    p->set_container_port(8080);
    if (std::string(name) == "web") p->set_host_port(8080);
  }
  auto* e = g.add_edges();
  e->set_from_service("web");
  e->set_to_service("api");
  e->set_kind(v1::EDGE_KIND_START_ORDER);
  return g;
}

std::vector<sagas::ServerInfo> servers(int n) {
  std::vector<sagas::ServerInfo> out;
  for (int i = 0; i < n; ++i) {
    sagas::ServerInfo s;
    s.server_id = "srv-" + std::to_string(i);
    s.host = "10.0.0." + std::to_string(i + 1);
    s.online = true;
    s.runtimes = {"process", "proxy"};
    s.cpu_millis = 64000;
    s.memory_mb = 262144;
    out.push_back(s);
  }
  return out;
}

// Agents that answer every task at once: AgentTask records in, AgentTaskResult records out,
// with the consumed offsets in the same append.
class FastAgents {
 public:
  explicit FastAgents(events::EventLog& log) : log_(log) {
    auto producer = log_.open_producer("bench-agents");
    check(producer.status(), "agents producer");
    producer_ = std::move(producer).value();
    auto consumer = log_.subscribe("bench-agents", {std::string(events::kAgentTasksTopic)});
    check(consumer.status(), "agents consumer");
    consumer_ = std::move(consumer).value();
    thread_ = std::thread([this] { run(); });
  }
  ~FastAgents() {
    running_ = false;
    thread_.join();
  }
  std::uint64_t answered() const { return answered_; }

 private:
  void run() {
    std::uint32_t port = 30000;
    while (running_) {
      auto batch = consumer_->poll(std::chrono::milliseconds(50));
      if (!batch.ok() || batch->empty()) continue;
      std::vector<events::Record> out;
      std::map<events::TopicPartition, std::int64_t> next;
      for (const auto& r : *batch) {
        next[r.tp] = r.offset + 1;
        auto envelope = events::parse_envelope(r);
        if (!envelope.ok() || envelope->type() != v1::AgentTask::descriptor()->full_name())
          continue;
        auto task = events::unpack_payload<v1::AgentTask>(*envelope);
        if (!task.ok()) continue;
        v1::AgentTaskResult result;
        result.set_server_id(task->server_id());
        result.set_agent_id("agt-" + task->server_id());
        result.set_deployment_id(task->task().deployment_id());
        result.set_project_id(task->project_id());
        result.set_kind(task->task().kind());
        result.set_instance_id(task->task().spec().process().instance_id());
        auto& u = *result.mutable_update();
        u.set_task_id(task->task().task_id());
        u.set_state(v1::TASK_STATE_SUCCEEDED);
        if (task->task().kind() == v1::TASK_KIND_START_SERVICE)
          for (const auto& p : task->task().spec().process().ports())
            (*u.mutable_ports())[p.name()] = port++ % 30000 + 30000;
        events::EnvelopeMeta meta;
        meta.event_id = "res-" + u.task_id();
        meta.aggregate_type = std::string(events::aggregate_type::kAgentTask);
        meta.aggregate_id = u.task_id();
        meta.occurred_at_ms = wall_clock_ms();
        meta.actor = result.agent_id();
        out.push_back(events::to_record(std::string(events::kAgentTasksTopic),
                                        events::make_envelope(result, meta)));
      }
      events::OffsetCommit offsets;
      offsets.group = "bench-agents";
      offsets.consumer = consumer_.get();
      for (const auto& [tp, n] : next) offsets.offsets.push_back({tp, n});
      const std::size_t n = out.size();
      if (producer_->append(std::move(out), &offsets).ok()) answered_ += n;
    }
  }
  events::EventLog& log_;
  std::unique_ptr<events::Producer> producer_;
  std::unique_ptr<events::Consumer> consumer_;
  std::atomic<bool> running_{true};
  std::atomic<std::uint64_t> answered_{0};
  std::thread thread_;
};

v1::CommandEnvelope envelope(const std::string& project, const google::protobuf::Message& m,
                             const std::string& id) {
  v1::CommandEnvelope c;
  c.set_command_id(id);
  c.set_idempotency_key(id);
  c.set_type(m.GetDescriptor()->full_name());
  c.set_aggregate_id(project);
  c.set_aggregate_type("project");
  c.set_partition_key(project);
  c.set_actor("bench");
  c.set_correlation_id(id);
  c.mutable_payload()->PackFrom(m);
  return c;
}

// Submits every command and waits for all results; exits on a refusal.
void submit_all(commands::CommandBus& bus, std::vector<v1::CommandEnvelope> commands) {
  std::mutex mu;
  std::condition_variable cv;
  std::size_t left = commands.size();
  for (auto& c : commands) {
    bus.submit_async(std::move(c), std::chrono::seconds(120), [&](Result<v1::CommandResult> r) {
      r = commands::refusal_as_status(std::move(r));
      check(r.status(), "command");
      std::lock_guard lock(mu);
      if (--left == 0) cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return left == 0; });
}

struct Measured {
  double seconds = 0;
  std::uint64_t transitions = 0;  // saga progress records accepted
  std::uint64_t events = 0;       // events they appended
  std::vector<std::int64_t> to_terminal_ns;
  std::uint64_t succeeded = 0;
};

// Reads the deployment events from `from` until every deployment is terminal.
Measured watch(events::EventLog& log, const std::map<events::TopicPartition, std::int64_t>& from,
               std::size_t deployments, Clock::time_point started) {
  Measured m;
  std::map<events::TopicPartition, std::int64_t> next = from;
  std::map<std::string, std::int64_t> requested;
  std::set<std::string> ended;
  std::set<std::string> system_commands;
  while (ended.size() < deployments) {
    bool any = false;
    for (auto& [tp, offset] : next) {
      auto records = log.read(tp, offset, 5000, std::chrono::milliseconds(0));
      check(records.status(), "read");
      for (const auto& r : *records) {
        offset = r.offset + 1;
        any = true;
        auto e = events::parse_envelope(r);
        if (!e.ok()) continue;
        const std::int64_t at = TimeUtil::TimestampToNanoseconds(e->occurred_at());
        if (e->actor() == "system") {
          ++m.events;
          system_commands.insert(e->correlation_id());
        }
        if (e->type() == v1::DeploymentRequested::descriptor()->full_name()) {
          auto d = events::unpack_payload<v1::DeploymentRequested>(*e);
          if (d.ok()) requested[d->deployment_id()] = at;
        }
        std::string id;
        if (auto s = events::unpack_payload<v1::DeploymentSucceeded>(*e);
            e->type() == v1::DeploymentSucceeded::descriptor()->full_name() && s.ok()) {
          id = s->deployment_id();
          ++m.succeeded;
        } else if (auto f = events::unpack_payload<v1::DeploymentFailed>(*e);
                   e->type() == v1::DeploymentFailed::descriptor()->full_name() && f.ok()) {
          id = f->deployment_id();
        }
        if (!id.empty() && ended.insert(id).second && requested.contains(id))
          m.to_terminal_ns.push_back(at - requested[id]);
      }
    }
    if (!any) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (Clock::now() - started > std::chrono::minutes(10)) {
      std::cerr << "gave up: " << ended.size() << " of " << deployments << " ended\n";
      std::exit(1);
    }
  }
  m.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  m.transitions = system_commands.size();
  std::sort(m.to_terminal_ns.begin(), m.to_terminal_ns.end());
  return m;
}

// The same deployments through the saga in memory.
Measured in_memory(int deployments) {
  Measured m;
  const auto started = Clock::now();
  for (int i = 0; i < deployments; ++i) {
    testing::SagaSim sim(8, "prj-" + std::to_string(i));
    check(sim.publish(graph()), "publish");
    const auto t0 = Clock::now();
    const std::string id = sim.deploy();
    if (!sim.settle(id)) check(internal_error("in-memory deployment did not end"), "sim");
    m.to_terminal_ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count());
    m.transitions += sim.transitions;
    m.succeeded += sim.status(id) == v1::DEPLOYMENT_STATUS_SUCCESS;
  }
  m.seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::sort(m.to_terminal_ns.begin(), m.to_terminal_ns.end());
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  int deployments = 1000;
  int server_count = 8;
  std::string dir;
  CLI::App app{"saga_bench: concurrent deployments through the saga on the embedded log"};
  app.add_option("--deployments", deployments, "concurrent deployments (one per project)")
      ->check(bench::positive());
  app.add_option("--servers", server_count, "simulated servers")->check(bench::positive());
  app.add_option("--dir", dir, "scratch directory (default: a fresh temp directory)");
  CLI11_PARSE(app, argc, argv);
  if (dir.empty())
    dir = (fs::temp_directory_path() / ("saga-bench-" + std::to_string(getpid()))).string();
  fs::remove_all(dir);
  std::cout << "machine: " << bench::machine_description() << "; " << bench::utc_now()
            << "; load average " << bench::load_average() << " at start\n";

  Measured logged;
  {
    infra::rocksdb::RocksLogConfig config;
    config.path = dir + "/log";
    auto log = infra::rocksdb::open_rocks_event_log(config);
    check(log.status(), "open log");
    for (const auto& t : events::kTopicDefaults)
      check((*log)->ensure_topic({std::string(t.name), events::kDefaultPartitions}), "topic");
    commands::ProcessorOptions options;
    options.clock = wall_clock_ms;
    commands::CommandProcessor processor(
        **log, {&commands::project_kind(), &commands::cluster_kind()}, options);
    check(processor.start(), "processor");
    commands::CommandBus bus(**log, "bench-gateway");
    check(bus.start(), "bus");
    server::SagaProcessorOptions saga_options;
    saga_options.clock = wall_clock_ms;
    const auto fleet = servers(server_count);
    saga_options.servers =
        [&](const std::string&) -> Result<std::pair<std::string, std::vector<sagas::ServerInfo>>> {
      return std::make_pair(std::string("cls-bench"), fleet);
    };
    server::SagaProcessor saga(**log, saga_options);
    check(saga.start(), "saga");
    FastAgents agents(**log);

    std::vector<v1::CommandEnvelope> setup;
    for (int i = 0; i < deployments; ++i) {
      const std::string project = "prj-" + std::to_string(i);
      v1::RegisterProject r;
      r.set_project_id(project);
      r.set_name("p" + std::to_string(i));
      setup.push_back(envelope(project, r, "reg-" + project));
    }
    submit_all(bus, setup);
    setup.clear();
    for (int i = 0; i < deployments; ++i) {
      const std::string project = "prj-" + std::to_string(i);
      v1::PublishGraph p;
      p.set_project_id(project);
      const auto g = graph();
      *p.mutable_services() = g.services();
      *p.mutable_edges() = g.edges();
      setup.push_back(envelope(project, p, "pub-" + project));
    }
    submit_all(bus, setup);
    std::map<events::TopicPartition, std::int64_t> from;
    for (int p = 0; p < events::kDefaultPartitions; ++p) {
      const events::TopicPartition tp{std::string(events::kDeploymentEventsTopic), p};
      auto end = (*log)->end_offset(tp);
      check(end.status(), "end offset");
      from[tp] = *end;
    }
    std::vector<v1::CommandEnvelope> deploys;
    for (int i = 0; i < deployments; ++i) {
      const std::string project = "prj-" + std::to_string(i);
      v1::DeployProject d;
      d.set_project_id(project);
      d.set_environment("production");
      deploys.push_back(envelope(project, d, "dep-" + project));
    }
    const auto started = Clock::now();
    std::thread submitter([&] { submit_all(bus, deploys); });
    logged = watch(**log, from, static_cast<std::size_t>(deployments), started);
    submitter.join();
    std::cout << "saga processor: " << saga.stats().reactions << " reactions, "
              << saga.stats().commands_appended << " commands and " << saga.stats().tasks_appended
              << " tasks appended; agents answered " << agents.answered() << " tasks\n";
    saga.stop();
    bus.stop();
    processor.stop();
  }
  fs::remove_all(dir);
  const Measured memory = in_memory(deployments);

  const auto row = [&](const std::string& name, const Measured& m) {
    std::cout << "| " << name << " | " << deployments << " | " << m.succeeded << " | "
              << m.transitions << " | " << bench::fmt("%.2f", m.seconds) << " | "
              << bench::thousands(m.transitions / m.seconds) << " | "
              << bench::fmt("%.1f", bench::percentile_ms(m.to_terminal_ns, 0.5)) << " | "
              << bench::fmt("%.1f", bench::percentile_ms(m.to_terminal_ns, 0.99)) << " |\n";
  };
  std::cout << "\n| saga | deployments | succeeded | transitions | seconds | transitions/s | "
               "to terminal p50 ms | p99 ms |\n|---|---|---|---|---|---|---|---|\n";
  row("embedded log + processors", logged);
  row("in memory (baseline)", memory);
  std::cout << "\nevents appended by the saga on the log: " << logged.events
            << "; ratio embedded / in memory (transitions/s): "
            << bench::fmt("%.2f", (logged.transitions / logged.seconds) /
                                      (memory.transitions / memory.seconds))
            << "\n";
  return 0;
}
