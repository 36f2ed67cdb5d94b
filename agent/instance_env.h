// The environment a service process starts with (pure): PATH (the spec's, else the agent's),
// the spec's variables, then what the agent sets — AXION_INSTANCE_ID, AXION_SERVICE, PORT for the
// first port and PORT_<NAME> for each named port — which win over the spec's. Nothing else of the
// agent's environment leaks into the service.
#pragma once

#include <string>
#include <vector>

#include "agent/instance_record.h"
#include "axion/v1/agent.pb.h"

namespace axion::agent {

// "http" -> "PORT_HTTP", "admin-api" -> "PORT_ADMIN_API".
std::string port_variable(const std::string& port_name);

// "NAME=value" entries, sorted by name, one per name.
std::vector<std::string> build_environment(const axion::v1::ProcessSpec& spec,
                                           const std::vector<PortBinding>& ports,
                                           const std::string& agent_path);

// The PATH the service sees (the spec's, else the agent's, else a default).
std::string service_path(const axion::v1::ProcessSpec& spec, const std::string& agent_path);

}  // namespace axion::agent
