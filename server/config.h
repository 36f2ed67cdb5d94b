// ServerConfig: everything axion-server reads from its environment, parsed and checked once at
// start-up so a bad value is a clear error before anything starts (README lists the variables).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "infra/grpc/api_tokens.h"

namespace axion::server {

struct ServerConfig {
  // AXION_DATA_DIR: the embedded log (<dir>/log; a pre-existing log directly in <dir> is used
  // where it is) and the command processor's snapshots (<dir>/snapshots/<instance_id>).
  std::string data_dir = "./axion-data";
  std::string kafka_brokers;                // KAFKA_BROKERS: set => the log is on Kafka
  // DATABASE_URL: set => the views are in PostgreSQL (schema AXION_VIEWS_SCHEMA), shared by
  // every server using it; unset => in RocksDB under <data dir>/views/<instance id>.
  std::string database_url;
  std::string views_schema = "axion_views";
  std::chrono::milliseconds kafka_timeout{10000};  // AXION_KAFKA_TIMEOUT_MS
  std::string http_addr = "127.0.0.1:8080";  // AXION_HTTP_ADDR
  std::string grpc_addr = "127.0.0.1:50051";  // AXION_GRPC_ADDR
  int topic_partitions = 8;                  // AXION_TOPIC_PARTITIONS (new topics only)
  std::size_t max_record_bytes = 1000 * 1000;  // AXION_MAX_RECORD_BYTES
  std::string instance_id;                   // AXION_INSTANCE_ID (transactional ids), default hostname
  // AXION_API_TOKENS="actor=token,...": only the tokens' SHA-256 digests are kept.
  std::vector<infra::gateway::ApiToken> api_tokens;
  int max_deployments_per_project = 100;     // MAX_DEPLOYMENTS_PER_PROJECT
  int max_servers_per_user = 100;            // MAX_SERVERS_PER_USER
  // AXION_SNAPSHOT_EVERY: records folded or appended per partition between two aggregate
  // snapshots; 0 turns snapshots off (partitions are then folded from offset 0 at every load).
  std::uint64_t snapshot_every = 10000;
  int idempotency_ttl_hours = 24;            // AXION_IDEMPOTENCY_TTL_HOURS
  int task_result_ttl_hours = 24;            // AXION_TASK_RESULT_TTL_HOURS
  // The agent hub: a stream without heartbeats for agent_offline_after is closed and its agent
  // recorded OFFLINE (AXION_AGENT_OFFLINE_AFTER_MS); agents are told to send heartbeats every
  // agent_heartbeat (AXION_AGENT_HEARTBEAT_MS, default a third of the timeout).
  std::chrono::milliseconds agent_offline_after{15000};
  std::chrono::milliseconds agent_heartbeat{5000};
  // The deployment saga: how long one step (or a deployment's restore after a failure or
  // cancel) may take when the deployment sets no progress_deadline
  // (AXION_PROGRESS_DEADLINE_MS, default 10 minutes).
  std::chrono::milliseconds progress_deadline{600000};
  // AXION_RUN_SAGAS=0: this server does not run the deployment saga (another one must: on Kafka
  // the saga's consumer group spreads the projects over the servers that run it).
  bool run_sagas = true;
  // AXION_AGENT_ADDR: an extra listener for agents (AgentService is also on AXION_GRPC_ADDR).
  // TLS with AXION_AGENT_TLS_CERT + AXION_AGENT_TLS_KEY (PEM files); without them it must be a
  // loopback address.
  std::string agent_addr;
  std::string agent_tls_cert;
  std::string agent_tls_key;

  // Agent installs over SSH (server/agent_installer.h). AXION_AGENT_BINARY: the axion-agent
  // uploaded (default: the one beside axion-server). AXION_AGENT_PUBLIC_ADDR: host:port installed
  // agents dial (default AXION_AGENT_ADDR, else AXION_GRPC_ADDR). AXION_AGENT_INSTALL_TIMEOUT_MS:
  // how long an install waits for its agent to register.
  std::string agent_binary;
  std::string agent_public_addr;
  std::chrono::milliseconds agent_install_timeout{120000};

  // AXION_MASTER_KEY (required): "<key id>=<base64 of 32 bytes>[,...]" — SSH credentials are
  // sealed with the first key, opened with any (infra/crypto/secret_sealer.h).
  std::string master_key;

  bool embedded() const { return kafka_brokers.empty(); }
  std::string log_dir() const;       // the embedded log's directory
  std::string snapshot_dir() const;  // this instance's snapshot store
  std::string views_dir() const;     // this instance's embedded views (without DATABASE_URL)
};

// INVALID_ARGUMENT naming the variable and the expected form on a bad value.
Result<ServerConfig> server_config_from_env();

}  // namespace axion::server
