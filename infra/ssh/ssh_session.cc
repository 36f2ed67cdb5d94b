#include "infra/ssh/ssh_session.h"

#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "infra/ssh/ssh_argv.h"

namespace axion::infra::ssh {

namespace {

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] { libssh2_init(0); });
}

std::string algorithm_of(int type) {
  switch (type) {
    case LIBSSH2_HOSTKEY_TYPE_RSA:
      return "ssh-rsa";
    case LIBSSH2_HOSTKEY_TYPE_DSS:
      return "ssh-dss";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
      return "ecdsa-sha2-nistp256";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
      return "ecdsa-sha2-nistp384";
    case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
      return "ecdsa-sha2-nistp521";
    case LIBSSH2_HOSTKEY_TYPE_ED25519:
      return "ssh-ed25519";
    default:
      return "unknown";
  }
}

std::string sha256_fingerprint(const unsigned char* digest) {
  unsigned char b64[64];
  const int n = EVP_EncodeBlock(b64, digest, 32);
  std::string out(reinterpret_cast<char*>(b64), static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  return "SHA256:" + out;
}

// A TCP connection to host:port within `timeout`, or why not.
Result<int> dial(const SshTarget& t, std::chrono::milliseconds timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(t.port);
  if (const int rc = getaddrinfo(t.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return unavailable("cannot resolve '" + t.host + "': " + gai_strerror(rc));
  }
  std::string last = "no address";
  int sock = -1;
  for (addrinfo* a = found; a && sock < 0; a = a->ai_next) {
    const int s = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0) continue;
    int rc = ::connect(s, a->ai_addr, a->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{s, POLLOUT, 0};
      rc = poll(&p, 1, static_cast<int>(timeout.count()));
      if (rc == 0) {
        last = "no answer within " + std::to_string(timeout.count()) + " ms";
        close(s);
        continue;
      }
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
      rc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (rc != 0) {
      last = std::strerror(errno);
      close(s);
      continue;
    }
    fcntl(s, F_SETFL, fcntl(s, F_GETFL) & ~O_NONBLOCK);
    sock = s;
  }
  freeaddrinfo(found);
  if (sock < 0) return unavailable("cannot reach " + t.host + ":" + port + ": " + last);
  return sock;
}

}  // namespace

std::string SshTarget::where() const { return user + "@" + host + ":" + std::to_string(port); }

Status SshSession::error(StatusCode code, const std::string& what) const {
  char* msg = nullptr;
  int len = 0;
  std::string detail;
  if (session_ && libssh2_session_last_error(session_, &msg, &len, 0) != 0 && msg)
    detail = std::string(msg, static_cast<std::size_t>(len));
  return {code, what + (detail.empty() ? "" : ": " + detail)};
}

Result<std::unique_ptr<SshSession>> SshSession::connect(const SshTarget& target,
                                                        const SshAuth& auth,
                                                        const std::string& pinned,
                                                        const SshOptions& options) {
  AXION_RETURN_IF_ERROR(validate_ssh_user(target.user));
  if (target.port == 0) return invalid_field("port", "the SSH port must be 1-65535");
  if (target.host.empty() || target.host.size() > 253 || target.host.front() == '-')
    return invalid_field("host", "the host must be a name or an address");
  init_once();
  std::unique_ptr<SshSession> s(new SshSession());
  s->target_ = target;
  s->options_ = options;
  auto sock = dial(target, options.connect_timeout);
  if (!sock.ok()) return sock.status();
  s->socket_ = *sock;
  s->session_ = libssh2_session_init();
  if (!s->session_) return internal_error("libssh2 could not make a session");
  libssh2_session_set_blocking(s->session_, 1);
  libssh2_session_set_timeout(s->session_, static_cast<long>(options.connect_timeout.count()));
  if (libssh2_session_handshake(s->session_, s->socket_) != 0)
    return s->error(StatusCode::kUnavailable, "SSH handshake with " + target.host + ":" +
                                                  std::to_string(target.port) +
                                                  " failed (is an SSH server listening there?)");
  std::size_t key_len = 0;
  int key_type = 0;
  const char* key = libssh2_session_hostkey(s->session_, &key_len, &key_type);
  const auto* digest = reinterpret_cast<const unsigned char*>(
      libssh2_hostkey_hash(s->session_, LIBSSH2_HOSTKEY_HASH_SHA256));
  if (!key || !digest) return s->error(StatusCode::kUnavailable, "the host sent no host key");
  s->host_key_ = {sha256_fingerprint(digest), algorithm_of(key_type)};
  if (!pinned.empty() && pinned != s->host_key_.fingerprint) {
    return failed_precondition(
        "the host key of " + target.host + ":" + std::to_string(target.port) + " changed: pinned " +
        pinned + ", presented " + s->host_key_.fingerprint + " (" + s->host_key_.algorithm +
        "). Refusing to connect: if the server was reinstalled, check the new key and pin it "
        "again; otherwise someone may be intercepting the connection");
  }
  libssh2_session_set_timeout(s->session_, static_cast<long>(options.io_timeout.count()));
  int rc = 0;
  if (auth.kind == SshAuth::Kind::kPassword) {
    rc = libssh2_userauth_password_ex(
        s->session_, target.user.c_str(), static_cast<unsigned int>(target.user.size()),
        auth.password.c_str(), static_cast<unsigned int>(auth.password.size()), nullptr);
  } else {
    rc = libssh2_userauth_publickey_frommemory(
        s->session_, target.user.c_str(), target.user.size(), nullptr, 0, auth.private_key.c_str(),
        auth.private_key.size(), auth.passphrase.empty() ? nullptr : auth.passphrase.c_str());
  }
  if (rc != 0 || !libssh2_userauth_authenticated(s->session_)) {
    const bool timed_out = rc == LIBSSH2_ERROR_TIMEOUT;
    return s->error(timed_out ? StatusCode::kUnavailable : StatusCode::kUnauthenticated,
                    std::string("SSH authentication of ") + target.where() + " with a " +
                        (auth.kind == SshAuth::Kind::kPassword ? "password" : "private key") +
                        " failed");
  }
  return s;
}

void SshSession::drop() {
  dropped_ = true;
  if (socket_ >= 0) shutdown(socket_, SHUT_RDWR);
}

Status SshSession::dropped_error() const {
  return unavailable("the SSH connection to " + target_.where() +
                     " was dropped after a timeout: connect again");
}

SshSession::~SshSession() {
  if (session_ && !dropped_) {
    libssh2_session_set_timeout(session_, 2000);
    libssh2_session_disconnect(session_, "bye");
  }
  if (session_) libssh2_session_free(session_);
  if (socket_ >= 0) close(socket_);
}

}  // namespace axion::infra::ssh
