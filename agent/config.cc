#include "agent/config.h"

#include <CLI/CLI.hpp>

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
  c.backoff_min = std::chrono::milliseconds(backoff_min);
  c.backoff_max = std::chrono::milliseconds(backoff_max);
  if (c.state_dir.empty()) {
    return invalid_argument("--state-dir (AXION_AGENT_STATE_DIR) must not be empty");
  }
  return c;
}

}  // namespace axion::agent
