#include "agent/health_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "agent/process_control.h"

namespace axion::agent {

namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds to_ms(const google::protobuf::Duration& d) {
  return milliseconds(d.seconds() * 1000 + d.nanos() / 1000000);
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// A connected, non-blocking socket to 127.0.0.1:port, or -1 with `error` set.
int connect_local(std::uint32_t port, Clock::time_point deadline, std::string& error) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const std::string where = "127.0.0.1:" + std::to_string(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS) {
      error = "connect to " + where + ": " + std::strerror(errno);
      close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, remaining_ms(deadline)) <= 0) {
      error = "connect to " + where + " timed out";
      close(fd);
      return -1;
    }
    int so_error = 0;
    socklen_t len = sizeof so_error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      error = "connect to " + where + ": " + std::strerror(so_error);
      close(fd);
      return -1;
    }
  }
  return fd;
}

void probe_tcp(std::uint32_t port, Clock::time_point deadline, axion::v1::HealthSample& s) {
  std::string error;
  const int fd = connect_local(port, deadline, error);
  s.set_healthy(fd >= 0);
  s.set_detail(fd >= 0 ? "connected to 127.0.0.1:" + std::to_string(port) : error);
  if (fd >= 0) close(fd);
}

void probe_http(const std::string& path, std::uint32_t port, Clock::time_point deadline,
                axion::v1::HealthSample& s) {
  std::string error;
  const int fd = connect_local(port, deadline, error);
  if (fd < 0) {
    s.set_detail(error);
    return;
  }
  const std::string target = path.empty() ? "/" : path;
  const std::string request = "GET " + target +
                              " HTTP/1.0\r\nHost: 127.0.0.1:" + std::to_string(port) +
                              "\r\nUser-Agent: axion-agent\r\nConnection: close\r\n\r\n";
  std::size_t sent = 0;
  std::string response;
  while (remaining_ms(deadline) > 0) {
    const bool sending = sent < request.size();
    pollfd p{fd, static_cast<short>(sending ? POLLOUT : POLLIN), 0};
    if (poll(&p, 1, remaining_ms(deadline)) <= 0) break;
    if (sending) {
      const ssize_t n = send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EINTR) break;
      if (n > 0) sent += static_cast<std::size_t>(n);
      continue;
    }
    char buf[512];
    const ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) break;
    response.append(buf, static_cast<std::size_t>(n));
    if (response.find("\r\n") != std::string::npos || response.size() > 4096) break;
  }
  close(fd);
  // "HTTP/1.1 200 OK"
  const auto space = response.find(' ');
  if (response.rfind("HTTP/", 0) != 0 || space == std::string::npos ||
      response.size() < space + 4) {
    s.set_detail(response.empty() ? "GET " + target + " on port " + std::to_string(port) +
                                        ": no answer within the timeout"
                                  : "GET " + target + ": not an HTTP answer");
    return;
  }
  const int code = std::atoi(response.substr(space + 1, 3).c_str());
  s.set_code(code);
  s.set_healthy(code >= 200 && code < 400);
  s.set_detail("GET " + target + " -> " + std::to_string(code));
}

