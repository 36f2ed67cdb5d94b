// ServerApp's agent installer (server/agent_installer.h): its options from the configuration,
// and the internal commands it records submitted through the command bus as "system".
#include <fstream>
#include <sstream>

#include "commands/command_bus.h"
#include "infra/grpc/command_gateway.h"
#include "server/server_app.h"

namespace axion::server {

namespace {

// How long one recorded step may wait for its result.
constexpr std::chrono::milliseconds kInstallerCommandWait{30000};

}  // namespace

Status ServerApp::start_installer() {
  AgentInstallerOptions options;
  options.binary_path = config_.agent_binary;
  options.agent_server_addr = config_.agent_public_addr;
  options.registration_timeout = config_.agent_install_timeout;
  if (!config_.agent_tls_cert.empty()) {
    std::ifstream in(config_.agent_tls_cert);
    std::ostringstream pem;
    pem << in.rdbuf();
    options.tls_ca_pem = pem.str();  // installed agents trust the listener's certificate
  }
  options.submit = [this](const std::string& cluster_id, const std::string& key,
                          const google::protobuf::Message& payload) {
    auto envelope =
        infra::gateway::system_cluster_command(cluster_id, key, payload, kInstallerCommandWait);
    return commands::refusal_as_status(bus_->submit(std::move(envelope), kInstallerCommandWait));
  };
  installer_ = std::make_unique<AgentInstaller>(*log_, *sealer_, std::move(options));
  return installer_->start();
}

}  // namespace axion::server
