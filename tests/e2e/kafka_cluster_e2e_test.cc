// Several axion-server processes on the real Kafka broker (KAFKA_BROKERS) split the command
// partitions through one consumer group. While client threads stream RegisterProject and
// PublishGraph commands through the gateways, a second server joins (rebalance under load), one
// is killed with SIGKILL (its partitions move to the survivor, which keeps answering) and is
// restarted with the same instance id (its new transactional producer fences the dead one; the
// group rebalances again). Read back through read_committed readers afterwards: every
// acknowledged command's events exist exactly once and where its answer said, each project's
// sequences are 1..n, every command has exactly one first result (later ones name it in
// first_command_id), retries with the idempotency keys answer the same and append nothing, and
// the commands the kill left unanswered, retried with their keys, are applied exactly once.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <grpcpp/grpcpp.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "axion/v1/envelope.pb.h"
#include "axion/v1/project.grpc.pb.h"
#include "events/envelope.h"
#include "events/partitioner.h"
#include "events/topics.h"
#include "tests/e2e/server_process.h"
#include "tests/integration/log_backends.h"

namespace axion::testing {
namespace {

namespace v1 = axion::v1;
using Clock = std::chrono::steady_clock;
using std::chrono::seconds;

constexpr char kToken[] = "kafka-cluster-e2e-0123456789abcdef";
constexpr int kNodes = 2;
constexpr int kClients = 4;
constexpr int kRetryClients = 16;  // retries of every command: many at once, so they batch
constexpr std::int32_t kPartitions = events::kDefaultPartitions;
constexpr std::size_t kAllPartitions = kPartitions;
constexpr auto kCallTimeout = seconds(30);  // the gateway's longest wait for a result
constexpr auto kPhaseTimeout = seconds(60);

// Polls `done` every 50 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(milliseconds(50));
  }
  return true;
}

std::string tail(const std::string& text, std::size_t n = 6000) {
  return text.size() <= n ? text : "..." + text.substr(text.size() - n);
}

using Position = std::tuple<std::string, std::int32_t, std::int64_t>;

// What a command RPC answered; a retry with the same idempotency key must answer the same.
struct Answer {
  std::string id;  // the project id (RegisterProject) or the graph's content hash (PublishGraph)
  std::uint64_t graph_version = 0;
  std::uint64_t aggregate_version = 0;
  std::vector<Position> positions;
  bool operator==(const Answer&) const = default;
};

void PrintTo(const Answer& a, std::ostream* os) {
  *os << "{" << a.id << " graph v" << a.graph_version << " aggregate v" << a.aggregate_version;
  for (const auto& [topic, partition, offset] : a.positions) {
    *os << " " << topic << "/" << partition << "@" << offset;
  }
  *os << "}";
}

template <typename Response>
void read_positions(const Response& resp, Answer* out) {
  for (const auto& p : resp.positions()) {
    out->positions.emplace_back(p.topic(), p.partition(), p.offset());
  }
}

struct Command {
  int job = 0;
  bool publish = false;  // PublishGraph to `project`; else RegisterProject
  std::string key;       // idempotency key, unique to the run
  std::string name;      // RegisterProject's project name
  std::string project;   // PublishGraph's project
  int node = -1;         // the gateway it was first sent to
  Clock::time_point sent;
  Clock::time_point answered;
  bool acked = false;
  Answer answer;
  std::string error;  // why the first attempt was not acknowledged
};

std::string describe(const Command& c) {
  return std::string(c.publish ? "PublishGraph " : "RegisterProject ") + c.key;
}

grpc::Status call(v1::ProjectService::Stub& stub, const Command& c, Answer* out) {
  grpc::ClientContext ctx;
  ctx.AddMetadata("authorization", std::string("Bearer ") + kToken);
  ctx.AddMetadata("idempotency-key", c.key);
  ctx.set_deadline(std::chrono::system_clock::now() + kCallTimeout);
  *out = Answer{};
  if (!c.publish) {
    v1::RegisterProjectRequest req;
    req.set_name(c.name);
    v1::RegisterProjectResponse resp;
    grpc::Status s = stub.RegisterProject(&ctx, req, &resp);
    out->id = resp.project_id();
    out->aggregate_version = resp.aggregate_version();
    read_positions(resp, out);
    return s;
  }
  v1::PublishGraphRequest req;
  req.set_project_id(c.project);
  auto* service = req.add_services();
  service->set_name("web");
  service->set_image("registry.local/shop/web:" + std::to_string(c.job));
  v1::PublishGraphResponse resp;
  grpc::Status s = stub.PublishGraph(&ctx, req, &resp);
  out->id = resp.content_hash();
  out->graph_version = resp.graph_version();
  out->aggregate_version = resp.aggregate_version();
  read_positions(resp, out);
  return s;
}

