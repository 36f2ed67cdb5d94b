// Strict validation of a project's service graph before it becomes an immutable GraphVersion.
// Everything a later step would choke on — a compose file, a hostname, a shell, a scheduler — is
// refused here, once, with INVALID_ARGUMENT naming the field ("services[2].name",
// "edges[4].to_service") and a message that quotes the bad value safely and says what is allowed.
// The first problem found is reported (services in order, then edges, then the start-order
// cycle check, then the total size), so the same bad graph always gets the same answer.
#pragma once

#include <google/protobuf/repeated_ptr_field.h>

#include <cstddef>
#include <cstdint>

#include "axion/v1/project.pb.h"
#include "common/status.h"

namespace axion::commands {

// Size bounds. The total bound keeps a GraphPublished event (which carries the whole graph)
// below the log's 1,000,000-byte record limit with room for the envelope.
struct GraphLimits {
  std::size_t max_services = 200;
  std::size_t max_edges = 2000;
  std::size_t max_ports_per_service = 64;
  std::size_t max_env_per_service = 500;
  std::size_t max_env_value_bytes = 32 * 1024;
  std::size_t max_env_name_bytes = 256;
  std::size_t max_argv_entries = 256;        // command, args, exec health check each
  std::size_t max_argv_entry_bytes = 4096;
  std::size_t max_image_bytes = 512;
  std::size_t max_secrets_per_service = 100;
  std::size_t max_volumes_per_service = 64;
  std::size_t max_labels = 64;               // per service, and build args per service
  std::size_t max_label_value_bytes = 1024;
  std::uint32_t max_replicas = 100;
  std::uint32_t max_cpu_millis = 1'000'000;          // 1000 cores
  std::uint64_t max_memory_mb = 16ull * 1024 * 1024;  // 16 TiB
  std::uint64_t max_disk_mb = 1024ull * 1024 * 1024;  // 1 PiB
  std::int64_t max_check_interval_s = 3600;
  std::size_t max_graph_bytes = 768 * 1024;  // serialized services + edges
};

// Validates services and edges:
//  - 1..max_services services; names are DNS labels (RFC 1123) and unique;
//  - each service has an image (a sane reference: [registry/]name[:tag][@algo:hex]) or a build
//    spec (relative paths, valid build-arg names, stage name);
//  - command/args/exec argv: bounded count, entries non-empty, no NUL, bounded length;
//  - ports: container_port 1..65535, unique per service and transport (TCP/HTTP/gRPC share
//    TCP; UDP is separate); names are DNS labels, unique per service; a host_port is 1..65535
//    and claimed by one port of one service per transport; protocol a known value;
//  - env: names [A-Za-z_][A-Za-z0-9_]*, values bounded, no NUL; a secret's env_var must not
//    also be a plain env var; secrets name a secret and a target; volumes mount at distinct
//    absolute paths; labels bounded; working_dir absolute;
//  - health check: a probe kind; HTTP path starts with '/'; ports 1..65535; interval and
//    timeout set, > 0, timeout <= interval; thresholds >= 1; start_period >= 0;
//  - replicas 0..max_replicas (0 means 1); resources within bounds; restart policy known;
//  - edges: kind set; both ends existing services; no self-edge; no duplicate
//    (from, to, kind, port); a TRAFFIC edge names a container port of `to_service`, a
//    START_ORDER edge has port 0;
//  - start order (START_ORDER and TRAFFIC edges, which imply it) is acyclic; a cycle is
//    reported by name: "start-order cycle: api -> worker -> api".
Status validate_graph(const google::protobuf::RepeatedPtrField<axion::v1::Service>& services,
                      const google::protobuf::RepeatedPtrField<axion::v1::Edge>& edges,
                      const GraphLimits& limits = {});

// The graph of a publish command, plus its commit_hash (empty, or 7..64 hex digits).
Status validate_graph(const axion::v1::PublishGraph& command, const GraphLimits& limits = {});

// An already assembled GraphVersion (services and edges only; numbering is the aggregate's).
Status validate_graph(const axion::v1::GraphVersion& graph, const GraphLimits& limits = {});

namespace detail {
// Per-service checks, in commands/service_validation.cc; `index` builds the field path.
Status validate_service(const axion::v1::Service& service, int index, const GraphLimits& limits);
// Image reference syntax; empty string when fine, else the reason.
std::string image_reference_problem(const std::string& image, std::size_t max_bytes);
}  // namespace detail

}  // namespace axion::commands
