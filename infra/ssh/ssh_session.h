// An SSH connection to a server being bootstrapped, on libssh2: a TCP connect with a timeout,
// the handshake, the host key checked against the pinned fingerprint (trust on first use when
// none is pinned yet; a changed key is refused), password or private-key authentication, then
// remote commands given as argv (infra/ssh/ssh_argv.h) and file uploads over SFTP.
//
// Credentials pass through in memory only: nothing here logs them or puts them in a message.
// Blocking; one session per thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

struct _LIBSSH2_SESSION;

namespace axion::infra::ssh {

struct SshTarget {
  std::string host;  // name or address
  std::uint16_t port = 22;
  std::string user;
  std::string where() const;  // "user@host:port"
};

struct SshAuth {
  enum class Kind { kPassword, kPrivateKey };
  Kind kind = Kind::kPassword;
  std::string password;     // kPassword
  std::string private_key;  // kPrivateKey: OpenSSH or PEM private key text
  std::string passphrase;   // of the private key, if it has one
};

struct SshOptions {
  std::chrono::milliseconds connect_timeout{10000};  // TCP connect and SSH handshake
  std::chrono::milliseconds io_timeout{30000};       // any single blocking SSH operation
};

struct HostKey {
  std::string fingerprint;  // "SHA256:<base64 without padding>", as ssh-keygen -l prints it
  std::string algorithm;    // "ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", ...
};

struct RemoteResult {
  int exit_code = -1;  // -1: no exit status (killed by a signal)
  std::string out;     // stdout, the last 64 KiB
  std::string err;     // stderr, the last 64 KiB
};

class SshSession {
 public:
  // Connects and authenticates. `pinned`: the fingerprint the host must present ("" = none
  // pinned yet: any key is accepted and host_key() says which, to pin it). Errors:
  // INVALID_ARGUMENT (a bad user name or port), UNAVAILABLE (name not resolved, refused,
  // unreachable or silent within connect_timeout, not an SSH server), FAILED_PRECONDITION (the
  // host key is not the pinned one), UNAUTHENTICATED (the credential was refused).
  static Result<std::unique_ptr<SshSession>> connect(const SshTarget& target, const SshAuth& auth,
                                                     const std::string& pinned,
                                                     const SshOptions& options = {});
  ~SshSession();
  SshSession(const SshSession&) = delete;
  SshSession& operator=(const SshSession&) = delete;

  const HostKey& host_key() const { return host_key_; }
  const SshTarget& target() const { return target_; }

  // Runs argv on the host (through the login shell, every argument quoted) and waits for it,
  // at most `timeout`: DEADLINE_EXCEEDED then, and the connection is dropped (a session cannot
  // abandon a running command and stay usable; connect again). A non-zero exit is a result,
  // not an error.
  Result<RemoteResult> run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);
  // Writes `content` to the absolute `path` (validate_remote_path) with `mode`, through SFTP:
  // to "<path>.axion-upload" first, then renamed over `path`, so a reader never sees half a file.
  Status upload(const std::string& content, const std::string& path, int mode);

 private:
  SshSession() = default;
  Status error(StatusCode code, const std::string& what) const;  // with libssh2's last error
  // Drops the connection at once (after a timeout): later calls fail, teardown does not wait.
  void drop();
  Status dropped_error() const;
  bool dropped_ = false;

  SshTarget target_;
  SshOptions options_;
  HostKey host_key_;
  int socket_ = -1;
  _LIBSSH2_SESSION* session_ = nullptr;
};

}  // namespace axion::infra::ssh
