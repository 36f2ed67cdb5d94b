// Helpers shared by the Cluster aggregate's translation units (cluster_aggregate.cc,
// cluster_servers.cc, cluster_agents.cc, cluster_evolve.cc). Not part of the public interface.
#pragma once

#include <google/protobuf/any.pb.h>
#include <google/protobuf/map.h>
#include <google/protobuf/message.h>

#include <map>
#include <string>
#include <string_view>

#include "commands/cluster_aggregate.h"

namespace axion::commands::cluster_detail {

// One event, packed, plus the ids the command created.
inline Decision emit(const google::protobuf::Message& event,
                     std::map<std::string, std::string> ids = {}) {
  Decision d;
  d.events.emplace_back().PackFrom(event);
  d.ids = std::move(ids);
  return d;
}

inline std::map<std::string, std::string> to_std_map(
    const google::protobuf::Map<std::string, std::string>& m) {
  return {m.begin(), m.end()};
}

inline void copy_labels(const std::map<std::string, std::string>& from,
                        google::protobuf::Map<std::string, std::string>* to) {
  to->clear();
  for (const auto& [k, v] : from) (*to)[k] = v;
}

// Deterministic serialization: equal messages give equal bytes (maps included).
std::string canonical_bytes(const google::protobuf::Message& m);
inline bool same_message(const google::protobuf::Message& a, const google::protobuf::Message& b) {
  return canonical_bytes(a) == canonical_bytes(b);
}

// The cluster a command targets must exist (NOT_FOUND otherwise). `named` is the cluster id the
// command carries ("" when it names only a server); if given it must be a valid id and be the
// cluster the processor loaded.
Status require_cluster(const ClusterState& state, std::string_view named);
// The server, or NOT_FOUND naming it and the cluster. Checks the id's form first.
Result<const ServerState*> require_server(const ClusterState& state, std::string_view server_id);
// "s-1 (web-1, 10.0.0.5:22)" for messages.
std::string describe(const ServerState& server);
// A new id: the command's own if it carries one (checked), else derived from the command id.
Result<std::string> new_id(std::string_view field, std::string_view given, const char* prefix,
                           const CommandContext& ctx);
// TestServerConnection and InstallAgent need SSH settings: FAILED_PRECONDITION saying what to
// do for a server created without them.
Status require_ssh(const ServerState& server);
// INVALID_ARGUMENT if a message carries fields this build does not know.
Status refuse_unknown_fields(const google::protobuf::Message& m, std::string_view what);

}  // namespace axion::commands::cluster_detail