// One axion-server instance: fixed ports and instance id, so a restart is the same member.
class Node {
 public:
  Node(std::string brokers, std::string instance)
      : brokers_(std::move(brokers)),
        instance_(std::move(instance)),
        data_(scratch_dir("kafka-cluster-data")),
        grpc_port_(free_port()),
        http_port_(free_port()) {}

  void start() {
    if (process_) previous_.push_back(std::move(process_));
    process_ = std::make_unique<ServerProcess>(std::vector<std::string>{
        "KAFKA_BROKERS=" + brokers_, "AXION_INSTANCE_ID=" + instance_,
        "AXION_GRPC_ADDR=127.0.0.1:" + std::to_string(grpc_port_),
        "AXION_HTTP_ADDR=127.0.0.1:" + std::to_string(http_port_),
        std::string("AXION_API_TOKENS=e2e=") + kToken, "AXION_KAFKA_TIMEOUT_MS=6000",
        // Snapshots (kept across the restart) every few records: the restarted processor
        // loads partitions from its snapshots plus the log the survivor wrote since.
        "AXION_DATA_DIR=" + data_, "AXION_SNAPSHOT_EVERY=50"});
  }
  // Ready within kPhaseTimeout; false at once if the process could not start or exited.
  bool wait_ready() {
    if (process_->pid() <= 0) return false;
    httplib::Client http("127.0.0.1", http_port_);
    bool exited = false;
    const bool done = eventually(
        [&] {
          exited = process_->wait_exit(milliseconds(1)) != -1;
          if (exited) return true;
          auto res = http.Get("/readyz");
          return res && res->status == 200;
        },
        kPhaseTimeout);
    return done && !exited;
  }
  ServerProcess& process() { return *process_; }

  // A fresh channel that reconnects quickly, for gRPC's default back-off (up to 2 minutes)
  // would outlast a restart.
  std::shared_ptr<v1::ProjectService::Stub> stub() const {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
    return v1::ProjectService::NewStub(grpc::CreateCustomChannel(
        "127.0.0.1:" + std::to_string(grpc_port_), grpc::InsecureChannelCredentials(), args));
  }

  // A counter from /metrics; -1 if the server does not answer.
  long long metric(const std::string& name) const {
    httplib::Client http("127.0.0.1", http_port_);
    http.set_connection_timeout(seconds(2));
    http.set_read_timeout(seconds(5));
    auto res = http.Get("/metrics");
    if (!res || res->status != 200) return -1;
    std::istringstream lines(res->body);
    std::string line;
    while (std::getline(lines, line)) {
      if (line.rfind(name + " ", 0) == 0) return std::stoll(line.substr(name.size() + 1));
    }
    return -1;
  }

  // stderr of every process this node ran, for failure messages.
  std::string logs() const {
    std::string out;
    for (const auto& p : previous_) out += "--- " + instance_ + " (earlier process)\n" + tail(p->log());
    if (process_) out += "--- " + instance_ + "\n" + tail(process_->log());
    return out;
  }

 private:
  std::string brokers_;
  std::string instance_;
  std::string data_;
  int grpc_port_;
  int http_port_;
  std::unique_ptr<ServerProcess> process_;
  std::vector<std::unique_ptr<ServerProcess>> previous_;
};

// Client threads: each registers a project through one gateway in the rotation and, once that
// is acknowledged, publishes a graph for it through the next. Every command is recorded with
// its answer or the error of its only attempt; nothing is retried while streaming.
class CommandStream {
 public:
  explicit CommandStream(std::string run) : run_(std::move(run)) {}
  ~CommandStream() { stop(); }

