// The Cluster aggregate's entry points and its cluster-level commands: the Any dispatcher,
// CreateCluster / UpdateCluster / DeleteCluster, event_target / aggregate_version, and the
// helpers the other cluster_*.cc files share. Server commands are in cluster_servers.cc, agent
// commands in cluster_agents.cc, the fold in cluster_evolve.cc.
#include "commands/cluster_aggregate.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/unknown_field_set.h>

#include <set>
#include <unordered_map>

#include "commands/cluster_internal.h"
#include "commands/validators.h"

namespace axion::commands {

namespace v1 = axion::v1;
using namespace cluster_detail;

namespace cluster_detail {

std::string canonical_bytes(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&coded);
  }
  return out;
}

Status require_cluster(const ClusterState& state, std::string_view named) {
  if (!named.empty()) AXION_RETURN_IF_ERROR(validate_id("cluster_id", named));
  const std::string id(named.empty() ? std::string_view(state.cluster_id) : named);
  if (!state.exists) return not_found("cluster " + in_quotes(id) + " not found");
  if (!named.empty() && named != state.cluster_id) {
    return invalid_field("cluster_id", "command names cluster " + in_quotes(named) +
                                           " but was routed to cluster " +
                                           in_quotes(state.cluster_id));
  }
  if (state.deleted) return not_found("cluster " + in_quotes(id) + " was deleted");
  return ok_status();
}

Result<const ServerState*> require_server(const ClusterState& state, std::string_view server_id) {
  AXION_RETURN_IF_ERROR(validate_id("server_id", server_id));
  AXION_RETURN_IF_ERROR(require_cluster(state, ""));
  const auto it = state.servers.find(std::string(server_id));
  if (it == state.servers.end()) {
    return not_found("server " + in_quotes(server_id) + " not found in cluster " +
                     state.cluster_id);
  }
  return &it->second;
}

std::string describe(const ServerState& s) {
  return s.server_id + " (" + s.name + ", " + endpoint(s.host, s.port) + ")";
}

Result<std::string> new_id(std::string_view field, std::string_view given, const char* prefix,
                           const CommandContext& ctx) {
  if (!given.empty()) {
    AXION_RETURN_IF_ERROR(validate_id(field, given));
    return std::string(given);
  }
  // Without a command id every such command would derive the same id.
  if (ctx.command_id.empty()) {
    return invalid_field("command_id", "command_id is required to derive " + std::string(field));
  }
  return derive_id(prefix, ctx.command_id);
}

Status refuse_unknown_fields(const google::protobuf::Message& m, std::string_view what) {
  const auto& unknown = m.GetReflection()->GetUnknownFields(m);
  if (unknown.empty()) return ok_status();
  std::string numbers;
  for (int i = 0; i < unknown.field_count(); ++i) {
    numbers += (i ? ", " : "") + std::to_string(unknown.field(i).number());
  }
  // Copying such a message into an event would carry those bytes along unread — possibly a
  // plaintext credential sent by a client that packed a request type as a command.
  return invalid_argument(std::string(what) + " carries fields this build does not know (" +
                          numbers + "); refused rather than record data it cannot check");
}

}  // namespace cluster_detail

bool ServerState::operator==(const ServerState& o) const {
  return server_id == o.server_id && name == o.name && host == o.host && port == o.port &&
         ssh_user == o.ssh_user && auth_kind == o.auth_kind &&
         same_message(credential, o.credential) &&
         host_key_fingerprint == o.host_key_fingerprint &&
         host_key_algorithm == o.host_key_algorithm && status == o.status &&
         labels == o.labels && capacity == o.capacity && tested == o.tested &&
         same_message(last_report, o.last_report) &&
         created_by == o.created_by && agent_status == o.agent_status && agent_id == o.agent_id &&
         agent_version == o.agent_version && agent_runtimes == o.agent_runtimes &&
         agent_status_reason == o.agent_status_reason && install == o.install &&
         registration_token == o.registration_token && agent_credential == o.agent_credential &&
         agent_session == o.agent_session &&
         version == o.version;
}

// ---------------------------------------------------------------------------------------------
// Dispatch

