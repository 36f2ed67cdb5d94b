// Server commands of the Cluster aggregate: CreateServer and ConfigureServer. Both check the
// SSH settings strictly (validators.h), keep host:port and names unique within the cluster, and
// accept only a credential the gateway has sealed — never plaintext.
#include <set>

#include "commands/cluster_aggregate.h"
#include "commands/cluster_internal.h"
#include "commands/validators.h"

namespace axion::commands {

namespace v1 = axion::v1;
using namespace cluster_detail;

namespace {

constexpr std::size_t kAeadTag = 16;
constexpr std::size_t kMaxCiphertext = 64 * 1024;  // a sealed private key is a few KiB

// True if the bytes read like a plaintext credential rather than AEAD output. Ciphertext is
// indistinguishable from random bytes: the chance that n >= 17 random bytes are all printable
// ASCII is (98/256)^n, below 1e-7 for the shortest possible ciphertext and below 1e-10 for an
// 8-character password — while a pasted password or PEM key always is.
bool looks_like_plaintext(const std::string& bytes) {
  for (const char* marker : {"-----BEGIN", "PRIVATE KEY", "openssh-key-v1"}) {
    if (bytes.find(marker) != std::string::npos) return true;
  }
  for (unsigned char c : bytes) {
    if ((c < 0x20 || c > 0x7e) && c != '\n' && c != '\r' && c != '\t') return false;
  }
  return true;
}

// The gateway seals SSH passwords and keys (AEAD) before queueing the command; anything that
// does not have that shape is refused. Messages never echo the bytes: they may be a secret.
Status validate_sealed(const v1::SealedSecret& secret) {
  AXION_RETURN_IF_ERROR(refuse_unknown_fields(secret, "credential"));
  if (!is_id(secret.key_id())) {
    return invalid_field("credential.key_id",
                         "credential.key_id is not a key id (1..128 of letters, digits, '.', "
                         "'_', ':' and '-'); the value is not shown in case it is a secret");
  }
  if (secret.nonce().size() < 12 || secret.nonce().size() > 24) {
    return invalid_field("credential.nonce",
                         "credential.nonce is " + std::to_string(secret.nonce().size()) +
                             " bytes; an AEAD nonce is 12..24 bytes — is the credential sealed?");
  }
  const std::size_t n = secret.ciphertext().size();
  if (n <= kAeadTag || n > kMaxCiphertext) {
    return invalid_field("credential.ciphertext",
                         "credential.ciphertext is " + std::to_string(n) +
                             " bytes; sealed credentials are 17.." +
                             std::to_string(kMaxCiphertext) + " bytes (data plus a 16-byte tag)");
  }
  if (looks_like_plaintext(secret.ciphertext())) {
    return invalid_field("credential.ciphertext",
                         "credential.ciphertext looks like a plaintext password or key, not "
                         "sealed data; commands carry only credentials sealed by the gateway");
  }
  return ok_status();
}

Status validate_credential(bool present, const v1::SealedSecret& secret) {
  if (!present) {
    return invalid_field("credential",
                         "credential is required: the SSH password or key, sealed by the gateway");
  }
  return validate_sealed(secret);
}

Status validate_auth_kind(v1::SshAuthKind kind) {
  if (kind == v1::SSH_AUTH_KIND_PASSWORD || kind == v1::SSH_AUTH_KIND_PRIVATE_KEY) {
    return ok_status();
  }
  return invalid_field("auth_kind", "auth_kind must be SSH_AUTH_KIND_PASSWORD or "
                                    "SSH_AUTH_KIND_PRIVATE_KEY");
}

// Host:port and name must be unique within the cluster (`self` is the server being changed).
Status check_unique(const ClusterState& state, std::string_view self, const std::string& name,
                    const std::string& host, std::uint32_t port) {
  const std::string key = canonical_host(host);
  for (const auto& [id, s] : state.servers) {
    if (id == self) continue;
    if (s.port == port && canonical_host(s.host) == key) {
      return already_exists("server " + endpoint(host, port) + " already exists in cluster " +
                            state.cluster_id + " as " + id);
    }
    if (s.name == name) {
      return already_exists("server name " + in_quotes(name) + " is already used in cluster " +
                            state.cluster_id + " by " + id);
    }
  }
  return ok_status();
}

// MAX_SERVERS_PER_USER, counted over this cluster only. The limit is global per user, but one
// aggregate sees one cluster; an exact global count needs either a per-user quota aggregate
// (CreateServer would then span two aggregates, i.e. a saga) or a check by the gateway against
// a "servers by creator" read model (eventually consistent, so two racing requests could both
// pass). Until one of those exists this per-cluster count is the enforced bound.
Status check_server_limit(const ClusterState& state, const CommandContext& ctx) {
  std::size_t owned = 0;
  for (const auto& [id, s] : state.servers) owned += s.created_by == ctx.actor ? 1 : 0;
  const int limit = ctx.limits.max_servers_per_user;
  if (static_cast<long long>(owned) < limit) return ok_status();
  return resource_exhausted(in_quotes(ctx.actor) + " already has " + std::to_string(owned) +
                            " server(s) in cluster " + state.cluster_id +
                            "; MAX_SERVERS_PER_USER is " + std::to_string(limit));
}

}  // namespace

Result<Decision> decide(const ClusterState& state, const v1::CreateServer& cmd,
                        const CommandContext& ctx) {
  AXION_RETURN_IF_ERROR(validate_id("cluster_id", cmd.cluster_id()));
  AXION_RETURN_IF_ERROR(require_cluster(state, cmd.cluster_id()));
  AXION_RETURN_IF_ERROR(refuse_unknown_fields(cmd, "CreateServer"));
  auto id = new_id("server_id", cmd.server_id(), "srv", ctx);
  if (!id.ok()) return id.status();
  AXION_RETURN_IF_ERROR(validate_dns_label("name", "server name", cmd.name()));
  AXION_RETURN_IF_ERROR(validate_host("host", cmd.host()));
  const auto port = effective_ssh_port("port", cmd.port());
  if (!port.ok()) return port.status();
  AXION_RETURN_IF_ERROR(validate_posix_user("ssh_user", cmd.ssh_user()));
  // Without SSH settings (no auth_kind, no credential) the server is reached only through its
  // agent, installed by hand with a registration token (CreateAgentRegistrationToken).
  const bool agent_only = cmd.auth_kind() == v1::SSH_AUTH_KIND_UNSPECIFIED && !cmd.has_credential();
  if (!agent_only) {
    AXION_RETURN_IF_ERROR(validate_auth_kind(cmd.auth_kind()));
    AXION_RETURN_IF_ERROR(validate_credential(cmd.has_credential(), cmd.credential()));
  }
  AXION_RETURN_IF_ERROR(validate_labels("labels", cmd.labels()));
  if (state.kind == v1::CLUSTER_KIND_KUBERNETES) {
    return failed_precondition("cluster " + state.cluster_id +
                               " is a Kubernetes cluster; servers are added to SERVERS clusters");
  }
  if (state.servers.count(*id)) {
    return already_exists("server " + *id + " already exists in cluster " + state.cluster_id);
  }
  AXION_RETURN_IF_ERROR(check_unique(state, *id, cmd.name(), cmd.host(), *port));
  AXION_RETURN_IF_ERROR(check_server_limit(state, ctx));
  v1::ServerCreated ev;
  ev.set_server_id(*id);
  ev.set_cluster_id(state.cluster_id);
  ev.set_name(cmd.name());
  ev.set_host(cmd.host());
  ev.set_port(*port);
  ev.set_ssh_user(cmd.ssh_user());
  ev.set_auth_kind(cmd.auth_kind());
  *ev.mutable_credential() = cmd.credential();
  *ev.mutable_labels() = cmd.labels();
  ev.set_created_by(ctx.actor);
  return emit(ev, {{"server_id", *id}});
}

Result<Decision> decide(const ClusterState& state, const v1::ConfigureServer& cmd,
                        const CommandContext&) {
  auto found = require_server(state, cmd.server_id());
  if (!found.ok()) return found.status();
  const ServerState& s = **found;
  AXION_RETURN_IF_ERROR(refuse_unknown_fields(cmd, "ConfigureServer"));
  static const std::set<std::string> kPaths = {"name",      "host",       "port",  "ssh_user",
                                               "auth_kind", "credential", "labels"};
  std::set<std::string> paths;
  for (const auto& p : cmd.update_mask().paths()) {
    if (!kPaths.count(p)) {
      return invalid_field("update_mask",
                           "update_mask path " + in_quotes(p) +
                               " is unknown: use name, host, port, ssh_user, auth_kind, "
                               "credential or labels");
    }
    paths.insert(p);
  }
  auto applies = [&](const char* p) { return paths.empty() || paths.count(p) > 0; };

  v1::ServerConfigured ev;
  ev.set_server_id(s.server_id);
  ev.set_cluster_id(state.cluster_id);
  ev.set_name(applies("name") ? cmd.name() : s.name);
  ev.set_host(applies("host") ? cmd.host() : s.host);
  ev.set_ssh_user(applies("ssh_user") ? cmd.ssh_user() : s.ssh_user);
  ev.set_auth_kind(applies("auth_kind") ? cmd.auth_kind() : s.auth_kind);
  *ev.mutable_credential() = applies("credential") ? cmd.credential() : s.credential;
  if (applies("labels")) {
    *ev.mutable_labels() = cmd.labels();
  } else {
    copy_labels(s.labels, ev.mutable_labels());
  }
  if (applies("name")) AXION_RETURN_IF_ERROR(validate_dns_label("name", "server name", ev.name()));
  if (applies("host")) AXION_RETURN_IF_ERROR(validate_host("host", ev.host()));
  if (applies("port")) {
    const auto port = effective_ssh_port("port", cmd.port());
    if (!port.ok()) return port.status();
    ev.set_port(*port);
  } else {
    ev.set_port(s.port);
  }
  if (applies("ssh_user")) AXION_RETURN_IF_ERROR(validate_posix_user("ssh_user", ev.ssh_user()));
  if (applies("auth_kind")) AXION_RETURN_IF_ERROR(validate_auth_kind(ev.auth_kind()));
  if (applies("credential")) {
    AXION_RETURN_IF_ERROR(validate_credential(cmd.has_credential(), cmd.credential()));
  }
  if (applies("labels")) AXION_RETURN_IF_ERROR(validate_labels("labels", ev.labels()));

  const bool moved = canonical_host(ev.host()) != canonical_host(s.host) || ev.port() != s.port;
  const bool connection_changed = moved || ev.ssh_user() != s.ssh_user ||
                                  ev.auth_kind() != s.auth_kind ||
                                  !same_message(ev.credential(), s.credential);
  if (!connection_changed && ev.host() == s.host && ev.name() == s.name &&
      to_std_map(ev.labels()) == s.labels) {
    return Decision{};  // nothing changes: no event
  }
  // The install saga connects with these settings; changing them under it would make its
  // steps talk to a different host or as a different user.
  if (connection_changed && s.install.running) {
    return failed_precondition("agent installation " + s.install.install_id +
                               " is running on server " + describe(s) +
                               "; change its connection settings once it has finished");
  }
  AXION_RETURN_IF_ERROR(check_unique(state, s.server_id, ev.name(), ev.host(), ev.port()));
  // A pinned key belongs to the old address; keeping it would refuse (or worse, trust) the
  // wrong host. It is pinned again on the next connection test.
  ev.set_host_key_reset(moved && !s.host_key_fingerprint.empty());
  return emit(ev);
}

}  // namespace axion::commands