  void route(int node, std::shared_ptr<v1::ProjectService::Stub> stub) {
    std::lock_guard lock(mu_);
    routes_[node] = std::move(stub);
  }
  void unroute(int node) {
    std::lock_guard lock(mu_);
    routes_.erase(node);
  }
  void start() {
    for (int i = 0; i < kClients; ++i) threads_.emplace_back([this] { client(); });
  }
  void stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  int in_flight(int node) const { return in_flight_[node].load(); }
  std::vector<Command> commands() const {
    std::lock_guard lock(mu_);
    return commands_;
  }
  std::size_t acked_since(Clock::time_point since) const {
    std::lock_guard lock(mu_);
    std::size_t n = 0;
    for (const auto& c : commands_) n += c.acked && c.sent >= since;
    return n;
  }
  // Partitions holding the events of a command acknowledged after being sent at or after
  // `since`: decided after that moment by whoever owned the partition.
  std::set<std::int32_t> partitions_acked_since(Clock::time_point since) const {
    std::lock_guard lock(mu_);
    std::set<std::int32_t> out;
    for (const auto& c : commands_) {
      if (!c.acked || c.sent < since) continue;
      for (const auto& pos : c.answer.positions) out.insert(std::get<1>(pos));
    }
    return out;
  }

 private:
  void client() {
    while (!stop_) {
      const int job = next_job_++;
      Command reg;
      reg.job = job;
      reg.key = run_ + "-reg-" + std::to_string(job);
      reg.name = run_ + "-" + std::to_string(job);
      send(reg);
      if (!reg.acked || stop_) continue;
      Command pub;
      pub.job = job;
      pub.publish = true;
      pub.key = run_ + "-pub-" + std::to_string(job);
      pub.project = reg.answer.id;
      send(pub);
    }
  }

  void send(Command& c) {
    std::shared_ptr<v1::ProjectService::Stub> stub;
    {
      std::lock_guard lock(mu_);
      if (routes_.empty()) return;  // never sent: not recorded
      auto it = routes_.begin();
      std::advance(it, next_route_++ % routes_.size());
      c.node = it->first;
      stub = it->second;
    }
    ++in_flight_[c.node];
    c.sent = Clock::now();
    const grpc::Status s = call(*stub, c, &c.answer);
    c.answered = Clock::now();
    --in_flight_[c.node];
    c.acked = s.ok();
    if (!s.ok()) c.error = std::to_string(s.error_code()) + ": " + s.error_message();
    std::lock_guard lock(mu_);
    commands_.push_back(c);
  }

  const std::string run_;
  std::atomic<bool> stop_{false};
  std::atomic<int> next_job_{0};
  std::array<std::atomic<int>, kNodes> in_flight_{};
  std::vector<std::thread> threads_;
  mutable std::mutex mu_;
  std::map<int, std::shared_ptr<v1::ProjectService::Stub>> routes_;
  std::size_t next_route_ = 0;
  std::vector<Command> commands_;
};

struct StoredEvent {
  v1::EventEnvelope envelope;
  Position position;
};

// What the log holds for this run, read back through read_committed readers.
struct LogView {
  std::map<std::string, std::vector<StoredEvent>> events;       // by project id
  std::map<Position, StoredEvent> by_position;                   // the same events
  std::map<std::string, std::vector<v1::CommandResult>> results;  // by idempotency key
};

Result<LogView> read_log(events::EventLog& log, const std::set<std::string>& projects,
                         const std::string& run) {
  LogView view;
  auto events = read_all(log, std::string(events::kDeploymentEventsTopic));
  if (!events.ok()) return events.status();
  for (const auto& r : *events) {
    auto e = events::parse_envelope(r);
    if (!e.ok() || !projects.contains(e->aggregate_id())) continue;
    StoredEvent stored{*e, {r.tp.topic, r.tp.partition, r.offset}};
    view.by_position[stored.position] = stored;
    view.events[e->aggregate_id()].push_back(std::move(stored));
  }
  auto results = read_all(log, std::string(events::kResultsTopic));
  if (!results.ok()) return results.status();
  for (const auto& r : *results) {
    v1::CommandResult result;
    if (!result.ParseFromString(r.value) || result.idempotency_key().rfind(run + "-", 0) != 0) {
      continue;
    }
    view.results[result.idempotency_key()].push_back(std::move(result));
  }
  return view;
}

