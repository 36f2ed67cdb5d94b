// The compose project the compose tests deploy: `api` and `web` from the local test image
// axion-test/web:1 (scripts/docker-engine: busybox httpd serving $VERSION, with a health check),
// web published on 127.0.0.1:<port> and started once api is healthy.
#pragma once

#include <sstream>
#include <string>

#include "agent/command.h"

namespace axion::testing {

inline std::string two_service_compose(int port, const std::string& version) {
  return "version: \"2.4\"\nservices:\n"
         "  api:\n    image: axion-test/web:1\n    environment:\n      VERSION: api-" +
         version +
         "\n  web:\n    image: axion-test/web:1\n    environment:\n      VERSION: " + version +
         "\n    ports:\n      - \"127.0.0.1:" + std::to_string(port) +
         ":8080\"\n    depends_on:\n      api:\n        condition: service_healthy\n";
}

// Removes a compose project's containers and networks by its label (tests clean up after
// themselves; the agent leaves what it runs).
inline void remove_compose_project(const std::string& project) {
  agent::CommandSpec list;
  list.argv = {"docker", "ps", "-aq", "--filter", "label=com.docker.compose.project=" + project};
  list.timeout = std::chrono::seconds(30);
  const auto listed = agent::run_command(list);
  agent::CommandSpec remove;
  remove.argv = {"docker", "rm", "-f"};
  std::istringstream ids(listed.out);
  for (std::string id; ids >> id;) remove.argv.push_back(id);
  remove.timeout = std::chrono::seconds(60);
  if (remove.argv.size() > 3) agent::run_command(remove);
  agent::CommandSpec network;
  network.argv = {"docker", "network", "prune", "-f", "--filter",
                  "label=com.docker.compose.project=" + project};
  network.timeout = std::chrono::seconds(30);
  agent::run_command(network);
}

}  // namespace axion::testing
