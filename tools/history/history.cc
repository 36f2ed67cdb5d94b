// The history generator (tools/history/history.h).
#include "tools/history/history.h"

#include <google/protobuf/util/time_util.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "axion/v1/project.pb.h"
#include "commands/cluster_aggregate.h"
#include "commands/project_aggregate.h"
#include "events/envelope.h"
#include "events/partitioner.h"
#include "events/topics.h"

namespace axion::tools {

namespace {

namespace v1 = axion::v1;
using google::protobuf::Any;
using google::protobuf::util::TimeUtil;

Any pack(const google::protobuf::Message& m) {
  Any any;
  any.PackFrom(m);
  return any;
}

std::string numbered(const std::string& prefix, std::uint64_t n, int width = 4) {
  char digits[32];
  std::snprintf(digits, sizeof digits, "%0*llu", width, static_cast<unsigned long long>(n));
  return prefix + digits;
}

// 20 lowercase hex digits, a stable function of `seed` (commit hashes, digests, fingerprints).
std::string hex_of(const std::string& seed) { return commands::derive_id("x", seed).substr(2); }

std::string server_id_of(const std::string& cluster, std::size_t n) {
  return numbered(cluster + "-s", n, 2);
}

google::protobuf::Duration seconds(std::int64_t s) {
  google::protobuf::Duration d;
  d.set_seconds(s);
  return d;
}

// One aggregate's envelope stream.
struct Stream {
  std::string topic;
  std::string aggregate_type;
  std::string id;
  std::uint64_t sequence = 0;  // of the last event written
};

// Buffers envelopes, stamps them, appends them `batch_records` at a time and keeps the summary.
class Writer {
 public:
  Writer(const HistoryOptions& options, events::Producer& producer,
         std::map<std::string, std::int32_t> partitions, HistorySummary& summary)
      : options_(options), producer_(producer), partitions_(std::move(partitions)),
        summary_(summary) {}

  bool done() const { return summary_.events >= options_.events; }

  // The occurred_at of the next event (in live mode: now; the append stamps it again).
  std::int64_t now() const {
    if (options_.clock) return options_.clock();
    return options_.start_ms + static_cast<std::int64_t>(summary_.events) * options_.step_ms;
  }

  // Buffers the next event of `stream`. REQUIRES: !done().
  Status add(Stream& stream, const Any& payload, const std::string& actor,
             const std::string& correlation, const std::string& event_id) {
    const events::EnvelopeMeta meta{event_id,     stream.aggregate_type, stream.id, stream.id,
                                    ++stream.sequence, now(),            actor,     correlation,
                                    correlation,  1};
    pending_.push_back({stream.topic, events::make_envelope(payload, meta)});
    const v1::EventEnvelope& e = pending_.back().envelope;
    ++summary_.events;
    ++(stream.topic == events::kDeploymentEventsTopic ? summary_.project_events
                                                      : summary_.infrastructure_events);
    summary_.types.insert(e.type());
    ++summary_.type_counts[e.type()];
    AggregateCounts& counts = summary_.aggregates[stream.id];
    counts.events = stream.sequence;
    if (payload.Is<v1::DeploymentRequested>()) ++counts.deployments;
    if (payload.Is<v1::GraphPublished>()) ++counts.graph_versions;
    if (payload.Is<v1::ServerCreated>()) ++counts.servers;
    if (payload.Is<v1::ProjectRegistered>()) summary_.project_ids.push_back(stream.id);
    if (payload.Is<v1::ClusterCreated>()) summary_.cluster_ids.push_back(stream.id);
    if (payload.Is<v1::ClusterDeleted>()) summary_.deleted_cluster_ids.push_back(stream.id);
    if (pending_.size() >= options_.batch_records) return flush();
    return ok_status();
  }

  Status flush() {
    if (pending_.empty()) return ok_status();
    if (options_.before_append) options_.before_append(appended_);
    const std::int64_t stamp = options_.clock ? options_.clock() : 0;
    std::vector<events::Record> records;
    records.reserve(pending_.size());
    for (Pending& p : pending_) {
      if (options_.clock) *p.envelope.mutable_occurred_at() = TimeUtil::MillisecondsToTimestamp(stamp);
      const std::int64_t at = TimeUtil::TimestampToMilliseconds(p.envelope.occurred_at());
      if (summary_.first_ms == 0) summary_.first_ms = at;
      summary_.last_ms = at;
      AggregateCounts& counts = summary_.aggregates[p.envelope.aggregate_id()];
      if (counts.first_ms == 0) counts.first_ms = at;
      counts.last_ms = at;
      events::Record record = events::to_record(p.topic, p.envelope);
      record.partition = events::partition_for_key(record.key, partitions_.at(p.topic));
      records.push_back(std::move(record));
    }
    auto positions = producer_.append(std::move(records));
    if (!positions.ok()) return positions.status();
    for (const auto& position : *positions) {
      auto& last = summary_.last_offsets[position.tp];
      last = std::max(last, position.offset);
    }
    ++summary_.appends;
    appended_ += pending_.size();
    pending_.clear();
    return ok_status();
  }

 private:
  struct Pending {
    std::string topic;
    v1::EventEnvelope envelope;
  };
  const HistoryOptions& options_;
  events::Producer& producer_;
  std::map<std::string, std::int32_t> partitions_;
  HistorySummary& summary_;
  std::vector<Pending> pending_;
  std::uint64_t appended_ = 0;
};

// A script of one aggregate: a queue of steps, refilled with the next scenario when empty. A
// step is one decision (any number of events, none included) or one saga event.
class Script {
 public:
  virtual ~Script() = default;
  Status step(Writer& w) {
    if (todo_.empty()) plan();
    auto action = std::move(todo_.front());
    todo_.pop_front();
    return action(w);
  }

