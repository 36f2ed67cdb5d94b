// The agent's identity on disk: agent id, long-lived credential, server and cluster ids, in
// <state dir>/agent.state (mode 0600, the directory 0700). Written atomically (temporary file,
// fsync, rename), so a crash leaves the old identity or the new one, never half of one.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/status.h"

namespace axion::agent {

struct AgentIdentity {
  std::string agent_id;
  std::string credential;
  std::string server_id;
  std::string cluster_id;
};

// The stored identity; nullopt if none was stored yet; DATA_LOSS if the file is damaged.
Result<std::optional<AgentIdentity>> load_identity(const std::string& state_dir);
Status save_identity(const std::string& state_dir, const AgentIdentity& identity);

// Replaces `path` with `text` (mode 0600) so that a crash leaves the old content or the new,
// never a mix: a temporary file beside it, fsync, rename, fsync of the directory.
Status write_file_atomically(const std::string& path, std::string_view text);

}  // namespace axion::agent
