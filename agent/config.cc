#include "agent/config.h"

#include <CLI/CLI.hpp>
#include <cstdio>

namespace axion::agent {

Result<AgentConfig> agent_config(int argc, char** argv, std::string* help) {
  AgentConfig c;
  CLI::App app{"axion-agent: runs on a target server, registers with axion-server, reports "
               "heartbeats and runs deployment tasks"};
  app.add_option("--server", c.server_addr, "axion-server address, host:port")
      ->envname("AXION_AGENT_SERVER")
      ->required();
  app.add_option("--server-id", c.server_id, "id of the server this agent runs on")
      ->envname("AXION_AGENT_SERVER_ID")
      ->required();
  app.add_option("--token-file", c.token_file,
                 "file holding the one-time registration token (needed until registered)")
      ->envname("AXION_AGENT_TOKEN_FILE");
  app.add_option("--state-dir", c.state_dir, "where the agent keeps its id and credential")
      ->envname("AXION_AGENT_STATE_DIR")
      ->capture_default_str();
  app.add_option("--tls-ca", c.tls_ca, "PEM CA certificate(s) to trust: connect with TLS")
      ->envname("AXION_AGENT_TLS_CA");
  long long backoff_min = c.backoff_min.count(), backoff_max = c.backoff_max.count();
  app.add_option("--backoff-min-ms", backoff_min, "first reconnect delay")
      ->envname("AXION_AGENT_BACKOFF_MIN_MS")
      ->check(CLI::Range(10LL, 600000LL))
      ->capture_default_str();
  app.add_option("--backoff-max-ms", backoff_max, "longest reconnect delay")
      ->envname("AXION_AGENT_BACKOFF_MAX_MS")
      ->check(CLI::Range(10LL, 3600000LL))
      ->capture_default_str();
  app.add_option("--proxy-address", c.proxy_address,
                 "IPv4 address the edge proxy (HAProxy) listens on for the services")
      ->envname("AXION_AGENT_PROXY_ADDRESS")
      ->check(CLI::ValidIPV4)
      ->capture_default_str();
  std::string port_range = "0-0";
  app.add_option("--port-range", port_range,
                 "first-last: ports given to process instances (0-0: any free port)")
      ->envname("AXION_AGENT_PORT_RANGE")
      ->capture_default_str();
  long long stop_timeout = c.stop_timeout.count();
  app.add_option("--stop-timeout-ms", stop_timeout, "SIGTERM to SIGKILL when stopping a process")
      ->envname("AXION_AGENT_STOP_TIMEOUT_MS")
      ->check(CLI::Range(0LL, 3600000LL))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    if (help) *help = app.help();
    return Status(StatusCode::kCancelled, "help");
  } catch (const CLI::ParseError& e) {
    return invalid_argument(e.what());
  }
  if (backoff_min > backoff_max) {
    return invalid_argument("--backoff-min-ms (AXION_AGENT_BACKOFF_MIN_MS) exceeds "
                            "--backoff-max-ms (AXION_AGENT_BACKOFF_MAX_MS)");
  }
  unsigned first = 0, last = 0;
  char extra = 0;
  if (std::sscanf(port_range.c_str(), "%u-%u%c", &first, &last, &extra) != 2 || first > last ||
      last > 65535 || (first == 0) != (last == 0)) {
    return invalid_argument("--port-range (AXION_AGENT_PORT_RANGE) must be first-last with "
                            "1 <= first <= last <= 65535, or 0-0 for any free port; got '" +
                            port_range + "'");
  }
  c.port_first = first;
  c.port_last = last;
  c.stop_timeout = std::chrono::milliseconds(stop_timeout);
  c.backoff_min = std::chrono::milliseconds(backoff_min);
  c.backoff_max = std::chrono::milliseconds(backoff_max);
  if (c.state_dir.empty()) {
    return invalid_argument("--state-dir (AXION_AGENT_STATE_DIR) must not be empty");
  }
  return c;
}

}  // namespace axion::agent