 protected:
  using Action = std::function<Status(Writer&)>;
  virtual void plan() = 0;
  void then(Action action) { todo_.push_back(std::move(action)); }

 private:
  std::deque<Action> todo_;
};

template <typename Command>
Status refused(const Command&, const std::string& aggregate, const Status& why) {
  return internal_error("the generated " + Command::descriptor()->full_name() + " for " +
                        aggregate + " was refused: " + why.to_string());
}

// --- projects

struct Deployment {
  std::string id;
  std::string command_id;  // of the command that requested it: its saga's correlation id
  std::string environment;
  std::uint64_t graph_version = 0;
  v1::Strategy strategy;
  v1::DeployOptions options;
  std::string cluster_id;
  std::map<std::string, v1::ServicePlacement> placement;
  v1::GeneratedConfig config;
};
using DeploymentRef = std::shared_ptr<Deployment>;

class ProjectScript final : public Script {
 public:
  ProjectScript(std::string id, std::size_t index, std::vector<std::string> clusters)
      : index_(index), clusters_(std::move(clusters)) {
    stream_ = {std::string(events::kDeploymentEventsTopic), "project", std::move(id), 0};
  }

 private:
  const std::string& id() const { return stream_.id; }
  std::string actor() const { return cycle_ % 2 ? "bob" : "alice"; }

  void plan() override {
    if (!registered_) {
      registered_ = true;
      then([this](Writer& w) { return register_project(w); });
      then([this](Writer& w) { return publish(w); });
      return;
    }
    const std::uint64_t n = cycle_++;
    if (n % 5 == 4) then([this](Writer& w) { return publish(w); });
    switch (n % 6) {
      case 0: {  // a rolling deployment that succeeds
        auto d = deploy("production", rolling(), false);
        run(d, 2, v1::STEP_KIND_ROLLING_BATCH);
        succeed(d, false);
        break;
      }
      case 1: {  // a canary paused after its first weight, promoted, then successful
        auto d = deploy("staging", canary(), false);
        progress(d);
        steps(d, 0, 1, v1::STEP_KIND_CANARY_WEIGHT);
        steer(d);
        steps(d, 1, 3, v1::STEP_KIND_CANARY_WEIGHT);
        succeed(d, true);
        break;
      }
      case 2: {  // a rolling deployment whose second batch fails its health checks
        auto d = deploy("production", rolling(), false);
        progress(d);
        steps(d, 0, 1, v1::STEP_KIND_ROLLING_BATCH);
        fail(d, 1);
        break;
      }
      case 3: {  // cancelled by a user while deploying
        auto d = deploy("staging", rolling(), false);
        progress(d);
        steps(d, 0, 1, v1::STEP_KIND_ROLLING_BATCH);
        cancel(d);
        break;
      }
      case 4: {  // superseded by a blue-green deployment, which succeeds
        auto old = deploy("production", rolling(), false);
        progress(old);
        auto next = deploy("production", blue_green(), true);
        cancelled(old, v1::STATUS_CHANGE_CAUSE_SUPERSEDED, "superseded");
        run(next, 2, v1::STEP_KIND_BLUE_GREEN_STAGE);
        succeed(next, true);
        break;
      }
      case 5: {  // a success rolled back to the success before it; the rollback succeeds
        auto d = deploy("production", rolling(), false);
        run(d, 2, v1::STEP_KIND_ROLLING_BATCH);
        succeed(d, false);
        auto back = rollback(d);
        run(back, 2, v1::STEP_KIND_BLUE_GREEN_STAGE);
        succeed(back, true);
        break;
      }
    }
  }

  // Decides `command` on the folded state and writes (and folds) its events.
  template <typename Command>
  Result<commands::Decision> decide(Writer& w, const Command& command, const std::string& actor) {
    const std::string command_id = numbered(id() + "-cmd-", ++commands_, 6);
    const commands::CommandContext ctx{command_id, actor, w.now(), {}};
    auto decision = commands::decide(state_, command, ctx);
    if (!decision.ok()) return refused(command, "project " + id(), decision.status());
    for (std::size_t i = 0; i < decision->events.size() && !w.done(); ++i) {
      commands::apply_event(state_, decision->events[i], w.now());
      AXION_RETURN_IF_ERROR(w.add(stream_, decision->events[i], actor, command_id,
                                  commands::derive_id("evt", command_id, std::to_string(i))));
    }
    last_command_ = command_id;
    return decision;
  }

  // A saga event about `d`.
  Status saga(Writer& w, const google::protobuf::Message& event, const Deployment& d) {
    if (w.done()) return ok_status();
    const Any any = pack(event);
    commands::apply_event(state_, any, w.now());
    const std::string key = "saga:" + id() + ":" + std::to_string(stream_.sequence + 1);
    return w.add(stream_, any, "system", d.command_id, commands::derive_id("evt", key));
  }

  Status register_project(Writer& w) {
    v1::RegisterProject c;
    c.set_project_id(id());
    c.set_name(numbered("app-", index_ + 1));
    c.set_owner(index_ % 2 ? "team-b" : "team-a");
    c.set_description("Generated project " + std::to_string(index_ + 1));
    c.set_repository_url("https://git.example.com/acme/" + id() + ".git");
    (*c.mutable_labels())["tier"] = index_ % 3 ? "silver" : "gold";
    return decide(w, c, "alice").status();
  }