// Retries `commands` with their idempotency keys from kRetryClients threads, each through the
// gateway `pick` names for it, until acknowledged (a bounded number of attempts for transient
// errors). Returns one line per command that never was.
std::vector<std::string> retry_all(std::vector<Command*> commands,
                                   const std::function<std::shared_ptr<v1::ProjectService::Stub>(
                                       const Command&)>& pick,
                                   std::vector<Answer>* answers) {
  answers->assign(commands.size(), Answer{});
  std::mutex mu;
  std::vector<std::string> failures;
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kRetryClients; ++t) {
    threads.emplace_back([&] {
      for (std::size_t i = next++; i < commands.size(); i = next++) {
        grpc::Status s;
        for (int attempt = 0; attempt < 5; ++attempt) {
          s = call(*pick(*commands[i]), *commands[i], &(*answers)[i]);
          const bool transient = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                                 s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
          if (s.ok() || !transient) break;
          std::this_thread::sleep_for(milliseconds(200));
        }
        if (!s.ok()) {
          std::lock_guard lock(mu);
          failures.push_back(describe(*commands[i]) + " -> " + std::to_string(s.error_code()) +
                             ": " + s.error_message());
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  return failures;
}

TEST(AxionServerOnKafka, ServersSplitPartitionsAndAKill9LosesOrRepeatsNoCommand) {
  const char* brokers = std::getenv("KAFKA_BROKERS");
  ASSERT_TRUE(brokers && *brokers)
      << "KAFKA_BROKERS is not set: this test needs the real broker; run scripts/test, which "
         "starts one (or scripts/kafka-broker start and export what it prints)";
  const auto started = Clock::now();
  const std::string run = unique_name("kc");
  std::vector<std::unique_ptr<Node>> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.push_back(std::make_unique<Node>(brokers, run + "-" + std::to_string(i)));
  }
  Node& victim = *nodes[0];
  Node& survivor = *nodes[1];
  const auto all_logs = [&] {
    std::string out;
    for (const auto& n : nodes) out += n->logs();
    return out;
  };
  const auto partitions_text = [](const std::set<std::int32_t>& ps) {
    std::string out;
    for (auto p : ps) out += " " + std::to_string(p);
    return "partitions with acknowledged commands:" + out;
  };
  CommandStream stream(run);

  // 1. One server, then a second joins while commands stream: the group rebalances under load
  // and both processors decide commands.
  victim.start();
  ASSERT_TRUE(victim.wait_ready()) << all_logs();
  stream.route(0, victim.stub());
  stream.start();
  ASSERT_TRUE(eventually([&] { return stream.acked_since(started) >= 30; }, kPhaseTimeout))
      << all_logs();
  survivor.start();
  ASSERT_TRUE(survivor.wait_ready()) << all_logs();
  stream.route(1, survivor.stub());
  ASSERT_TRUE(eventually(
      [&] {
        return victim.metric("axion_commands_total") > 0 &&
               survivor.metric("axion_commands_total") > 0;
      },
      kPhaseTimeout))
      << "both processors should decide commands of their share of the partitions\n"
      << all_logs();
  const auto both = Clock::now();
  ASSERT_TRUE(eventually(
      [&] {
        return stream.acked_since(both) >= 100 &&
               stream.partitions_acked_since(both).size() == kAllPartitions;
      },
      kPhaseTimeout))
      << partitions_text(stream.partitions_acked_since(both)) << "\n" << all_logs();

  // 2. kill -9 mid-stream, while the victim's gateway has calls in flight. The survivor takes
  // over the victim's partitions once its session expires and keeps answering on all of them.
  ASSERT_TRUE(eventually([&] { return stream.in_flight(0) >= 2; }, kPhaseTimeout));
  stream.unroute(0);  // no new calls; those in flight stay so
  victim.process().signal(SIGKILL);
  const auto killed = Clock::now();
  ASSERT_EQ(victim.process().wait_exit(milliseconds(10000)), 128 + SIGKILL);
  ASSERT_TRUE(eventually(
      [&] { return stream.partitions_acked_since(killed).size() == kAllPartitions; },
      kPhaseTimeout))
      << "the survivor should take over every partition\n"
      << partitions_text(stream.partitions_acked_since(killed)) << "\n" << all_logs();
  const auto took_over = Clock::now();

  // 3. Restart with the same instance id: its producer fences the dead one's, the group
  // rebalances again and the restarted processor, having loaded its share from its snapshots
  // and the log after them, decides commands of that share.
  victim.start();
  ASSERT_TRUE(victim.wait_ready()) << all_logs();
  const auto restarted = Clock::now();
  stream.route(0, victim.stub());
  ASSERT_TRUE(eventually(
      [&] {
        return victim.metric("axion_commands_total") > 0 &&
               stream.partitions_acked_since(restarted).size() == kAllPartitions &&
               stream.acked_since(restarted) >= 100;
      },
      kPhaseTimeout))
      << "the restarted server should decide commands again, and every partition answer\n"
      << partitions_text(stream.partitions_acked_since(restarted)) << "\n" << all_logs();
  EXPECT_GT(victim.metric("axion_processor_aggregates_restored_total"), 0)
      << "the restarted server should load its partitions from its snapshots";
  stream.stop();
  const auto streamed = Clock::now();

  std::vector<Command> commands = stream.commands();
  std::vector<Command*> unacked;
  for (auto& c : commands) {
    if (!c.acked) unacked.push_back(&c);
  }
  // The calls in flight on the killed gateway were never answered.
  ASSERT_GE(unacked.size(), 1u);
  for (const Command* c : unacked) {
    // Only the kill may leave a command unanswered.
    EXPECT_EQ(c->node, 0) << describe(*c) << ": " << c->error;
    EXPECT_TRUE(c->sent < killed) << describe(*c) << ": " << c->error;
  }

  // 4. Retry the unanswered commands with their keys: each ends up acknowledged.
  std::vector<std::shared_ptr<v1::ProjectService::Stub>> stubs = {victim.stub(), survivor.stub()};
  const auto by_job = [&](const Command& c) { return stubs[c.job % kNodes]; };
  const auto other = [&](const Command& c) { return stubs[(c.job + 1) % kNodes]; };
  {
    std::vector<Answer> answers;
    const auto failures = retry_all(unacked, by_job, &answers);
    ASSERT_TRUE(failures.empty()) << "retried with their keys, unanswered commands must apply:\n"
                                  << ::testing::PrintToString(failures) << "\n" << all_logs();
    for (std::size_t i = 0; i < unacked.size(); ++i) {
      unacked[i]->acked = true;
      unacked[i]->answer = answers[i];
    }
  }
  std::set<std::string> projects;
  std::map<int, std::string> project_of;  // job -> project
  std::map<std::string, int> job_of;      // project -> job
  std::set<int> published;                // jobs with a PublishGraph
  for (const auto& c : commands) {
    if (c.publish) {
      published.insert(c.job);
    } else {
      projects.insert(c.answer.id);
      project_of[c.job] = c.answer.id;
      job_of[c.answer.id] = c.job;
    }
  }
  for (const auto& c : commands) {
    if (c.publish) {
      EXPECT_EQ(c.project, project_of[c.job]) << describe(c);
    }
  }

  // 5. Read the log back (read_committed): once every answer's events are visible, check them.
  auto log = log_backend("kafka").open("");
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  LogView view;
  const auto visible = [&] {
    auto read = read_log(**log, projects, run);
    if (!read.ok()) {
      ADD_FAILURE() << read.status().to_string();
      return true;
    }
    view = std::move(read).value();
    for (const auto& c : commands) {
      for (const auto& pos : c.answer.positions) {
        if (!view.by_position.contains(pos)) return false;
      }
      if (!view.results.contains(c.key)) return false;
    }
    return true;
  };
  ASSERT_TRUE(eventually(visible, kPhaseTimeout)) << "acknowledged events are not all visible";

  std::set<std::string> event_ids;
  std::map<std::string, std::string> first_command;  // idempotency key -> deciding command id
  for (const auto& [key, results] : view.results) {
    int firsts = 0;
    for (const auto& r : results) {
      EXPECT_EQ(r.status_code(), 0) << key << ": " << r.message();
      if (r.first_command_id().empty()) {
        ++firsts;
        first_command[key] = r.command_id();
      }
    }
    EXPECT_EQ(firsts, 1) << key << ": one command decided, the others answered from memory";
  }
  for (const auto& project : projects) {
    const auto& events = view.events[project];
    const int job = job_of[project];
    const std::size_t expected = published.contains(job) ? 2 : 1;
    ASSERT_EQ(events.size(), expected) << "project " << project << " (job " << job << ")";
    for (std::size_t i = 0; i < events.size(); ++i) {
      const auto& e = events[i].envelope;
      EXPECT_TRUE(event_ids.insert(e.event_id()).second) << "event " << e.event_id() << " twice";
      EXPECT_EQ(e.sequence(), i + 1) << project;  // read in offset order: 1..n, no gaps
      EXPECT_EQ(std::get<1>(events[i].position), events::partition_for_key(project, kPartitions))
          << project;
      const std::string key = run + (i == 0 ? "-reg-" : "-pub-") + std::to_string(job);
      EXPECT_EQ(e.type(), i == 0 ? "axion.v1.ProjectRegistered" : "axion.v1.GraphPublished");
      EXPECT_EQ(e.causation_id(), first_command[key]) << key;
    }
  }
  for (const auto& c : commands) {
    ASSERT_EQ(c.answer.positions.size(), 1u) << describe(c);
    const StoredEvent& e = view.by_position[c.answer.positions[0]];
    EXPECT_EQ(e.envelope.aggregate_id(), c.publish ? c.project : c.answer.id) << describe(c);
    EXPECT_EQ(e.envelope.sequence(), c.answer.aggregate_version) << describe(c);
    EXPECT_EQ(e.envelope.causation_id(), first_command[c.key]) << describe(c);
  }

  // 6. Retry every command with its key (through the other gateway than step 4 picks): the
  // same answer, and nothing new in the log.
  {
    std::vector<Command*> all;
    for (auto& c : commands) all.push_back(&c);
    std::vector<Answer> answers;
    const auto failures = retry_all(all, other, &answers);
    ASSERT_TRUE(failures.empty()) << ::testing::PrintToString(failures) << "\n" << all_logs();
    for (std::size_t i = 0; i < all.size(); ++i) {
      EXPECT_EQ(answers[i], all[i]->answer) << describe(*all[i]);
    }
  }
  const auto before = view;
  ASSERT_TRUE(eventually(
      [&] {
        auto read = read_log(**log, projects, run);
        if (!read.ok()) return false;
        view = std::move(read).value();
        std::size_t answered = 0;  // every key has its retry's result
        for (const auto& [key, results] : view.results) {
          const auto earlier = before.results.find(key);
          answered += earlier != before.results.end() && results.size() > earlier->second.size();
        }
        return answered == view.results.size();
      },
      kPhaseTimeout))
      << "the retries' results are not all visible";
  EXPECT_EQ(view.by_position.size(), before.by_position.size()) << "retries appended events";
  for (const auto& [key, results] : view.results) {
    for (const auto& r : results) {
      if (r.first_command_id().empty()) continue;
      EXPECT_EQ(r.first_command_id(), first_command[key]) << key;
      EXPECT_EQ(r.status_code(), 0) << key;
    }
  }

  for (auto& n : nodes) n->process().signal(SIGTERM);
  for (auto& n : nodes) EXPECT_EQ(n->process().wait_exit(milliseconds(30000)), 0) << n->logs();

  const auto secs = [](Clock::duration d) {
    return std::chrono::duration_cast<milliseconds>(d).count() / 1000.0;
  };
  // When each partition first answered a command sent after the kill: the survivor's own at
  // once, the victim's once the survivor took them over.
  std::map<std::int32_t, Clock::time_point> resumed;
  for (const auto& c : stream.commands()) {
    if (!c.acked || c.sent < killed || c.answer.positions.empty()) continue;
    auto [it, fresh] = resumed.try_emplace(std::get<1>(c.answer.positions[0]), c.answered);
    if (!fresh && c.answered < it->second) it->second = c.answered;
  }
  std::cout << "first answer after the kill, by partition:";
  for (const auto& [p, at] : resumed) std::cout << " " << p << ":+" << secs(at - killed) << "s";
  std::cout << "\n";
  std::cout << commands.size() << " commands, " << unacked.size()
            << " unanswered by the kill and applied on retry; both processors deciding after "
            << secs(both - started) << " s; survivor answered on every partition "
            << secs(took_over - killed) << " s after the kill; restarted server deciding "
            << secs(streamed - restarted) << " s after it was ready; streamed "
            << secs(streamed - started) << " s, checked in " << secs(Clock::now() - streamed)
            << " s\n";
}

}  // namespace
}  // namespace axion::testing
