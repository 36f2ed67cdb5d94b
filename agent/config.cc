#include "agent/config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

namespace axion::agent {

namespace {

// CLI11 2.1 ignores a missing file named only by the variable, and says just "... was not
// readable (missing?)" for one named by the flag: the operator should learn which file and why.
Status check_config_file(const std::string& path) {
  const auto refuse = [&](const std::string& why) {
    return invalid_argument("cannot read the config file '" + path +
                            "' (--config / AXION_AGENT_CONFIG): " + why);
  };
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return refuse(std::strerror(errno));
  struct stat st {};
  const bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
  close(fd);
  return regular ? ok_status() : refuse("not a regular file");
}

// The daemon runs in / (it must not pin the directory it was started from), so relative paths
// are resolved against the directory of the command that started it.
void make_absolute(std::string* path) {
  if (!path->empty()) *path = std::filesystem::absolute(*path).lexically_normal().string();
}

}  // namespace

Result<AgentConfig> agent_config(int argc, char** argv, std::string* help) {
  AgentConfig c;
  CLI::App app{
      "axion-agent: runs on a target server, registers with axion-server, reports "
      "heartbeats and runs deployment tasks"};
  // Keys of the file are the long option names (server-id = "srv-1"). CLI11 reads it before the
  // variables and fills only options the command line left unset: flag > file > variable.
  const char* config_env = std::getenv("AXION_AGENT_CONFIG");
  CLI::Option* config_option =
      app.set_config("--config", config_env ? config_env : "",
                     "INI/TOML file whose keys are the long option names (AXION_AGENT_CONFIG)");
  // An unknown key is a typo the operator should hear about, not a setting silently lost.
  app.allow_config_extras(false);
  // Not ->required(): --stop needs neither (checked below).
  app.add_option("--server", c.server_addr, "axion-server address, host:port (required)")
      ->envname("AXION_AGENT_SERVER");
  app.add_option("--server-id", c.server_id, "id of the server this agent runs on (required)")
      ->envname("AXION_AGENT_SERVER_ID");
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
  // Modes belong on the command line: a config file shared with a foreground run must not turn
  // it into a daemon.
  auto* daemonize = app.add_flag("--daemonize", c.daemonize,
                                 "(re)start in the background: a supervisor runs the agent and "
                                 "restarts it if it fails (needs --pid-file)")
                        ->configurable(false);
  app.add_flag("--stop", c.stop, "stop the supervisor --pid-file names, then exit")
      ->configurable(false)
      ->excludes(daemonize);
  app.add_option("--pid-file", c.pid_file, "the supervisor's pid file (--daemonize, --stop)")
      ->envname("AXION_AGENT_PID_FILE");
  app.add_option("--log-file", c.log_file,
                 "where --daemonize appends the output (default <state-dir>/agent.log)")
      ->envname("AXION_AGENT_LOG_FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    if (help) *help = app.help();
    return Status(StatusCode::kCancelled, "help");
  } catch (const CLI::FileError&) {
    AXION_RETURN_IF_ERROR(check_config_file(config_option->as<std::string>()));
    return invalid_argument("cannot read the config file '" + config_option->as<std::string>() +
                            "' (--config / AXION_AGENT_CONFIG)");
  } catch (const CLI::ConfigError& e) {
    return invalid_argument("config file '" + config_option->as<std::string>() + "': " + e.what());
  } catch (const CLI::ParseError& e) {
    return invalid_argument(e.what());
  }
  c.config_file = config_option->as<std::string>();
  if (!c.config_file.empty()) AXION_RETURN_IF_ERROR(check_config_file(c.config_file));
  if ((c.daemonize || c.stop) && c.pid_file.empty()) {
    return invalid_argument(std::string(c.daemonize ? "--daemonize" : "--stop") +
                            " needs --pid-file (AXION_AGENT_PID_FILE)");
  }
  if (!c.stop) {
    if (c.server_addr.empty()) return invalid_argument("--server (AXION_AGENT_SERVER) is required");
    if (c.server_id.empty()) {
      return invalid_argument("--server-id (AXION_AGENT_SERVER_ID) is required");
    }
  }
  if (backoff_min > backoff_max) {
    return invalid_argument(
        "--backoff-min-ms (AXION_AGENT_BACKOFF_MIN_MS) exceeds "
        "--backoff-max-ms (AXION_AGENT_BACKOFF_MAX_MS)");
  }
  unsigned first = 0, last = 0;
  char extra = 0;
  if (std::sscanf(port_range.c_str(), "%u-%u%c", &first, &last, &extra) != 2 || first > last ||
      last > 65535 || (first == 0) != (last == 0)) {
    return invalid_argument(
        "--port-range (AXION_AGENT_PORT_RANGE) must be first-last with "
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
  if (c.daemonize || c.stop) {
    for (std::string* path : {&c.state_dir, &c.token_file, &c.tls_ca, &c.pid_file, &c.log_file}) {
      make_absolute(path);
    }
    if (c.log_file.empty()) {
      c.log_file = (std::filesystem::path(c.state_dir) / "agent.log").string();
    }
  }
  return c;
}

}  // namespace axion::agent