  Status publish(Writer& w) {
    const std::uint64_t version = ++published_;
    v1::PublishGraph c;
    c.set_project_id(id());
    for (const char* name : {"web", "api", "worker"}) {
      auto* s = c.add_services();
      s->set_name(name);
      s->set_image("registry.example.com/" + id() + "/" + name + ":" + std::to_string(version));
      s->set_replicas(name == std::string("worker") ? 1 : 2);
      (*s->mutable_env())["LOG_LEVEL"] = version % 2 ? "info" : "debug";
    }
    for (const char* from : {"web", "worker"}) {
      auto* e = c.add_edges();
      e->set_from_service(from);
      e->set_to_service("api");
      e->set_kind(v1::EDGE_KIND_START_ORDER);
    }
    c.set_commit_hash(hex_of(id() + "/commit/" + std::to_string(version)));
    auto decision = decide(w, c, actor());
    if (!decision.ok()) return decision.status();
    for (const Any& e : decision->events) {
      v1::GraphPublished published;
      if (e.UnpackTo(&published)) graphs_[published.graph().version()] = published.graph();
    }
    return ok_status();
  }

  static v1::Strategy rolling() {
    v1::Strategy s;
    s.mutable_rolling()->set_batch_size(1);
    s.mutable_rolling()->set_max_unavailable(1);
    *s.mutable_rolling()->mutable_pause() = seconds(5);
    return s;
  }
  static v1::Strategy canary() {
    v1::Strategy s;
    for (std::uint32_t w : {10u, 50u, 100u}) s.mutable_canary()->add_weights(w);
    *s.mutable_canary()->mutable_bake_time() = seconds(60);
    s.mutable_canary()->set_max_error_rate(0.05);
    s.mutable_canary()->set_manual_promotion(true);
    return s;
  }
  static v1::Strategy blue_green() {
    v1::Strategy s;
    *s.mutable_blue_green()->mutable_bake_time() = seconds(30);
    *s.mutable_blue_green()->mutable_scale_down_delay() = seconds(60);
    s.mutable_blue_green()->set_max_error_rate(0.02);
    return s;
  }

  // Fills `d` from a decision that requested it.
  void requested(const DeploymentRef& d, const commands::Decision& decision) {
    for (const Any& e : decision.events) {
      v1::DeploymentRequested r;
      if (!e.UnpackTo(&r)) continue;
      d->id = r.deployment_id();
      d->command_id = last_command_;
      d->environment = r.environment();
      d->graph_version = r.graph_version();
      d->strategy = r.strategy();
      d->options = r.options();
    }
  }

  DeploymentRef deploy(const std::string& environment, const v1::Strategy& strategy,
                       bool supersede) {
    auto d = std::make_shared<Deployment>();
    then([this, d, environment, strategy, supersede](Writer& w) -> Status {
      v1::DeployProject c;
      c.set_project_id(id());
      c.set_environment(environment);
      *c.mutable_strategy() = strategy;
      c.mutable_options()->set_supersede(supersede);
      c.mutable_options()->set_auto_rollback(environment == "production");
      if (!clusters_.empty()) c.mutable_options()->set_cluster_id(clusters_[cycle_ % clusters_.size()]);
      auto decision = decide(w, c, actor());
      if (!decision.ok()) return decision.status();
      requested(d, *decision);
      return ok_status();
    });
    return d;
  }

  DeploymentRef rollback(const DeploymentRef& from) {
    auto d = std::make_shared<Deployment>();
    then([this, d, from](Writer& w) -> Status {
      v1::RollbackDeployment c;
      c.set_deployment_id(from->id);
      c.set_reason("error rate up after " + from->id);
      auto decision = decide(w, c, actor());
      if (!decision.ok()) return decision.status();
      requested(d, *decision);
      return ok_status();
    });
    return d;
  }

  void status(const DeploymentRef& d, v1::DeploymentStatus from, v1::DeploymentStatus to,
              v1::StatusChangeCause cause, std::string detail = "") {
    then([this, d, from, to, cause, detail](Writer& w) {
      v1::DeploymentStatusChanged e;
      e.set_deployment_id(d->id);
      e.set_project_id(id());
      e.set_from_status(from);
      e.set_to_status(to);
      e.set_cause(cause);
      e.set_detail(detail);
      return saga(w, e, *d);
    });
  }

  std::vector<std::string> services(const Deployment& d) const {
    std::vector<std::string> out;
    if (auto g = graphs_.find(d.graph_version); g != graphs_.end()) {
      for (const auto& s : g->second.services()) out.push_back(s.name());
    }
    return out;
  }

