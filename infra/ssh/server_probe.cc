#include "infra/ssh/server_probe.h"

#include <google/protobuf/util/time_util.h>

#include <chrono>
#include <sstream>

namespace axion::infra::ssh {

namespace v1 = axion::v1;

// clang-format off
const char* probe_script() {
  return R"SH(. /etc/os-release 2>/dev/null; echo "OS=${PRETTY_NAME:-$(uname -s)}"
echo "ARCH=$(uname -m)"
echo "CPUS=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)"
echo "MEM_KB=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
echo "DISK_KB=$(df -Pk "$HOME" 2>/dev/null | awk 'NR==2 {print $4}')"
if [ -d /run/systemd/system ]; then echo SYSTEMD=1; else echo SYSTEMD=0; fi
if command -v docker >/dev/null 2>&1; then
  v=$(docker version --format '{{.Server.Version}}' 2>/dev/null)
  if [ -n "$v" ]; then echo DOCKER=1; echo "DOCKER_VERSION=$v"
  else echo DOCKER=0; echo "DOCKER_NOTE=installed, but the engine does not answer this user"; fi
else echo DOCKER=0; fi
)SH";
}
// clang-format on

void parse_probe_output(const std::string& text, v1::ServerReport& r) {
  std::istringstream in(text);
  std::string line;
  const auto number = [](const std::string& v) -> std::uint64_t {
    try {
      return v.empty() ? 0 : std::stoull(v);
    } catch (...) {
      return 0;
    }
  };
  while (std::getline(in, line)) {
    const auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = line.substr(0, eq);
    const std::string value = line.substr(eq + 1, 200);
    if (key == "OS")
      r.set_os(value);
    else if (key == "ARCH")
      r.set_arch(value);
    else if (key == "CPUS")
      r.set_cpu_count(static_cast<std::uint32_t>(number(value)));
    else if (key == "MEM_KB")
      r.set_memory_mb(number(value) / 1024);
    else if (key == "DISK_KB")
      r.set_disk_mb(number(value) / 1024);
    else if (key == "SYSTEMD")
      r.set_systemd(value == "1");
    else if (key == "DOCKER")
      r.set_docker(value == "1");
    else if (key == "DOCKER_VERSION")
      r.set_docker_version(value);
    else if (key == "DOCKER_NOTE")
      r.add_errors("docker: " + value);
  }
  if (r.arch().empty()) r.add_errors("the probe did not report the architecture");
  if (r.cpu_count() == 0) r.add_errors("the probe did not report the CPU count");
}

v1::ServerReport probe_server(const SshTarget& target, const SshAuth& auth,
                              const std::string& pinned, const SshOptions& options,
                              bool* host_key_refused) {
  using google::protobuf::util::TimeUtil;
  v1::ServerReport r;
  *r.mutable_tested_at() = TimeUtil::GetCurrentTime();
  if (host_key_refused) *host_key_refused = false;
  const auto started = std::chrono::steady_clock::now();
  auto session = SshSession::connect(target, auth, pinned, options);
  if (!session.ok()) {
    const auto code = session.status().code();
    r.set_reachable(code == StatusCode::kUnauthenticated ||
                    code == StatusCode::kFailedPrecondition);
    r.add_errors(session.status().message());
    if (host_key_refused) *host_key_refused = code == StatusCode::kFailedPrecondition;
    return r;
  }
  r.set_reachable(true);
  r.set_authenticated(true);
  r.set_host_key_fingerprint((*session)->host_key().fingerprint);
  r.set_host_key_algorithm((*session)->host_key().algorithm);
  *r.mutable_latency() =
      TimeUtil::MillisecondsToDuration(std::chrono::duration_cast<std::chrono::milliseconds>(
                                           std::chrono::steady_clock::now() - started)
                                           .count());
  auto out = (*session)->run({"sh", "-c", probe_script()}, options.io_timeout);
  if (!out.ok()) {
    r.add_errors("the system probe failed: " + out.status().message());
    return r;
  }
  if (out->exit_code != 0)
    r.add_errors("the system probe exited with " + std::to_string(out->exit_code) + ": " +
                 out->err.substr(0, 500));
  parse_probe_output(out->out, r);
  return r;
}

}  // namespace axion::infra::ssh
