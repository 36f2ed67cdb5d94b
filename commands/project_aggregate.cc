// The Project aggregate's project-level commands (RegisterProject, PublishGraph), the command
// dispatcher, and small shared helpers. Deployment commands are in deployment_commands.cc, the
// fold in project_evolve.cc.
#include "commands/project_aggregate.h"

#include <google/protobuf/util/message_differencer.h>

#include <set>
#include <string_view>

#include "commands/content_hash.h"
#include "commands/field_checks.h"
#include "commands/graph_validation.h"
#include "commands/project_internal.h"

namespace axion::commands {

using detail::pack;

bool DeploymentInfo::operator==(const DeploymentInfo& o) const {
  using google::protobuf::util::MessageDifferencer;
  return deployment_id == o.deployment_id && environment == o.environment &&
         status == o.status && graph_version == o.graph_version &&
         MessageDifferencer::Equals(strategy, o.strategy) &&
         MessageDifferencer::Equals(options, o.options) && strategy_kind == o.strategy_kind &&
         rollback_of == o.rollback_of && rollback_target == o.rollback_target &&
         superseded_by == o.superseded_by && requested_by == o.requested_by &&
         created_at_ms == o.created_at_ms && ordinal == o.ordinal &&
         current_step == o.current_step && paused == o.paused &&
         cancel_requested == o.cancel_requested && has_snapshot == o.has_snapshot &&
         terminal == o.terminal;
}

bool is_terminal(axion::v1::DeploymentStatus s) {
  return s == axion::v1::DEPLOYMENT_STATUS_SUCCESS || s == axion::v1::DEPLOYMENT_STATUS_FAILED ||
         s == axion::v1::DEPLOYMENT_STATUS_CANCELLED;
}

std::string status_name(axion::v1::DeploymentStatus s) {
  constexpr std::string_view kPrefix = "DEPLOYMENT_STATUS_";
  std::string name = axion::v1::DeploymentStatus_Name(s);
  if (name.empty()) return "status " + std::to_string(static_cast<int>(s));
  return name.rfind(kPrefix, 0) == 0 ? name.substr(kPrefix.size()) : name;
}

namespace detail {

Status require_project(const ProjectState& state, const std::string& named) {
  if (state.exists) return ok_status();
  const std::string& id = state.project_id.empty() ? named : state.project_id;
  return not_found((id.empty() ? std::string("the project") : "project " + quote(id)) +
                   " does not exist: register it with RegisterProject first");
}

Status check_project_id(const ProjectState& state, const std::string& project_id) {
  if (project_id.empty() || project_id == state.project_id) return ok_status();
  return invalid_field("project_id", "the command names project " + quote(project_id) +
                                         " but was addressed to project " +
                                         quote(state.project_id));
}

}  // namespace detail

namespace {

Status validate_repository_url(const std::string& url) {
  if (url.empty()) return ok_status();
  const auto bad = [&](const std::string& why) {
    return invalid_field("repository_url",
                         "repository URL " + quote(url, 128) + " is invalid: " + why);
  };
  if (auto p = token_problem(url, 2048); !p.empty()) return bad(p);
  for (std::string_view scheme : {"https://", "http://", "ssh://", "git://"}) {
    if (url.rfind(scheme, 0) == 0) return url.size() > scheme.size() ? ok_status() : bad("no host");
  }
  // scp-like "git@github.com:acme/api.git"
  const auto at = url.find('@');
  const auto colon = url.find(':');
  if (at != std::string::npos && colon != std::string::npos && at > 0 && colon > at + 1 &&
      url.find("://") == std::string::npos) {
    return ok_status();
  }
  return bad("use https://, http://, ssh://, git:// or user@host:path");
}

Status validate_registration(const axion::v1::RegisterProject& c, const std::string& owner) {
  if (auto p = id_problem(c.project_id()); !p.empty())
    return invalid_field("project_id", "project id " + quote(c.project_id()) + " is invalid: " + p);
  if (auto p = dns_label_problem(c.name()); !p.empty())
    return invalid_field("name", "project name " + quote(c.name()) + " is not a DNS label (" + p +
                                     "): " + std::string(kDnsLabelRule));
  if (owner.empty())
    return invalid_field("owner", "owner is empty and the command carries no actor");
  if (auto p = token_problem(owner, 128); !p.empty())
    return invalid_field("owner", "owner " + quote(owner) + " is invalid: " + p);
  if (auto p = text_problem(c.description(), 4096); !p.empty())
    return invalid_field("description", "description is invalid: " + p);
  AXION_RETURN_IF_ERROR(validate_repository_url(c.repository_url()));
  if (c.labels_size() > 64)
    return invalid_field("labels", "the project has " + std::to_string(c.labels_size()) +
                                       " labels; at most 64");
  std::set<std::string> keys;  // sorted, so the first bad label reported is stable
  for (const auto& [k, v] : c.labels()) keys.insert(k);
  for (const auto& k : keys) {
    if (auto p = token_problem(k, 253); !p.empty())
      return invalid_field("labels[" + quote(k) + "]",
                           "label key " + quote(k) + " is invalid: " + p);
    if (auto p = text_problem(c.labels().at(k), 1024); !p.empty())
      return invalid_field("labels[" + quote(k) + "]", "label " + k + " is invalid: " + p);
  }
  return ok_status();
}

}  // namespace

Result<Decision> decide(const ProjectState& state, const axion::v1::RegisterProject& command,
                        const CommandContext& ctx) {
  if (state.exists)
    return already_exists("project " + quote(state.project_id) + " already exists (name '" +
                          state.name + "', owner " + quote(state.owner) + ")");
  const std::string owner = command.owner().empty() ? ctx.actor : command.owner();
  AXION_RETURN_IF_ERROR(validate_registration(command, owner));
  axion::v1::ProjectRegistered event;
  event.set_project_id(command.project_id());
  event.set_name(command.name());
  event.set_owner(owner);
  event.set_description(command.description());
  event.set_repository_url(command.repository_url());
  *event.mutable_labels() = command.labels();
  Decision d;
  d.events.push_back(pack(event));
  d.ids["project_id"] = command.project_id();
  return d;
}

Result<Decision> decide(const ProjectState& state, const axion::v1::PublishGraph& command,
                        const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(detail::require_project(state, command.project_id()));
  AXION_RETURN_IF_ERROR(detail::check_project_id(state, command.project_id()));
  AXION_RETURN_IF_ERROR(validate_graph(command));
  const std::string hash = graph_content_hash(command.services(), command.edges());
  Decision d;
  d.ids["content_hash"] = hash;
  if (state.latest_graph_version != 0) {
    const GraphInfo& latest = state.graphs.at(state.latest_graph_version);
    if (latest.content_hash == hash && latest.commit_hash == command.commit_hash()) {
      // Identical to the latest version: nothing new to record (see the header).
      d.ids["graph_version"] = std::to_string(state.latest_graph_version);
      return d;
    }
  }
  const std::uint64_t version = state.latest_graph_version + 1;
  axion::v1::GraphPublished event;
  auto* graph = event.mutable_graph();
  graph->set_project_id(state.project_id);
  graph->set_version(version);
  *graph->mutable_services() = command.services();
  *graph->mutable_edges() = command.edges();
  graph->set_commit_hash(command.commit_hash());
  *graph->mutable_published_at() = detail::timestamp_from_ms(ctx.now_ms);
  graph->set_content_hash(hash);
  graph->set_published_by(ctx.actor);
  d.events.push_back(pack(event));
  d.ids["graph_version"] = std::to_string(version);
  return d;
}

namespace {

template <typename Command>
Result<Decision> unpack_and_decide(const ProjectState& state, const google::protobuf::Any& any,
                                   const CommandContext& ctx) {
  Command command;
  if (!any.UnpackTo(&command))
    return invalid_argument("the " + Command::descriptor()->full_name() +
                            " payload does not parse");
  return decide(state, command, ctx);
}

std::string type_of(const google::protobuf::Any& any) {
  const std::string& url = any.type_url();
  return url.substr(url.rfind('/') + 1);
}

}  // namespace

bool is_project_command(const std::string& type) {
  static const std::set<std::string, std::less<>> kTypes = {
      "axion.v1.RegisterProject",   "axion.v1.PublishGraph",       "axion.v1.DeployProject",
      "axion.v1.CancelDeployment",  "axion.v1.RollbackDeployment", "axion.v1.PromoteDeployment",
      "axion.v1.PauseDeployment",   "axion.v1.RecordDeploymentProgress"};
  return kTypes.contains(type);
}

Result<Decision> decide_project_command(const ProjectState& state,
                                        const google::protobuf::Any& command,
                                        const CommandContext& ctx) {
  namespace v1 = axion::v1;
  const std::string type = type_of(command);
  if (type == "axion.v1.RegisterProject")
    return unpack_and_decide<v1::RegisterProject>(state, command, ctx);
  if (type == "axion.v1.PublishGraph")
    return unpack_and_decide<v1::PublishGraph>(state, command, ctx);
  if (type == "axion.v1.DeployProject")
    return unpack_and_decide<v1::DeployProject>(state, command, ctx);
  if (type == "axion.v1.CancelDeployment")
    return unpack_and_decide<v1::CancelDeployment>(state, command, ctx);
  if (type == "axion.v1.RollbackDeployment")
    return unpack_and_decide<v1::RollbackDeployment>(state, command, ctx);
  if (type == "axion.v1.PromoteDeployment")
    return unpack_and_decide<v1::PromoteDeployment>(state, command, ctx);
  if (type == "axion.v1.PauseDeployment")
    return unpack_and_decide<v1::PauseDeployment>(state, command, ctx);
  if (type == "axion.v1.RecordDeploymentProgress")
    return unpack_and_decide<v1::RecordDeploymentProgress>(state, command, ctx);
  return invalid_argument("command type " + quote(type, 128) +
                          " is not handled by the project aggregate");
}

}  // namespace axion::commands