  // PENDING -> BUILDING, config generated, PROVISIONING, servers assigned, DEPLOYING.
  void progress(const DeploymentRef& d) {
    status(d, v1::DEPLOYMENT_STATUS_PENDING, v1::DEPLOYMENT_STATUS_BUILDING,
           v1::STATUS_CHANGE_CAUSE_PROGRESS);
    then([this, d](Writer& w) {
      v1::DeploymentConfigGenerated e;
      e.set_deployment_id(d->id);
      e.set_project_id(id());
      auto* config = e.mutable_config();
      config->set_compose_hash(hex_of(d->id + "/compose"));
      for (const auto& s : services(*d)) {
        (*config->mutable_dockerfile_hashes())[s] = hex_of(d->id + "/dockerfile/" + s);
      }
      config->set_generator_version("1.4.0");
      d->config = *config;
      return saga(w, e, *d);
    });
    status(d, v1::DEPLOYMENT_STATUS_BUILDING, v1::DEPLOYMENT_STATUS_PROVISIONING,
           v1::STATUS_CHANGE_CAUSE_PROGRESS);
    then([this, d](Writer& w) {
      v1::DeploymentServersAssigned e;
      e.set_deployment_id(d->id);
      e.set_project_id(id());
      d->cluster_id = d->options.cluster_id();
      e.set_cluster_id(d->cluster_id);
      std::size_t n = 0;
      for (const auto& s : services(*d)) {
        v1::ServicePlacement placement;
        if (!d->cluster_id.empty()) {
          placement.add_server_ids(server_id_of(d->cluster_id, n % 3 + 1));
          if (s != "worker") placement.add_server_ids(server_id_of(d->cluster_id, (n + 1) % 3 + 1));
        }
        d->placement[s] = placement;
        (*e.mutable_placement())[s] = placement;
        ++n;
      }
      return saga(w, e, *d);
    });
    status(d, v1::DEPLOYMENT_STATUS_PROVISIONING, v1::DEPLOYMENT_STATUS_DEPLOYING,
           v1::STATUS_CHANGE_CAUSE_PROGRESS);
  }

  std::uint32_t weight_of(const Deployment& d, std::uint32_t step, std::uint32_t total) const {
    if (d.strategy.has_canary() && step < static_cast<std::uint32_t>(d.strategy.canary().weights_size())) {
      return d.strategy.canary().weights(static_cast<int>(step));
    }
    return (step + 1) * 100 / total;
  }

  // Steps [from, to) of `total` = to's strategy: started, each service healthy, completed.
  void steps(const DeploymentRef& d, std::uint32_t from, std::uint32_t to, v1::StepKind kind,
             std::uint32_t total = 0) {
    for (std::uint32_t i = from; i < to; ++i) {
      then([this, d, i, kind, total](Writer& w) {
        const std::uint32_t all = total ? total : planned(*d);
        v1::DeploymentStepStarted e;
        e.set_deployment_id(d->id);
        e.set_project_id(id());
        e.set_step_index(i);
        e.set_kind(kind);
        e.set_weight(weight_of(*d, i, all));
        e.set_total_steps(all);
        for (const auto& s : services(*d)) e.add_services(s);
        return saga(w, e, *d);
      });
      then([this, d, i](Writer& w) -> Status {
        for (const auto& s : services(*d)) {
          v1::ServiceStatusChanged e;
          e.set_deployment_id(d->id);
          e.set_project_id(id());
          e.set_service(s);
          const auto& servers = d->placement[s].server_ids();
          if (!servers.empty()) e.set_server_id(servers[static_cast<int>(i % static_cast<std::uint32_t>(servers.size()))]);
          e.set_from_status(v1::SERVICE_STATUS_STARTING);
          e.set_to_status(v1::SERVICE_STATUS_HEALTHY);
          e.set_detail("3/3 health checks passed");
          e.set_task_id(hex_of(d->id + "/task/" + s + "/" + std::to_string(i)));
          AXION_RETURN_IF_ERROR(saga(w, e, *d));
        }
        return ok_status();
      });
      then([this, d, i, kind, total](Writer& w) {
        v1::DeploymentStepCompleted e;
        e.set_deployment_id(d->id);
        e.set_project_id(id());
        e.set_step_index(i);
        e.set_kind(kind);
        e.set_weight(weight_of(*d, i, total ? total : planned(*d)));
        e.set_outcome(v1::STEP_OUTCOME_SUCCEEDED);
        return saga(w, e, *d);
      });
    }
  }

  static std::uint32_t planned(const Deployment& d) {
    if (d.strategy.has_canary()) return static_cast<std::uint32_t>(d.strategy.canary().weights_size());
    return 2;
  }

  void run(const DeploymentRef& d, std::uint32_t total, v1::StepKind kind) {
    progress(d);
    steps(d, 0, total, kind, total);
  }

  // A canary paused by its owner after the first weight, then promoted.
  void steer(const DeploymentRef& d) {
    then([this, d](Writer& w) {
      v1::PauseDeployment c;
      c.set_deployment_id(d->id);
      c.set_reason("checking the dashboards");
      return decide(w, c, actor()).status();
    });
    then([this, d](Writer& w) {
      v1::PromoteDeployment c;
      c.set_deployment_id(d->id);
      return decide(w, c, actor()).status();
    });
  }

  void succeed(const DeploymentRef& d, bool with_status_change) {
    if (with_status_change) {
      status(d, v1::DEPLOYMENT_STATUS_DEPLOYING, v1::DEPLOYMENT_STATUS_SUCCESS,
             v1::STATUS_CHANGE_CAUSE_PROGRESS);
    }
    then([this, d](Writer& w) {
      v1::DeploymentSucceeded e;
      e.set_deployment_id(d->id);
      e.set_project_id(id());
      e.set_graph_version(d->graph_version);
      return saga(w, e, *d);
    });
    then([this, d](Writer& w) {
      v1::DeploymentSnapshotted e;
      auto* s = e.mutable_snapshot();
      s->set_deployment_id(d->id);
      s->set_project_id(id());
      s->set_environment(d->environment);
      if (auto g = graphs_.find(d->graph_version); g != graphs_.end()) {
        *s->mutable_graph() = g->second;
        for (const auto& service : g->second.services()) {
          (*s->mutable_images())[service.name()] =
              service.image() + "@sha256:" + hex_of(service.image()) + hex_of(service.image() + "/2");
        }
      }
      *s->mutable_config() = d->config;
      for (const auto& [name, placement] : d->placement) (*s->mutable_placement())[name] = placement;
      (*s->mutable_env())["ENVIRONMENT"] = d->environment;
      *s->mutable_strategy() = d->strategy;
      *s->mutable_options() = d->options;
      return saga(w, e, *d);
    });
  }

