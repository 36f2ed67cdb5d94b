// ServerApp's agent installer (server/agent_installer.h): its options from the configuration,
// and the internal commands it records submitted through the command bus as "system".
#include <google/protobuf/util/time_util.h>

#include <fstream>
#include <sstream>

#include "commands/command_bus.h"
#include "infra/grpc/command_gateway.h"
#include "server/server_app.h"

namespace axion::server {

namespace {

namespace v1 = axion::v1;
using google::protobuf::util::TimeUtil;

// How long one recorded step may wait for its result.
constexpr std::int64_t kInstallerCommandMs = 30000;

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
    const auto now = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    v1::CommandEnvelope envelope;
    envelope.set_command_id(infra::gateway::new_uuid());
    envelope.set_idempotency_key(key);
    envelope.set_type(payload.GetDescriptor()->full_name());
    envelope.set_aggregate_id(cluster_id);
    envelope.set_aggregate_type("cluster");
    envelope.set_partition_key(cluster_id);
    envelope.set_actor("system");
    envelope.set_correlation_id(envelope.command_id());
    *envelope.mutable_issued_at() = TimeUtil::MillisecondsToTimestamp(now);
    *envelope.mutable_deadline() = TimeUtil::MillisecondsToTimestamp(now + kInstallerCommandMs);
    envelope.mutable_payload()->PackFrom(payload);
    return commands::refusal_as_status(
        bus_->submit(std::move(envelope), std::chrono::milliseconds(kInstallerCommandMs)));
  };
  installer_ = std::make_unique<AgentInstaller>(*log_, *sealer_, std::move(options));
  return installer_->start();
}

}  // namespace axion::server
