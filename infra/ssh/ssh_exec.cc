// SshSession::run and SshSession::upload (infra/ssh/ssh_session.h).
#include <libssh2.h>
#include <libssh2_sftp.h>
#include <poll.h>

#include <memory>

#include "infra/ssh/ssh_argv.h"
#include "infra/ssh/ssh_session.h"

namespace axion::infra::ssh {

namespace {

constexpr std::size_t kOutputLimit = 64 * 1024;

void keep_tail(std::string& buffer, const char* data, std::size_t n) {
  buffer.append(data, n);
  if (buffer.size() > kOutputLimit) buffer.erase(0, buffer.size() - kOutputLimit);
}

}  // namespace

Result<RemoteResult> SshSession::run(const std::vector<std::string>& argv,
                                     std::chrono::milliseconds timeout) {
  auto command = remote_command(argv);
  if (!command.ok()) return command.status();
  if (dropped_) return dropped_error();
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  LIBSSH2_CHANNEL* channel = libssh2_channel_open_session(session_);
  if (!channel) return error(StatusCode::kUnavailable, "cannot open an SSH channel");
  std::unique_ptr<LIBSSH2_CHANNEL, decltype(&libssh2_channel_free)> owned(channel,
                                                                          libssh2_channel_free);
  if (libssh2_channel_exec(channel, command->c_str()) != 0)
    return error(StatusCode::kUnavailable, "cannot start '" + argv[0] + "' over SSH");
  // Both streams are drained as they come (a full stderr must not stall stdout): non-blocking
  // reads, waiting on the socket in between.
  libssh2_session_set_blocking(session_, 0);
  RemoteResult result;
  char buf[16384];
  Status failure;
  while (true) {
    bool progressed = false;
    for (int stream : {0, SSH_EXTENDED_DATA_STDERR}) {
      const ssize_t n = libssh2_channel_read_ex(channel, stream, buf, sizeof buf);
      if (n > 0) {
        keep_tail(stream == 0 ? result.out : result.err, buf, static_cast<std::size_t>(n));
        progressed = true;
      } else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN) {
        failure = error(StatusCode::kUnavailable, "reading the output of '" + argv[0] + "' failed");
      }
    }
    if (!failure.ok() || libssh2_channel_eof(channel)) break;
    if (progressed) continue;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      failure = Status(StatusCode::kDeadlineExceeded, "'" + argv[0] + "' did not finish within " +
                                                          std::to_string(timeout.count()) +
                                                          " ms on " + target_.where());
      drop();
      break;
    }
    pollfd p{socket_, 0, 0};
    const int dir = libssh2_session_block_directions(session_);
    if (dir & LIBSSH2_SESSION_BLOCK_INBOUND) p.events |= POLLIN;
    if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND) p.events |= POLLOUT;
    poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
  }
  libssh2_session_set_blocking(session_, 1);
  if (!failure.ok()) return failure;
  libssh2_channel_close(channel);
  libssh2_channel_wait_closed(channel);
  char* signal = nullptr;
  libssh2_channel_get_exit_signal(channel, &signal, nullptr, nullptr, nullptr, nullptr, nullptr);
  result.exit_code = signal ? -1 : libssh2_channel_get_exit_status(channel);
  if (signal) libssh2_free(session_, signal);
  return result;
}

Status SshSession::upload(const std::string& content, const std::string& path, int mode) {
  AXION_RETURN_IF_ERROR(validate_remote_path(path));
  if (dropped_) return dropped_error();
  LIBSSH2_SFTP* sftp = libssh2_sftp_init(session_);
  if (!sftp) return error(StatusCode::kUnavailable, "the SFTP subsystem did not start");
  std::unique_ptr<LIBSSH2_SFTP, decltype(&libssh2_sftp_shutdown)> owned(sftp,
                                                                        libssh2_sftp_shutdown);
  const std::string temp = path + ".axion-upload";
  const auto sftp_error = [&](const std::string& what) {
    return error(StatusCode::kUnavailable,
                 what + " (SFTP status " + std::to_string(libssh2_sftp_last_error(sftp)) + ")");
  };
  LIBSSH2_SFTP_HANDLE* file = libssh2_sftp_open_ex(
      sftp, temp.c_str(), static_cast<unsigned int>(temp.size()),
      LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_TRUNC, mode, LIBSSH2_SFTP_OPENFILE);
  if (!file) return sftp_error("cannot write " + temp + " on " + target_.where());
  std::size_t written = 0;
  while (written < content.size()) {
    const ssize_t n = libssh2_sftp_write(file, content.data() + written, content.size() - written);
    if (n <= 0) {
      libssh2_sftp_close_handle(file);
      return sftp_error("writing " + temp + " on " + target_.where() + " failed after " +
                        std::to_string(written) + " bytes");
    }
    written += static_cast<std::size_t>(n);
  }
  if (libssh2_sftp_close_handle(file) != 0) return sftp_error("closing " + temp + " failed");
  // SFTP v3 renames refuse an existing target: take the old file away first.
  libssh2_sftp_unlink_ex(sftp, path.c_str(), static_cast<unsigned int>(path.size()));
  if (libssh2_sftp_rename_ex(sftp, temp.c_str(), static_cast<unsigned int>(temp.size()),
                             path.c_str(), static_cast<unsigned int>(path.size()),
                             LIBSSH2_SFTP_RENAME_OVERWRITE | LIBSSH2_SFTP_RENAME_ATOMIC |
                                 LIBSSH2_SFTP_RENAME_NATIVE) != 0)
    return sftp_error("renaming " + temp + " to " + path + " failed");
  return ok_status();
}

}  // namespace axion::infra::ssh