  void fail(const DeploymentRef& d, std::uint32_t step) {
    then([this, d, step](Writer& w) {
      v1::DeploymentStepStarted e;
      e.set_deployment_id(d->id);
      e.set_project_id(id());
      e.set_step_index(step);
      e.set_kind(v1::STEP_KIND_ROLLING_BATCH);
      e.set_total_steps(2);
      e.add_services("api");
      return saga(w, e, *d);
    });
    then([this, d](Writer& w) {
      v1::ServiceStatusChanged e;
      e.set_deployment_id(d->id);
      e.set_project_id(id());
      e.set_service("api");
      const auto& servers = d->placement["api"].server_ids();
      if (!servers.empty()) e.set_server_id(servers[0]);
      e.set_from_status(v1::SERVICE_STATUS_STARTING);
      e.set_to_status(v1::SERVICE_STATUS_UNHEALTHY);
      e.set_detail("health check GET /healthz: 503 three times");
      return saga(w, e, *d);
    });
    then([this, d, step](Writer& w) {
      v1::DeploymentStepCompleted e;
      e.set_deployment_id(d->id);
      e.set_project_id(id());
      e.set_step_index(step);
      e.set_kind(v1::STEP_KIND_ROLLING_BATCH);
      e.set_outcome(v1::STEP_OUTCOME_FAILED);
      e.set_detail("api unhealthy");
      return saga(w, e, *d);
    });
    then([this, d, step](Writer& w) {
      v1::DeploymentFailed e;
      e.set_deployment_id(d->id);
      e.set_project_id(id());
      e.set_step_index(step);
      e.set_step_kind(v1::STEP_KIND_ROLLING_BATCH);
      const auto& servers = d->placement["api"].server_ids();
      if (!servers.empty()) e.set_server_id(servers[0]);
      e.set_service("api");
      e.set_agent_output("container api exited with code 1: listen tcp :8080: address in use");
      e.set_reason("service api failed its health checks");
      e.set_cause(v1::STATUS_CHANGE_CAUSE_HEALTH);
      return saga(w, e, *d);
    });
    status(d, v1::DEPLOYMENT_STATUS_DEPLOYING, v1::DEPLOYMENT_STATUS_FAILED,
           v1::STATUS_CHANGE_CAUSE_HEALTH, "service api failed its health checks");
  }

  void cancel(const DeploymentRef& d) {
    then([this, d](Writer& w) {
      v1::CancelDeployment c;
      c.set_deployment_id(d->id);
      c.set_reason("wrong branch");
      return decide(w, c, actor()).status();
    });
    cancelled(d, v1::STATUS_CHANGE_CAUSE_USER, "wrong branch");
  }

  void cancelled(const DeploymentRef& d, v1::StatusChangeCause cause, const std::string& reason) {
    then([this, d, cause, reason](Writer& w) {
      v1::DeploymentCancelled e;
      e.set_deployment_id(d->id);
      e.set_project_id(id());
      e.set_reason(reason);
      e.set_cause(cause);
      return saga(w, e, *d);
    });
    status(d, v1::DEPLOYMENT_STATUS_DEPLOYING, v1::DEPLOYMENT_STATUS_CANCELLED, cause, reason);
  }

  Stream stream_;
  std::size_t index_;
  std::vector<std::string> clusters_;
  commands::ProjectState state_;
  std::map<std::uint64_t, v1::GraphVersion> graphs_;
  bool registered_ = false;
  std::uint64_t cycle_ = 0;
  std::uint64_t commands_ = 0;
  std::uint64_t published_ = 0;
  std::string last_command_;
};

// --- clusters

struct ClusterStream {
  Stream stream;
  commands::ClusterState state;
  std::uint64_t commands = 0;
};
using ClusterRef = std::shared_ptr<ClusterStream>;

v1::SealedSecret sealed(std::uint64_t seed) {
  v1::SealedSecret s;
  s.set_key_id("kek-2024");
  s.set_nonce(std::string(12, static_cast<char>(0xa0 + seed % 16)));
  std::string ciphertext;
  for (int i = 0; i < 48; ++i) ciphertext.push_back(static_cast<char>((i * 37 + seed) % 256));
  s.set_ciphertext(ciphertext);
  return s;
}

class ClusterScript final : public Script {
 public:
  ClusterScript(std::string id, std::size_t index, std::size_t max_servers)
      : index_(index), max_servers_(std::max<std::size_t>(max_servers, 1)) {
    main_ = std::make_shared<ClusterStream>();
    main_->stream = {std::string(events::kInfrastructureEventsTopic), "cluster", std::move(id), 0};
  }

 private:
  const std::string& id() const { return main_->stream.id; }

