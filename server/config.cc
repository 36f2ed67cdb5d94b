#include "server/config.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string_view>

#include "infra/crypto/secret_sealer.h"

namespace axion::server {

namespace {

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : nullptr;
}

Result<long long> env_int(const char* name, long long fallback, long long min, long long max) {
  const char* v = env(name);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v, &end, 10);
  if (errno != 0 || *end != '\0' || n < min || n > max) {
    return invalid_argument(std::string(name) + "='" + v + "' must be an integer in " +
                            std::to_string(min) + ".." + std::to_string(max));
  }
  return n;
}

bool actor_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == ':' || c == '@' || c == '-';
}

// "actor1=token1,actor2=token2". Messages name the variable and the entry's position and actor,
// never the token.
Result<std::vector<infra::gateway::ApiToken>> parse_api_tokens(std::string_view spec) {
  constexpr std::string_view kVar = "AXION_API_TOKENS";
  constexpr std::size_t kMinToken = 16, kMaxToken = 4096;
  std::vector<infra::gateway::ApiToken> out;
  std::set<std::string> actors;
  std::set<infra::gateway::TokenDigest> digests;
  std::size_t index = 0;
  while (true) {
    const std::size_t comma = spec.find(',');
    const std::string_view entry = spec.substr(0, comma);
    ++index;
    const auto bad = [&](const std::string& why) {
      return invalid_argument(std::string(kVar) + " entry " + std::to_string(index) + " " + why +
                              ": use actor1=token1,actor2=token2");
    };
    const std::size_t eq = entry.find('=');
    if (eq == std::string_view::npos) return bad("has no '=' between actor and token");
    const std::string actor(entry.substr(0, eq));
    const std::string_view token = entry.substr(eq + 1);
    bool actor_ok = !actor.empty() && actor.size() <= 128 && actor.front() != '-';
    for (char c : actor) actor_ok = actor_ok && actor_char(c);
    if (!actor_ok) {
      return bad("has an invalid actor (1..128 of letters, digits, '.', '_', ':', '@', '-')");
    }
    bool token_ok = token.size() >= kMinToken && token.size() <= kMaxToken;
    for (char c : token) token_ok = token_ok && c > 0x20 && c < 0x7f;
    if (!token_ok) {
      return bad("(actor '" + actor + "') has an invalid token: use 16..4096 printable "
                 "characters without spaces");
    }
    if (!actors.insert(actor).second) return bad("repeats actor '" + actor + "'");
    auto digest = infra::gateway::token_digest(token);
    if (!digests.insert(digest).second) {
      return bad("(actor '" + actor + "') repeats another entry's token");
    }
    out.push_back({actor, digest});
    if (comma == std::string_view::npos) break;
    spec.remove_prefix(comma + 1);
  }
  return out;
}

}  // namespace

