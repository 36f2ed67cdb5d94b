// What the compose runtime knows about the Docker command line: probing the engine and the
// compose command (`docker compose` v2, else Debian's `docker-compose` v1), running them by argv
// with the runtime's environment (e.g. DOCKER_HOST), and reading a compose project's containers
// (`docker ps` by the com.docker.compose.project label, then `docker inspect`). The parsing and
// the health verdict are pure functions, so they are tested without an engine.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/command.h"
#include "common/status.h"

namespace axion::agent {

// One container of a compose project, as `docker inspect` reports it.
struct ContainerState {
  std::string id;
  std::string name;     // without the leading '/'
  std::string project;  // label com.docker.compose.project
  std::string service;  // label com.docker.compose.service
  std::string status;   // created, running, restarting, paused, removing, exited, dead
  std::string health;   // "" (no health check), starting, healthy, unhealthy
  int exit_code = 0;
  unsigned restart_count = 0;
  std::string started_at;  // RFC 3339, as Docker prints it
};

// The --format template whose output parse_container_states reads: one line per container,
// fields separated by tabs (no field can hold one: ids, names, labels of compose and states).
std::string container_state_format();
// Lines that do not have every field are skipped.
std::vector<ContainerState> parse_container_states(std::string_view inspect_output);

enum class ProjectHealth {
  kPending,  // still starting (or no container yet)
  kHealthy,  // every container runs and passes its health check, if it has one
  kFailed,   // a container is unhealthy, exited, dead or restarting (crashed)
};
ProjectHealth assess(const std::vector<ContainerState>& containers);
// "api: running healthy; web: exited (1)", sorted by service then name; "no containers" if none.
std::string describe_states(const std::vector<ContainerState>& containers);

class DockerCli {
 public:
  // `env`: set on top of the agent's environment for every command (e.g. DOCKER_HOST).
  explicit DockerCli(std::map<std::string, std::string> env) : env_(std::move(env)) {}

  struct Probe {
    bool engine = false;               // `docker info` answered
    std::vector<std::string> compose;  // argv prefix of the compose command; empty if none
    std::string problem;               // why it cannot be used; empty when it can
  };
  // Blocks for up to about 3 x `timeout`.
  Probe probe(std::chrono::milliseconds timeout) const;

  CommandResult run(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                    const std::atomic<bool>* cancel = nullptr,
                    const std::string& workdir = {}) const;

  // Containers labelled with `project` (every compose container if empty), stopped ones too.
  // UNAVAILABLE with the command's error if docker does not answer.
  Result<std::vector<ContainerState>> containers(const std::string& project,
                                                 std::chrono::milliseconds timeout) const;

 private:
  std::map<std::string, std::string> env_;
};

// The last non-empty line of a command's stderr (else stdout), for one-line details.
std::string last_line(const CommandResult& result);

}  // namespace axion::agent