  template <typename Command>
  Result<commands::Decision> decide(Writer& w, ClusterStream& c, const Command& command,
                                    const std::string& actor = "alice") {
    const std::string command_id = numbered(c.stream.id + "-cmd-", ++c.commands, 6);
    const commands::CommandContext ctx{command_id, actor, w.now(), {}};
    auto decision = commands::decide(c.state, command, ctx);
    if (!decision.ok()) return refused(command, "cluster " + c.stream.id, decision.status());
    for (std::size_t i = 0; i < decision->events.size() && !w.done(); ++i) {
      commands::apply_event(c.state, decision->events[i]);
      AXION_RETURN_IF_ERROR(w.add(c.stream, decision->events[i], actor, command_id,
                                  commands::derive_id("evt", command_id, std::to_string(i))));
    }
    last_command_ = command_id;
    return decision;
  }

  // An event the SSH executor or the install saga records, correlated with `command_id`.
  Status saga(Writer& w, const google::protobuf::Message& event, const std::string& command_id) {
    if (w.done()) return ok_status();
    const Any any = pack(event);
    commands::apply_event(main_->state, any);
    const std::string key = "saga:" + id() + ":" + std::to_string(main_->stream.sequence + 1);
    return w.add(main_->stream, any, "system", command_id, commands::derive_id("evt", key));
  }

  void plan() override {
    if (!created_) {
      created_ = true;
      then([this](Writer& w) {
        v1::CreateCluster c;
        c.set_cluster_id(id());
        c.set_name(numbered("cluster-", index_ + 1));
        c.set_description("Generated cluster " + std::to_string(index_ + 1));
        (*c.mutable_labels())["region"] = index_ % 2 ? "eu-west" : "us-east";
        c.set_kind(v1::CLUSTER_KIND_SERVERS);
        return decide(w, *main_, c).status();
      });
      return;
    }
    const std::uint64_t k = cycle_++;
    if (k % 10 == 0) ephemeral(k);
    const std::string server = server_id_of(id(), k % max_servers_ + 1);
    if (!main_->state.servers.count(server)) create_server(server, k % max_servers_ + 1);
    test_connection(server);
    install(server, k, installs_++ % 4 == 1);
    if (k % 3 == 0) {
      then([this, k](Writer& w) {
        v1::UpdateCluster c;
        c.set_cluster_id(id());
        c.set_description("Generated cluster " + std::to_string(index_ + 1) + ", cycle " +
                          std::to_string(k));
        c.mutable_update_mask()->add_paths("description");
        return decide(w, *main_, c).status();
      });
    }
    uninstall(server);
    configure(server, k);
  }

  // A cluster created, renamed and deleted again (cluster ids are never reused).
  void ephemeral(std::uint64_t k) {
    auto c = std::make_shared<ClusterStream>();
    c->stream = {std::string(events::kInfrastructureEventsTopic), "cluster",
                 numbered(id() + "-t", k, 4), 0};
    then([this, c, k](Writer& w) {
      v1::CreateCluster cmd;
      cmd.set_cluster_id(c->stream.id);
      cmd.set_name(numbered("scratch-", k, 4));
      cmd.set_description("load test");
      return decide(w, *c, cmd).status();
    });
    then([this, c](Writer& w) {
      v1::UpdateCluster cmd;
      cmd.set_cluster_id(c->stream.id);
      cmd.set_name(c->state.name + "-old");
      cmd.mutable_update_mask()->add_paths("name");
      return decide(w, *c, cmd).status();
    });
    then([this, c](Writer& w) {
      v1::DeleteCluster cmd;
      cmd.set_cluster_id(c->stream.id);
      cmd.set_reason("load test over");
      return decide(w, *c, cmd).status();
    });
  }

  std::string host_of(std::size_t n) const {
    return "10." + std::to_string(index_ % 250) + "." + std::to_string(n / 250) + "." +
           std::to_string(n % 250 + 1);
  }

  void create_server(const std::string& server, std::size_t n) {
    then([this, server, n](Writer& w) {
      v1::CreateServer c;
      c.set_server_id(server);
      c.set_cluster_id(id());
      c.set_name(numbered("node-", n, 2));
      c.set_host(host_of(n));
      c.set_port(22);
      c.set_ssh_user("deploy");
      c.set_auth_kind(n % 2 ? v1::SSH_AUTH_KIND_PRIVATE_KEY : v1::SSH_AUTH_KIND_PASSWORD);
      *c.mutable_credential() = sealed(n);
      (*c.mutable_labels())["zone"] = n % 2 ? "a" : "b";
      return decide(w, *main_, c).status();
    });
  }

  void test_connection(const std::string& server) {
    then([this, server](Writer& w) -> Status {
      v1::TestServerConnection c;
      c.set_server_id(server);
      c.set_pin_host_key(true);
      AXION_RETURN_IF_ERROR(decide(w, *main_, c).status());  // accepted: no event
      v1::ServerConnectionTested e;
      e.set_server_id(server);
      e.set_cluster_id(id());
      auto* r = e.mutable_report();
      r->set_reachable(true);
      r->set_authenticated(true);
      r->set_os("debian 12");
      r->set_arch("x86_64");
      r->set_cpu_count(4);
      r->set_memory_mb(8192);
      r->set_disk_mb(100000);
      r->set_systemd(true);
      r->set_docker(true);
      r->set_host_key_fingerprint("SHA256:" + hex_of(server + "/hostkey"));
      r->set_docker_version("24.0.7");
      *r->mutable_tested_at() = TimeUtil::MillisecondsToTimestamp(w.now());
      r->mutable_latency()->set_nanos(42000000);
      return saga(w, e, last_command_);
    });
    then([this, server](Writer& w) -> Status {
      const auto it = main_->state.servers.find(server);
      if (it == main_->state.servers.end() || !it->second.host_key_fingerprint.empty()) {
        return ok_status();  // pinned before (and not reset since)
      }
      v1::HostKeyPinned e;
      e.set_server_id(server);
      e.set_cluster_id(id());
      e.set_fingerprint("SHA256:" + hex_of(server + "/hostkey"));
      e.set_algorithm("ssh-ed25519");
      return saga(w, e, last_command_);
    });
  }

