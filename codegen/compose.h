// docker-compose.yml from a graph version (compose file format 2.4, which docker-compose v1.29
// and `docker compose` v2 both read, and which keeps depends_on conditions and per-container
// resources outside swarm mode).
//
// - Services in name order; image, or build (context, dockerfile, args, target) plus the image
//   tag the build produces; entrypoint/command from the graph's command/args (exec form).
// - Edges become networks: a network `to-<service>` for every service that receives TRAFFIC
//   edges, joined by it and the services that call it, so a service reaches only what its edges
//   allow; a service without traffic edges gets its own `solo-<service>` network (the compose
//   default network would join everything). START_ORDER and TRAFFIC edges become depends_on,
//   with condition service_healthy when the dependency has a health check.
// - Health checks run inside the container without a shell: exec argv as is; HTTP as
//   `wget -q -O /dev/null http://127.0.0.1:<port><path>` and TCP as `nc -z 127.0.0.1 <port>`
//   (busybox, Alpine and Debian images carry both; otherwise use an exec check).
// - Resources are reservations: mem_reservation and cpu_shares (1024 a core).
// - Secrets never appear: an env-var secret is listed by name only, so compose takes its value
//   from the environment the agent runs docker-compose with; file secrets are refused.
// - Every string that comes from the graph is emitted double-quoted by yaml-cpp, and `$` is
//   doubled, because compose interpolates `$VAR` in every value: nothing a user writes can add
//   YAML structure or pull in the agent's environment.
#pragma once

#include <string>

#include "axion/v1/project.pb.h"
#include "codegen/artifacts.h"
#include "common/status.h"

namespace axion::codegen {

struct ComposeOptions {
  // Prefix of the images built from build specs: "<prefix>/<service>:<graph hash, 12 chars>".
  std::string build_image_prefix = "axion.local";
  // Value of the io.axion.project label on every container; empty = the graph's project id.
  std::string project_label;
};

// The tag of the image a build spec of `service` produces for `graph`.
std::string build_image_tag(const axion::v1::GraphVersion& graph, const std::string& service,
                            const std::string& prefix);

// docker-compose.yml for the graph, or INVALID_ARGUMENT naming the service and field that
// compose cannot express (a file secret, several replicas on one fixed host port, a named
// volume compose would not accept, text that is not UTF-8 or holds NUL, DEL or noncharacters).
Result<Artifact> generate_compose(const axion::v1::GraphVersion& graph,
                                  const ComposeOptions& options = {});

}  // namespace axion::codegen
