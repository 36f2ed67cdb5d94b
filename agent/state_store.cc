#include "agent/state_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace axion::agent {

namespace {

constexpr const char* kFile = "agent.state";

std::string errno_text() { return std::strerror(errno); }

}  // namespace

Result<std::optional<AgentIdentity>> load_identity(const std::string& state_dir) {
  const auto path = std::filesystem::path(state_dir) / kFile;
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return std::optional<AgentIdentity>();
    return unavailable("cannot read " + path.string() + ": check its permissions");
  }
  std::map<std::string, std::string> values;
  std::string line;
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq != std::string::npos) values[line.substr(0, eq)] = line.substr(eq + 1);
  }
  AgentIdentity id{values["agent_id"], values["credential"], values["server_id"],
                   values["cluster_id"]};
  if (id.agent_id.empty() || id.credential.empty()) {
    return data_loss(path.string() + " is damaged (no agent_id or credential): remove it and "
                     "register the agent again with a new registration token");
  }
  return std::optional<AgentIdentity>(std::move(id));
}

Status save_identity(const std::string& state_dir, const AgentIdentity& identity) {
  std::error_code ec;
  std::filesystem::create_directories(state_dir, ec);
  if (ec) return unavailable("cannot create " + state_dir + ": " + ec.message());
  if (chmod(state_dir.c_str(), 0700) != 0) {
    return unavailable("cannot restrict " + state_dir + " to its owner: " + errno_text());
  }
  std::ostringstream body;
  body << "agent_id=" << identity.agent_id << "\ncredential=" << identity.credential
       << "\nserver_id=" << identity.server_id << "\ncluster_id=" << identity.cluster_id << "\n";
  return write_file_atomically((std::filesystem::path(state_dir) / kFile).string(), body.str());
}

Status write_file_atomically(const std::string& path, std::string_view text) {
  const std::string tmp = path + ".tmp";
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return unavailable("cannot write " + tmp + ": " + errno_text());
  bool ok = fchmod(fd, 0600) == 0;
  std::size_t written = 0;
  while (ok && written < text.size()) {
    const ssize_t n = write(fd, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) written += static_cast<std::size_t>(n);
  }
  ok = ok && fsync(fd) == 0;
  const std::string error = ok ? "" : errno_text();
  close(fd);
  if (!ok) return unavailable("cannot write " + tmp + ": " + error);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    return unavailable("cannot replace " + path + ": " + errno_text());
  }
  // The rename is durable only once the directory is synced.
  const auto dir = std::filesystem::path(path).parent_path();
  const int dfd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return ok_status();
}

}  // namespace axion::agent