  void install(const std::string& server, std::uint64_t k, bool fails) {
    const std::string version = "1." + std::to_string(k % 7) + ".0";
    const std::string agent = "agent-" + server;
    auto command = std::make_shared<std::string>();
    then([this, server, k, version, command](Writer& w) -> Status {
      v1::InstallAgent c;
      c.set_server_id(server);
      c.set_install_id(numbered(server + "-i", k, 4));
      c.set_agent_version(version);
      AXION_RETURN_IF_ERROR(decide(w, *main_, c).status());
      *command = last_command_;
      return ok_status();
    });
    auto step = [this, server, command](v1::AgentInstallStep s, v1::InstallStepOutcome outcome) {
      then([this, server, command, s, outcome](Writer& w) {
        v1::AgentInstallStepCompleted e;
        e.set_server_id(server);
        e.set_cluster_id(id());
        e.set_install_id(main_->state.servers[server].install.install_id);
        e.set_step(s);
        e.set_outcome(outcome);
        e.set_detail(v1::AgentInstallStep_Name(s));
        return saga(w, e, *command);
      });
    };
    auto credential = [this, server, agent, command](v1::AgentCredentialKind kind) {
      then([this, server, agent, command, kind](Writer& w) {
        v1::AgentCredentialIssued e;
        e.set_server_id(server);
        e.set_cluster_id(id());
        e.set_agent_id(agent);
        e.set_kind(kind);
        e.set_credential_hash(hex_of(*command + "/" + v1::AgentCredentialKind_Name(kind)) +
                              hex_of(*command));
        *e.mutable_expires_at() = TimeUtil::MillisecondsToTimestamp(
            w.now() + (kind == v1::AGENT_CREDENTIAL_KIND_LONG_LIVED ? 90LL : 1LL) * 86400000LL);
        return saga(w, e, *command);
      });
    };
    step(v1::AGENT_INSTALL_STEP_CONNECT, v1::INSTALL_STEP_OUTCOME_SUCCEEDED);
    step(v1::AGENT_INSTALL_STEP_CHECK_REQUIREMENTS, v1::INSTALL_STEP_OUTCOME_SUCCEEDED);
    if (fails) {
      step(v1::AGENT_INSTALL_STEP_UPLOAD_BINARY, v1::INSTALL_STEP_OUTCOME_FAILED);
      then([this, server, command](Writer& w) {
        v1::AgentInstallFailed e;
        e.set_server_id(server);
        e.set_cluster_id(id());
        e.set_install_id(main_->state.servers[server].install.install_id);
        e.set_step(v1::AGENT_INSTALL_STEP_UPLOAD_BINARY);
        e.set_reason("checksum mismatch after upload");
        e.set_output("sha256sum: WARNING: 1 computed checksum did NOT match");
        return saga(w, e, *command);
      });
      return;
    }
    step(v1::AGENT_INSTALL_STEP_UPLOAD_BINARY, v1::INSTALL_STEP_OUTCOME_SUCCEEDED);
    step(v1::AGENT_INSTALL_STEP_WRITE_CONFIG, v1::INSTALL_STEP_OUTCOME_SUCCEEDED);
    credential(v1::AGENT_CREDENTIAL_KIND_REGISTRATION_TOKEN);
    step(v1::AGENT_INSTALL_STEP_INSTALL_SERVICE, v1::INSTALL_STEP_OUTCOME_SUCCEEDED);
    step(v1::AGENT_INSTALL_STEP_START_SERVICE, v1::INSTALL_STEP_OUTCOME_SUCCEEDED);
    then([this, server, agent, version](Writer& w) {
      v1::AgentRegistered report;
      report.set_server_id(server);
      report.set_cluster_id(id());
      report.set_agent_id(agent);
      report.set_version(version);
      report.add_runtimes("docker");
      auto* host = report.mutable_host();
      host->set_hostname(server + ".example.internal");
      host->set_os("debian 12");
      host->set_arch("x86_64");
      host->set_cpus(4);
      host->set_memory_mb(8192);
      host->set_disk_mb(100000);
      host->set_kernel("6.1.0-18-amd64");
      return decide(w, *main_, report, "system").status();
    });
    step(v1::AGENT_INSTALL_STEP_WAIT_REGISTRATION, v1::INSTALL_STEP_OUTCOME_SUCCEEDED);
    credential(v1::AGENT_CREDENTIAL_KIND_LONG_LIVED);
    then([this, server, agent, version, command](Writer& w) {
      v1::AgentInstalled e;
      e.set_server_id(server);
      e.set_cluster_id(id());
      e.set_install_id(main_->state.servers[server].install.install_id);
      e.set_agent_version(version);
      e.set_agent_id(agent);
      return saga(w, e, *command);
    });
    for (const auto& change : {std::pair{v1::AGENT_STATUS_OFFLINE, "missed 3 heartbeats"},
                               std::pair{v1::AGENT_STATUS_ONLINE, "heartbeats resumed"}}) {
      const v1::AgentStatus to = change.first;
      const std::string reason = change.second;
      then([this, server, to, reason](Writer& w) {
        v1::AgentStatusChanged report;
        report.set_server_id(server);
        report.set_cluster_id(id());
        report.set_to_status(to);
        report.set_reason(reason);
        return decide(w, *main_, report, "system").status();
      });
    }
  }