namespace {

using Handler = Result<Decision> (*)(const ClusterState&, const google::protobuf::Any&,
                                     const CommandContext&);

template <typename T>
Result<Decision> unpack_and_decide(const ClusterState& state, const google::protobuf::Any& any,
                                   const CommandContext& ctx) {
  T msg;
  if (!any.UnpackTo(&msg)) {
    return invalid_argument("command payload of type " + T::descriptor()->full_name() +
                            " does not parse");
  }
  return decide(state, msg, ctx);
}

template <typename T>
std::pair<std::string, Handler> entry() {
  return {T::descriptor()->full_name(), &unpack_and_decide<T>};
}

std::string_view type_name(const google::protobuf::Any& any) {
  const std::string_view url = any.type_url();
  const auto slash = url.rfind('/');
  return slash == std::string_view::npos ? url : url.substr(slash + 1);
}

const std::unordered_map<std::string, Handler>& handlers() {
  static const std::unordered_map<std::string, Handler> table = {
      entry<v1::CreateCluster>(),   entry<v1::UpdateCluster>(),
      entry<v1::DeleteCluster>(),   entry<v1::CreateServer>(),
      entry<v1::ConfigureServer>(), entry<v1::TestServerConnection>(),
      entry<v1::InstallAgent>(),    entry<v1::UninstallAgent>(),
      entry<v1::AgentRegistered>(), entry<v1::AgentStatusChanged>(),
      entry<v1::IssueAgentToken>(), entry<v1::RegisterAgent>(),
      entry<v1::ConnectAgent>(),    entry<v1::RevokeAgentCredentials>(),
      entry<v1::CancelAgentInstall>(), entry<v1::RecordAgentInstallStep>(),
      entry<v1::RecordAgentUninstall>(),
  };
  return table;
}

}  // namespace

bool is_cluster_command(const std::string& type) { return handlers().count(type) > 0; }

Result<Decision> decide_cluster_command(const ClusterState& state,
                                        const google::protobuf::Any& command,
                                        const CommandContext& ctx) {
  const auto it = handlers().find(std::string(type_name(command)));
  if (it == handlers().end()) {
    return Status(StatusCode::kUnimplemented, "command type " + in_quotes(type_name(command)) +
                                                  " is not handled by the cluster aggregate");
  }
  return it->second(state, command, ctx);
}

// ---------------------------------------------------------------------------------------------
// Cluster commands

namespace {

Status validate_kind(v1::ClusterKind kind) {
  if (v1::ClusterKind_IsValid(kind)) return ok_status();
  return invalid_field("kind", "cluster kind " + std::to_string(kind) +
                                   " is unknown: use CLUSTER_KIND_SERVERS or "
                                   "CLUSTER_KIND_KUBERNETES");
}

}  // namespace

Result<Decision> decide(const ClusterState& state, const v1::CreateCluster& cmd,
                        const CommandContext& ctx) {
  auto id = new_id("cluster_id", cmd.cluster_id(), "cls", ctx);
  if (!id.ok()) return id.status();
  if (state.exists) {
    if (state.cluster_id != *id) return require_cluster(state, *id);  // misrouted
    if (state.deleted) {
      return already_exists("cluster " + *id + " was deleted; cluster ids are never reused");
    }
    return already_exists("cluster " + *id + " already exists (name " + in_quotes(state.name) +
                          ")");
  }
  AXION_RETURN_IF_ERROR(validate_dns_label("name", "cluster name", cmd.name()));
  AXION_RETURN_IF_ERROR(validate_text("description", cmd.description(), kMaxText));
  AXION_RETURN_IF_ERROR(validate_labels("labels", cmd.labels()));
  AXION_RETURN_IF_ERROR(validate_kind(cmd.kind()));
  // Names are meant to be unique across clusters, which one aggregate cannot see: that check
  // belongs to the gateway against the clusters read model.
  v1::ClusterCreated ev;
  ev.set_cluster_id(*id);
  ev.set_name(cmd.name());
  ev.set_description(cmd.description());
  *ev.mutable_labels() = cmd.labels();
  ev.set_kind(cmd.kind() == v1::CLUSTER_KIND_UNSPECIFIED ? v1::CLUSTER_KIND_SERVERS : cmd.kind());
  return emit(ev, {{"cluster_id", *id}});
}

Result<Decision> decide(const ClusterState& state, const v1::UpdateCluster& cmd,
                        const CommandContext&) {
  AXION_RETURN_IF_ERROR(validate_id("cluster_id", cmd.cluster_id()));
  AXION_RETURN_IF_ERROR(require_cluster(state, cmd.cluster_id()));
  std::set<std::string> paths;
  for (const auto& p : cmd.update_mask().paths()) {
    if (p != "name" && p != "description" && p != "labels") {
      return invalid_field("update_mask", "update_mask path " + in_quotes(p) +
                                              " is unknown: use name, description or labels");
    }
    paths.insert(p);
  }
  auto applies = [&](const char* p) { return paths.empty() || paths.count(p) > 0; };
  v1::ClusterUpdated ev;
  ev.set_cluster_id(state.cluster_id);
  ev.set_name(state.name);
  ev.set_description(state.description);
  copy_labels(state.labels, ev.mutable_labels());
  if (applies("name")) {
    AXION_RETURN_IF_ERROR(validate_dns_label("name", "cluster name", cmd.name()));
    ev.set_name(cmd.name());
  }
  if (applies("description")) {
    AXION_RETURN_IF_ERROR(validate_text("description", cmd.description(), kMaxText));
    ev.set_description(cmd.description());
  }
  if (applies("labels")) {
    AXION_RETURN_IF_ERROR(validate_labels("labels", cmd.labels()));
    *ev.mutable_labels() = cmd.labels();
  }
  if (ev.name() == state.name && ev.description() == state.description &&
      to_std_map(ev.labels()) == state.labels) {
    return Decision{};  // nothing changes: no event
  }
  return emit(ev);
}

