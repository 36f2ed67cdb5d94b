#include "agent/instance_env.h"

#include <cctype>
#include <map>

namespace axion::agent {

std::string port_variable(const std::string& port_name) {
  std::string out = "PORT_";
  for (char c : port_name) {
    out += std::isalnum(static_cast<unsigned char>(c))
               ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
               : '_';
  }
  return out;
}

std::string service_path(const axion::v1::ProcessSpec& spec, const std::string& agent_path) {
  const auto it = spec.env().find("PATH");
  if (it != spec.env().end()) return it->second;
  return agent_path.empty() ? "/usr/local/bin:/usr/bin:/bin" : agent_path;
}

std::vector<std::string> build_environment(const axion::v1::ProcessSpec& spec,
                                           const std::vector<PortBinding>& ports,
                                           const std::string& agent_path) {
  std::map<std::string, std::string> vars;
  vars["PATH"] = service_path(spec, agent_path);
  for (const auto& [name, value] : spec.env()) vars[name] = value;
  vars["AXION_INSTANCE_ID"] = spec.instance_id();
  vars["AXION_SERVICE"] = spec.service();
  if (!ports.empty()) vars["PORT"] = std::to_string(ports.front().host_port);
  for (const auto& p : ports) {
    if (!p.name.empty()) vars[port_variable(p.name)] = std::to_string(p.host_port);
  }
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [name, value] : vars) out.push_back(name + "=" + value);
  return out;
}

}  // namespace axion::agent
