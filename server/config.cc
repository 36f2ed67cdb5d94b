#include "server/config.h"

#include <unistd.h>

#include <cstdlib>

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

}  // namespace

Result<ServerConfig> server_config_from_env() {
  ServerConfig c;
  if (const char* v = env("AXION_DATA_DIR")) c.data_dir = v;
  if (const char* v = env("KAFKA_BROKERS")) c.kafka_brokers = v;
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
  if (const char* v = env("AXION_INSTANCE_ID")) {
    c.instance_id = v;
  } else {
    char host[256] = {};
    gethostname(host, sizeof host - 1);
    c.instance_id = host[0] ? host : "axion-server";
  }
  return c;
}

}  // namespace axion::server