namespace {

// "a, b, c and 7 more": enough to act on without flooding the message.
template <typename Range, typename Fn>
std::string some_of(const Range& items, Fn describe_item) {
  constexpr std::size_t kShown = 10;
  std::string out;
  std::size_t n = 0;
  for (const auto& item : items) {
    if (n < kShown) out += (n ? ", " : "") + describe_item(item);
    ++n;
  }
  if (n > kShown) out += " and " + std::to_string(n - kShown) + " more";
  return out;
}

}  // namespace

Result<Decision> decide(const ClusterState& state, const v1::DeleteCluster& cmd,
                        const CommandContext&) {
  AXION_RETURN_IF_ERROR(validate_id("cluster_id", cmd.cluster_id()));
  AXION_RETURN_IF_ERROR(require_cluster(state, cmd.cluster_id()));
  AXION_RETURN_IF_ERROR(validate_text("reason", cmd.reason(), kMaxText));
  std::vector<std::string> blockers;
  if (!state.servers.empty()) {
    blockers.push_back(
        "still has " + std::to_string(state.servers.size()) + " server(s): " +
        some_of(state.servers, [](const auto& kv) { return describe(kv.second); }));
  }
  if (!state.deployments.empty()) {
    blockers.push_back("is used by " + std::to_string(state.deployments.size()) +
                       " deployment(s): " +
                       some_of(state.deployments, [](const std::string& d) { return d; }));
  }
  if (!blockers.empty()) {
    std::string msg = "cluster " + state.cluster_id + " cannot be deleted: it " + blockers[0];
    if (blockers.size() > 1) msg += ", and it " + blockers[1];
    return failed_precondition(msg + "; only an unused cluster without servers can be deleted");
  }
  v1::ClusterDeleted ev;
  ev.set_cluster_id(state.cluster_id);
  ev.set_reason(cmd.reason());
  return emit(ev);
}

// ---------------------------------------------------------------------------------------------
// Envelope streams

namespace {

using TargetFn = Result<EventTarget> (*)(const google::protobuf::Any&);

// Server and agent events carry server_id and cluster_id; cluster events only cluster_id.
template <typename T, bool kServerEvent>
Result<EventTarget> target_of(const google::protobuf::Any& any) {
  T msg;
  if (!any.UnpackTo(&msg)) {
    return invalid_argument("event payload of type " + T::descriptor()->full_name() +
                            " does not parse");
  }
  if constexpr (kServerEvent) {
    return EventTarget{"server", msg.server_id(), msg.cluster_id()};
  } else {
    return EventTarget{"cluster", msg.cluster_id(), ""};
  }
}

template <typename T, bool kServerEvent = true>
std::pair<std::string, TargetFn> target() {
  return {T::descriptor()->full_name(), &target_of<T, kServerEvent>};
}

}  // namespace

Result<EventTarget> event_target(const google::protobuf::Any& event) {
  static const std::unordered_map<std::string, TargetFn> targets = {
      target<v1::ClusterCreated, false>(),  target<v1::ClusterUpdated, false>(),
      target<v1::ClusterDeleted, false>(),  target<v1::ServerCreated>(),
      target<v1::ServerConfigured>(),       target<v1::ServerConnectionTested>(),
      target<v1::HostKeyPinned>(),          target<v1::AgentInstallRequested>(),
      target<v1::AgentInstallStepCompleted>(), target<v1::AgentInstalled>(),
      target<v1::AgentInstallFailed>(),     target<v1::AgentUninstalled>(),
      target<v1::AgentRegistered>(),        target<v1::AgentStatusChanged>(),
      target<v1::AgentCredentialIssued>(), target<v1::AgentCredentialRevoked>(),
      target<v1::AgentUninstallRequested>(), target<v1::AgentUninstallFailed>(),
  };
  const auto it = targets.find(std::string(type_name(event)));
  if (it == targets.end()) {
    return invalid_argument("event type " + in_quotes(type_name(event)) +
                            " is not an infrastructure event");
  }
  return it->second(event);
}

std::uint64_t aggregate_version(const ClusterState& state, std::string_view aggregate_type,
                                std::string_view aggregate_id) {
  if (aggregate_type == "cluster") {
    return state.exists && aggregate_id == state.cluster_id ? state.version : 0;
  }
  if (aggregate_type == "server") {
    const auto it = state.servers.find(std::string(aggregate_id));
    return it == state.servers.end() ? 0 : it->second.version;
  }
  return 0;
}

ClusterState fold(ClusterState state, const std::vector<google::protobuf::Any>& events) {
  for (const auto& e : events) apply_event(state, e);
  return state;
}

}  // namespace axion::commands
