// The SSH side of InfrastructureService (infra/grpc/infrastructure_service.h): credentials sealed
// before anything is queued, and TestServerConnection — the gateway opens the server's sealed
// credential, connects (checking the pinned host key), probes the host, records the report with
// the TestServerConnection command (and pins the host key on first use when asked) and answers
// the report. Secrets live in memory only for the test and are wiped after it.
#include <openssl/crypto.h>
#include <spdlog/spdlog.h>

#include <thread>

#include "infra/grpc/infrastructure_service.h"
#include "infra/ssh/server_probe.h"
#include "infra/ssh/ssh_argv.h"

namespace axion::infra::gateway {

namespace v1 = axion::v1;

namespace {

constexpr std::size_t kMaxPassword = 1024;
constexpr std::size_t kMaxPrivateKey = 16 * 1024;

// Wipes a secret's bytes before the string lets them go.
void wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace

std::string ssh_credential_binding(const std::string& server_id) {
  return "axion/ssh-credential/v1/" + server_id;
}

Result<std::pair<v1::SshAuthKind, v1::SealedSecret>> seal_ssh_credential(
    const crypto::SecretSealer* sealer, const v1::SshCredential& credential,
    const std::string& server_id) {
  if (!sealer) {
    return failed_precondition("this server cannot seal credentials (no AXION_MASTER_KEY)");
  }
  v1::SshAuthKind kind = v1::SSH_AUTH_KIND_UNSPECIFIED;
  switch (credential.secret_case()) {
    case v1::SshCredential::kPassword:
      if (credential.password().empty() || credential.password().size() > kMaxPassword)
        return invalid_field("credential.password", "the password must be 1..1024 bytes");
      kind = v1::SSH_AUTH_KIND_PASSWORD;
      break;
    case v1::SshCredential::kPrivateKey:
      if (credential.private_key().find("PRIVATE KEY-----") == std::string::npos ||
          credential.private_key().size() > kMaxPrivateKey)
        return invalid_field("credential.private_key",
                             "the private key must be an OpenSSH or PEM private key (the text "
                             "between and including its BEGIN and END lines), at most 16 KiB");
      kind = v1::SSH_AUTH_KIND_PRIVATE_KEY;
      break;
    default:
      return invalid_field("credential", "set credential.password or credential.private_key");
  }
  std::string plain = credential.SerializeAsString();
  auto sealed = sealer->seal(plain, ssh_credential_binding(server_id));
  wipe(plain);
  if (!sealed.ok()) return sealed.status();
  return std::make_pair(kind, std::move(sealed).value());
}

Result<ssh::SshAuth> open_ssh_auth(const crypto::SecretSealer& sealer,
                                   const v1::SealedSecret& sealed, const std::string& server_id,
                                   const std::string& server_name) {
  auto opened = sealer.open(sealed, ssh_credential_binding(server_id));
  if (!opened.ok()) {
    return Status(StatusCode::kFailedPrecondition, "cannot open server " + server_name +
                                                       "'s SSH credential: " +
                                                       opened.status().message());
  }
  v1::SshCredential credential;
  const bool parsed = credential.ParseFromString(*opened);
  wipe(*opened);
  ssh::SshAuth auth;
  if (credential.secret_case() == v1::SshCredential::kPrivateKey) {
    auth.kind = ssh::SshAuth::Kind::kPrivateKey;
    auth.private_key = credential.private_key();
    auth.passphrase = credential.passphrase();
  } else {
    auth.password = credential.password();
  }
  credential.Clear();
  if (!parsed) {
    wipe_ssh_auth(auth);
    return data_loss("server " + server_name + "'s sealed credential is not readable");
  }
  return auth;
}

void wipe_ssh_auth(ssh::SshAuth& auth) {
  wipe(auth.password);
  wipe(auth.private_key);
  wipe(auth.passphrase);
}

InfrastructureServiceImpl::~InfrastructureServiceImpl() {
  std::unique_lock lock(tests_mu_);
  tests_done_.wait(lock, [&] { return tests_running_ == 0; });
}

::grpc::ServerUnaryReactor* InfrastructureServiceImpl::TestServerConnection(
    ::grpc::CallbackServerContext* context, const v1::TestServerConnectionRequest* request,
    v1::TestServerConnectionResponse* response) {
  CommandCall rpc;
  auto call = gateway_.begin(context, request->idempotency_key());
  if (!call.ok()) return rpc.finish(call.status());
  if (auto s = require_id("cluster_id", request->cluster_id()); !s.ok()) return rpc.finish(s);
  if (auto s = require_id("server_id", request->server_id()); !s.ok()) return rpc.finish(s);
  if (!queries_) return rpc.finish(unavailable("this server does not serve queries"));
  if (!sealer_) return rpc.finish(failed_precondition("this server has no AXION_MASTER_KEY"));
  {
    std::lock_guard lock(tests_mu_);
    if (tests_running_ >= kMaxConcurrentSshTests) {
      return rpc.finish(Status(StatusCode::kResourceExhausted,
                               std::to_string(kMaxConcurrentSshTests) +
                                   " connection tests are running; try again shortly",
                               true));
    }
    ++tests_running_;
  }
  // SSH blocks for seconds: the test runs on a thread of its own and answers from there.
  std::thread([this, rpc, call = *call, req = *request, response] {
    run_connection_test(rpc, call, req, response);
    std::lock_guard lock(tests_mu_);
    --tests_running_;
    tests_done_.notify_all();
  }).detach();
  return rpc.reactor();
}

void InfrastructureServiceImpl::run_connection_test(CommandCall rpc, Call call,
                                                    v1::TestServerConnectionRequest request,
                                                    v1::TestServerConnectionResponse* response) {
  // The server as of the caller's positions (e.g. right after CreateServer).
  if (Status waited = queries_->wait_for(request.min_positions(), call.deadline); !waited.ok()) {
    rpc.finish(waited);
    return;
  }
  auto server = queries_->queries().server_with_credential(request.server_id());
  if (!server.ok()) {
    rpc.finish(server.status());
    return;
  }
  if (server->cluster_id() != request.cluster_id()) {
    rpc.finish(
        not_found("server " + request.server_id() + " is not in cluster " + request.cluster_id()));
    return;
  }
  if (server->auth_kind() == v1::SSH_AUTH_KIND_UNSPECIFIED || !server->has_credential()) {
    rpc.finish(failed_precondition(
        "server " + server->name() +
        " has no SSH credential: set one with ConfigureServer, or install the agent by hand "
        "with a registration token (CreateAgentRegistrationToken)"));
    return;
  }
  auto opened = open_ssh_auth(*sealer_, server->credential(), server->server_id(), server->name());
  if (!opened.ok()) {
    rpc.finish(opened.status());
    return;
  }
  ssh::SshAuth auth = std::move(opened).value();
  ssh::SshOptions options;
  options.connect_timeout = kSshConnectTimeout;
  options.io_timeout = kSshIoTimeout;
  const ssh::SshTarget target{server->host(),
                              static_cast<std::uint16_t>(server->port() ? server->port() : 22),
                              server->ssh_user()};
  bool key_refused = false;
  v1::ServerReport report =
      ssh::probe_server(target, auth, server->host_key_fingerprint(), options, &key_refused);
  wipe_ssh_auth(auth);
  spdlog::info("connection test of server {} ({}): reachable={} authenticated={} key={}",
               server->server_id(), target.where(), report.reachable(), report.authenticated(),
               report.host_key_fingerprint());
  if (key_refused) {
    // Nothing is recorded for an impostor: the pinned key stays, the caller learns why.
    rpc.finish(failed_precondition(report.errors_size() ? report.errors(0) : "host key changed"));
    return;
  }
  v1::TestServerConnection command;
  command.set_server_id(server->server_id());
  command.set_pin_host_key(request.pin_host_key());
  *command.mutable_report() = report;
  rpc.submit(gateway_, call, {"cluster", server->cluster_id()}, command,
             [response, report](const v1::CommandResult& result) {
               *response->mutable_report() = report;
               copy_positions(result, response->mutable_positions());
             });
}

}  // namespace axion::infra::gateway