Result<ServerConfig> server_config_from_env() {
  ServerConfig c;
  if (const char* v = env("AXION_DATA_DIR")) c.data_dir = v;
  if (const char* v = env("KAFKA_BROKERS")) c.kafka_brokers = v;
  if (const char* v = env("DATABASE_URL")) c.database_url = v;
  if (const char* v = env("AXION_VIEWS_SCHEMA")) c.views_schema = v;
  if (const char* v = env("AXION_HTTP_ADDR")) c.http_addr = v;
  if (const char* v = env("AXION_GRPC_ADDR")) c.grpc_addr = v;
  auto timeout = env_int("AXION_KAFKA_TIMEOUT_MS", 10000, 100, 600000);
  if (!timeout.ok()) return timeout.status();
  c.kafka_timeout = std::chrono::milliseconds(*timeout);
  auto partitions = env_int("AXION_TOPIC_PARTITIONS", 8, 1, 10000);
  if (!partitions.ok()) return partitions.status();
  c.topic_partitions = static_cast<int>(*partitions);
  auto max_record = env_int("AXION_MAX_RECORD_BYTES", 1000 * 1000, 1024, 100 * 1000 * 1000);
  if (!max_record.ok()) return max_record.status();
  c.max_record_bytes = static_cast<std::size_t>(*max_record);
  if (const char* v = env("AXION_API_TOKENS")) {
    auto tokens = parse_api_tokens(v);
    if (!tokens.ok()) return tokens.status();
    c.api_tokens = std::move(tokens).value();
  }
  auto max_deployments = env_int("MAX_DEPLOYMENTS_PER_PROJECT", 100, 1, 1000000);
  if (!max_deployments.ok()) return max_deployments.status();
  c.max_deployments_per_project = static_cast<int>(*max_deployments);
  auto max_servers = env_int("MAX_SERVERS_PER_USER", 100, 1, 1000000);
  if (!max_servers.ok()) return max_servers.status();
  c.max_servers_per_user = static_cast<int>(*max_servers);
  auto snapshot_every = env_int("AXION_SNAPSHOT_EVERY", 10000, 0, 100000000);
  if (!snapshot_every.ok()) return snapshot_every.status();
  c.snapshot_every = static_cast<std::uint64_t>(*snapshot_every);
  auto ttl = env_int("AXION_IDEMPOTENCY_TTL_HOURS", 24, 1, 24 * 365);
  if (!ttl.ok()) return ttl.status();
  c.idempotency_ttl_hours = static_cast<int>(*ttl);
  auto task_ttl = env_int("AXION_TASK_RESULT_TTL_HOURS", 24, 1, 24 * 365);
  if (!task_ttl.ok()) return task_ttl.status();
  c.task_result_ttl_hours = static_cast<int>(*task_ttl);
  auto offline_after = env_int("AXION_AGENT_OFFLINE_AFTER_MS", 15000, 100, 3600 * 1000);
  if (!offline_after.ok()) return offline_after.status();
  c.agent_offline_after = std::chrono::milliseconds(*offline_after);
  auto heartbeat = env_int("AXION_AGENT_HEARTBEAT_MS", *offline_after / 3, 10, *offline_after - 1);
  if (!heartbeat.ok()) {
    return invalid_argument(heartbeat.status().message() +
                            " (heartbeats must come more often than AXION_AGENT_OFFLINE_AFTER_MS)");
  }
  c.agent_heartbeat = std::chrono::milliseconds(*heartbeat);
  auto progress = env_int("AXION_PROGRESS_DEADLINE_MS", 600000, 1000, 24 * 3600 * 1000);
  if (!progress.ok()) return progress.status();
  c.progress_deadline = std::chrono::milliseconds(*progress);
  auto run_sagas = env_int("AXION_RUN_SAGAS", 1, 0, 1);
  if (!run_sagas.ok()) return run_sagas.status();
  c.run_sagas = *run_sagas == 1;
  if (const char* v = env("AXION_AGENT_ADDR")) c.agent_addr = v;
  if (const char* v = env("AXION_AGENT_TLS_CERT")) c.agent_tls_cert = v;
  if (const char* v = env("AXION_AGENT_TLS_KEY")) c.agent_tls_key = v;
  if (c.agent_tls_cert.empty() != c.agent_tls_key.empty()) {
    return invalid_argument("AXION_AGENT_TLS_CERT and AXION_AGENT_TLS_KEY go together: set both "
                            "(PEM certificate chain and private key) or neither");
  }
  if (!c.agent_tls_cert.empty() && c.agent_addr.empty()) {
    return invalid_argument("AXION_AGENT_TLS_CERT is set but AXION_AGENT_ADDR is not: set the "
                            "address of the TLS listener for agents, e.g. 0.0.0.0:50052");
  }
  if (!c.agent_addr.empty() && c.agent_tls_cert.empty() &&
      c.agent_addr.rfind("127.", 0) != 0 && c.agent_addr.rfind("localhost:", 0) != 0 &&
      c.agent_addr.rfind("[::1]:", 0) != 0) {
    return invalid_argument("AXION_AGENT_ADDR='" + c.agent_addr +
                            "' is not a loopback address: agent credentials cross it, so set "
                            "AXION_AGENT_TLS_CERT and AXION_AGENT_TLS_KEY for TLS");
  }
  if (const char* v = env("AXION_AGENT_BINARY")) {
    c.agent_binary = v;
  } else {
    std::error_code ec;
    const auto self = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
    c.agent_binary = (self / "axion-agent").string();
    // In the build tree the agent is in a sibling directory.
    if (!std::filesystem::exists(c.agent_binary, ec) &&
        std::filesystem::exists(self / ".." / "agent" / "axion-agent", ec)) {
      c.agent_binary = (self / ".." / "agent" / "axion-agent").lexically_normal().string();
    }
  }
  if (const char* v = env("AXION_AGENT_PUBLIC_ADDR")) {
    c.agent_public_addr = v;
  } else {
    c.agent_public_addr = c.agent_addr.empty() ? c.grpc_addr : c.agent_addr;
  }
  auto install_timeout = env_int("AXION_AGENT_INSTALL_TIMEOUT_MS", 120000, 1000, 3600 * 1000);
  if (!install_timeout.ok()) return install_timeout.status();
  c.agent_install_timeout = std::chrono::milliseconds(*install_timeout);
  if (const char* v = env("AXION_MASTER_KEY"); v && *v) {
    c.master_key = v;
  } else {
    return invalid_argument(
        "AXION_MASTER_KEY is not set: axion-server seals SSH credentials with it. Make one with "
        "echo \"k1=$(head -c 32 /dev/urandom | base64)\", keep it safe (the credentials cannot "
        "be opened without it) and set it for every axion-server");
  }
  if (auto sealer = infra::crypto::SecretSealer::from_spec(c.master_key); !sealer.ok()) {
    return sealer.status();
  }
  if (const char* v = env("AXION_INSTANCE_ID")) {
    c.instance_id = v;
  } else {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    c.instance_id = host[0] ? host : "axion-server";
  }
  // It names the transactional id and the snapshot directory: a plain name only.
  const bool plain = !c.instance_id.empty() && c.instance_id.size() <= 64 &&
                     c.instance_id != "." && c.instance_id != ".." &&
                     std::all_of(c.instance_id.begin(), c.instance_id.end(), [](char ch) {
                       return std::isalnum(static_cast<unsigned char>(ch)) || ch == '-' ||
                              ch == '_' || ch == '.';
                     });
  if (!plain) {
    return invalid_argument("AXION_INSTANCE_ID must be 1-64 letters, digits, '-', '_' or '.' (got '" +
                            c.instance_id + "')");
  }
  return c;
}

std::string ServerConfig::log_dir() const {
  std::error_code ec;
  // A log created before the data dir had subdirectories sits directly in it.
  if (std::filesystem::exists(std::filesystem::path(data_dir) / "CURRENT", ec)) return data_dir;
  return (std::filesystem::path(data_dir) / "log").string();
}

std::string ServerConfig::views_dir() const {
  return (std::filesystem::path(data_dir) / "views" / instance_id).string();
}

std::string ServerConfig::snapshot_dir() const {
  return (std::filesystem::path(data_dir) / "snapshots" / instance_id).string();
}

}  // namespace axion::server