void probe_exec(const axion::v1::ExecCheck& check, const ProbeContext& context,
                Clock::time_point deadline, axion::v1::HealthSample& s) {
  const std::vector<std::string> argv(check.argv().begin(), check.argv().end());
  if (argv.empty()) {
    s.set_detail("the exec health check has no command");
    return;
  }
  auto program = resolve_program(argv[0], context.path_env);
  if (!program.ok()) {
    s.set_detail(program.status().message());
    return;
  }
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) {
    s.set_detail(std::string("cannot create a pipe: ") + std::strerror(errno));
    return;
  }
  SpawnRequest request{*program, argv, context.env, context.workdir, out[1], out[1]};
  auto pid = spawn_process(request);
  close(out[1]);
  if (!pid.ok()) {
    close(out[0]);
    s.set_detail(pid.status().message());
    return;
  }
  fcntl(out[0], F_SETFL, O_NONBLOCK);
  std::string output;
  std::optional<ExitStatus> exit;
  while (!exit) {
    char buf[256];
    ssize_t n;
    while ((n = read(out[0], buf, sizeof buf)) > 0) {
      if (output.size() < 512) output.append(buf, static_cast<std::size_t>(n));
    }
    int status = 0;
    if (waitpid(*pid, &status, WNOHANG) == *pid) {
      exit = exit_status_from_wait(status);
    } else if (Clock::now() >= deadline) {
      signal_group(*pid, SIGKILL);
      waitpid(*pid, &status, 0);
      close(out[0]);
      s.set_detail("'" + argv[0] + "' did not finish within the timeout");
      return;
    } else {
      pollfd p{out[0], POLLIN, 0};
      poll(&p, 1, 10);
    }
  }
  close(out[0]);
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
  s.set_code(exit->code);
  s.set_healthy(exit->code == 0 && exit->signal == 0);
  s.set_detail("'" + argv[0] + "' " + exit->describe() + (output.empty() ? "" : ": " + output));
}

}  // namespace

HealthPolicy health_policy(const axion::v1::HealthCheck& check) {
  HealthPolicy p;
  if (to_ms(check.interval()).count() > 0) p.interval = to_ms(check.interval());
  if (to_ms(check.timeout()).count() > 0) p.timeout = to_ms(check.timeout());
  if (to_ms(check.start_period()).count() > 0) p.start_period = to_ms(check.start_period());
  if (check.healthy_threshold() > 0) p.healthy_threshold = check.healthy_threshold();
  if (check.unhealthy_threshold() > 0) p.unhealthy_threshold = check.unhealthy_threshold();
  return p;
}

HealthTracker::Verdict HealthTracker::record(bool passed, bool in_start_period) {
  if (passed) {
    failures_ = 0;
    ++passes_;
    return passes_ >= policy_.healthy_threshold ? Verdict::kHealthy : Verdict::kPending;
  }
  passes_ = 0;
  if (in_start_period) return Verdict::kPending;
  ++failures_;
  return failures_ >= policy_.unhealthy_threshold ? Verdict::kUnhealthy : Verdict::kPending;
}

std::uint32_t probe_port(std::uint32_t check_port, const std::vector<PortBinding>& ports) {
  if (check_port == 0) return ports.empty() ? 0 : ports.front().host_port;
  for (const auto& p : ports) {
    if (p.container_port == check_port) return p.host_port;
  }
  return check_port;
}

axion::v1::HealthSample run_probe(const axion::v1::HealthCheck& check, const ProbeContext& context,
                                  milliseconds timeout) {
  axion::v1::HealthSample s;
  const auto wall = std::chrono::system_clock::now().time_since_epoch();
  s.mutable_at()->set_seconds(std::chrono::duration_cast<std::chrono::seconds>(wall).count());
  s.mutable_at()->set_nanos(static_cast<int>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(wall).count() % 1000000000));
  const auto started = Clock::now();
  const auto deadline = started + timeout;
  switch (check.kind_case()) {
    case axion::v1::HealthCheck::kHttp: {
      const auto port = probe_port(check.http().port(), context.ports);
      if (port == 0) {
        s.set_detail("the http health check names no port and the service has none");
      } else {
        probe_http(check.http().path(), port, deadline, s);
      }
      break;
    }
    case axion::v1::HealthCheck::kTcp: {
      const auto port = probe_port(check.tcp().port(), context.ports);
      if (port == 0) {
        s.set_detail("the tcp health check names no port and the service has none");
      } else {
        probe_tcp(port, deadline, s);
      }
      break;
    }
    case axion::v1::HealthCheck::kExec:
      probe_exec(check.exec(), context, deadline, s);
      break;
    default:
      s.set_detail("the health check has no probe (http, tcp or exec)");
  }
  const auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started);
  s.mutable_latency()->set_seconds(took.count() / 1000000000);
  s.mutable_latency()->set_nanos(static_cast<int>(took.count() % 1000000000));
  return s;
}

}  // namespace axion::agent
