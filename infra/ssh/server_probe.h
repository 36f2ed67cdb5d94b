// TestServerConnection's report: connect to a server over SSH (infra/ssh/ssh_session.h) and
// find out what it is — OS, architecture, CPUs, memory, free disk, whether systemd runs and
// whether Docker is usable by the SSH user. Every probe is a fixed argv; nothing the user gave
// reaches a remote shell but the connection settings, which are validated first.
#pragma once

#include <string>

#include "axion/v1/infrastructure.pb.h"
#include "infra/ssh/ssh_session.h"

namespace axion::infra::ssh {

// Connects (checking `pinned` when set) and probes. Never fails: what went wrong is in the
// report (reachable / authenticated false, errors), with the host key it saw if it got that far.
// `refused` is set when the connection was refused for the host key (the caller must not pin).
axion::v1::ServerReport probe_server(const SshTarget& target, const SshAuth& auth,
                                     const std::string& pinned, const SshOptions& options,
                                     bool* host_key_refused = nullptr);

// Parses the probe script's output (one KEY=VALUE per line) into `report`. Pure, for tests.
void parse_probe_output(const std::string& text, axion::v1::ServerReport& report);

// The remote probe: `sh -c <script>`, one fixed script with no user input in it.
const char* probe_script();

}  // namespace axion::infra::ssh