  void uninstall(const std::string& server) {
    then([this, server](Writer& w) -> Status {
      v1::UninstallAgent c;
      c.set_server_id(server);
      c.set_reason("rotating agents");
      AXION_RETURN_IF_ERROR(decide(w, *main_, c).status());  // AgentUninstallRequested
      if (w.done()) return ok_status();
      v1::RecordAgentUninstall done;  // what the installer records once the agent is gone
      done.set_server_id(server);
      done.set_uninstall_id(main_->state.servers[server].install.uninstall_id);
      done.set_succeeded(true);
      done.set_detail("agent stopped; files removed");
      return decide(w, *main_, done, "system").status();
    });
  }

  // New labels; on every other visit of a server its SSH port moves too (which resets the
  // pinned host key).
  void configure(const std::string& server, std::uint64_t k) {
    then([this, server, k](Writer& w) {
      v1::ConfigureServer c;
      c.set_server_id(server);
      (*c.mutable_labels())["zone"] = k % 2 ? "a" : "b";
      (*c.mutable_labels())["cycle"] = std::to_string(k);
      c.mutable_update_mask()->add_paths("labels");
      c.set_port((k / max_servers_ + index_) % 2 ? 2222 : 22);
      c.mutable_update_mask()->add_paths("port");
      return decide(w, *main_, c).status();
    });
  }

  std::size_t index_;
  std::size_t max_servers_;
  ClusterRef main_;
  bool created_ = false;
  std::uint64_t cycle_ = 0;
  std::uint64_t installs_ = 0;
  std::string last_command_;
};

}  // namespace

std::vector<events::LogPosition> HistorySummary::last_positions() const {
  std::vector<events::LogPosition> out;
  for (const auto& [tp, offset] : last_offsets) out.push_back({tp, offset});
  return out;
}

Result<HistorySummary> write_history(events::EventLog& log, const HistoryOptions& options) {
  if (options.batch_records == 0) return invalid_field("batch_records", "batch_records must be > 0");
  if (options.events > 0 && options.projects + options.clusters == 0) {
    return invalid_field("projects", "a history needs at least one project or cluster");
  }
  std::map<std::string, std::int32_t> partitions;
  for (std::string_view topic : {events::kDeploymentEventsTopic, events::kInfrastructureEventsTopic}) {
    auto count = log.partition_count(std::string(topic));
    if (!count.ok()) return count.status();
    partitions[std::string(topic)] = *count;
  }
  auto producer = log.open_producer(options.transactional_id);
  if (!producer.ok()) return producer.status();

  std::vector<std::string> clusters;
  for (std::size_t i = 0; i < options.clusters; ++i) {
    clusters.push_back(numbered(options.id_prefix + "-c", i + 1));
  }
  std::vector<std::unique_ptr<Script>> scripts;
  for (std::size_t i = 0; i < std::max(options.projects, options.clusters); ++i) {
    if (i < options.projects) {
      scripts.push_back(std::make_unique<ProjectScript>(numbered(options.id_prefix + "-p", i + 1),
                                                        i, clusters));
    }
    if (i < options.clusters) {
      scripts.push_back(
          std::make_unique<ClusterScript>(clusters[i], i, options.max_servers_per_cluster));
    }
  }

  HistorySummary summary;
  Writer writer(options, **producer, partitions, summary);
  while (!writer.done()) {
    for (auto& script : scripts) {
      if (writer.done()) break;
      AXION_RETURN_IF_ERROR(script->step(writer));
    }
  }
  AXION_RETURN_IF_ERROR(writer.flush());
  return summary;
}

const std::vector<std::string>& deployment_event_types() {
  static const std::vector<std::string> types = {
      "axion.v1.ProjectRegistered",         "axion.v1.GraphPublished",
      "axion.v1.DeploymentRequested",       "axion.v1.DeploymentSuperseded",
      "axion.v1.DeploymentStatusChanged",   "axion.v1.DeploymentConfigGenerated",
      "axion.v1.DeploymentServersAssigned", "axion.v1.DeploymentStepStarted",
      "axion.v1.DeploymentStepCompleted",   "axion.v1.ServiceStatusChanged",
      "axion.v1.DeploymentSucceeded",       "axion.v1.DeploymentFailed",
      "axion.v1.DeploymentCancelRequested", "axion.v1.DeploymentCancelled",
      "axion.v1.DeploymentSnapshotted",     "axion.v1.RollbackRequested",
      "axion.v1.DeploymentPaused",          "axion.v1.DeploymentPromoted"};
  return types;
}

const std::vector<std::string>& infrastructure_event_types() {
  static const std::vector<std::string> types = {
      "axion.v1.ClusterCreated",          "axion.v1.ClusterUpdated",
      "axion.v1.ClusterDeleted",          "axion.v1.ServerCreated",
      "axion.v1.ServerConfigured",        "axion.v1.ServerConnectionTested",
      "axion.v1.HostKeyPinned",           "axion.v1.AgentInstallRequested",
      "axion.v1.AgentInstallStepCompleted", "axion.v1.AgentInstalled",
      "axion.v1.AgentInstallFailed",      "axion.v1.AgentUninstalled",
      "axion.v1.AgentUninstallRequested",
      "axion.v1.AgentRegistered",         "axion.v1.AgentStatusChanged",
      "axion.v1.AgentCredentialIssued"};
  return types;
}

}  // namespace axion::tools
