// ProcessRuntime's PREPARE_INFRA: before a release rolls out on this server, every service it
// will run here gets its command resolved (in the PATH the instance will get) and its working
// directory created if missing, and the state directory's disk is checked — so a release that
// cannot run here fails in PROVISIONING, before any instance moved, with every reason at once.
#include <sys/statvfs.h>

#include <filesystem>

#include "agent/instance_env.h"
#include "agent/process_control.h"
#include "agent/process_runtime.h"

namespace axion::agent {

namespace v1 = axion::v1;

void ProcessRuntime::run_prepare(Job& job) {
  const v1::PrepareSpec& spec = job.task.spec().prepare();
  if (spec.services().empty()) {
    return finish(job, v1::TASK_STATE_FAILED,
                  "spec.prepare.services is empty: PREPARE_INFRA names the services to ready");
  }
  if (deadline_passed(job.task)) return finish(job, v1::TASK_STATE_CANCELLED, "deadline passed");
  std::string problems, done;
  const auto problem = [&](const std::string& text) {
    problems += (problems.empty() ? "" : "; ") + text;
  };
  for (const auto& s : spec.services()) {
    const std::string who = "service " + (s.service().empty() ? "?" : s.service());
    if (!s.service().empty() && !is_dns_label(s.service())) {
      problem("service name '" + s.service() + "' is not a DNS label");
      continue;
    }
    if (!s.image().empty() && s.argv().empty()) {
      problem(who +
              ": the process runtime runs commands, not images (give it a command, or "
              "deploy with the compose runtime)");
      continue;
    }
    if (s.argv().empty()) {
      problem(who + ": no command to run");
      continue;
    }
    auto program = resolve_program(s.argv(0), service_path(s, agent_path_));
    if (!program.ok()) {
      problem(who + ": " + program.status().message());
      continue;
    }
    std::string ready = s.service() + " (" + *program;
    if (!s.workdir().empty()) {
      std::error_code ec;
      if (s.workdir().front() != '/') {
        problem(who + ": the working directory '" + s.workdir() + "' is not an absolute path");
        continue;
      }
      if (!std::filesystem::is_directory(s.workdir(), ec)) {
        std::filesystem::create_directories(s.workdir(), ec);
        if (ec || !std::filesystem::is_directory(s.workdir())) {
          problem(who + ": cannot create the working directory '" + s.workdir() +
                  "': " + (ec ? ec.message() : "not a directory"));
          continue;
        }
        ready += ", created " + s.workdir();
      }
    }
    done += (done.empty() ? "" : ", ") + ready + ")";
  }
  if (spec.min_free_disk_mb() > 0) {
    struct statvfs fs {};
    if (statvfs(state_dir_.c_str(), &fs) == 0) {
      const std::uint64_t free_mb =
          static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize / (1024 * 1024);
      if (free_mb < spec.min_free_disk_mb())
        problem("the agent's disk has " + std::to_string(free_mb) +
                " MiB free, the release needs " + std::to_string(spec.min_free_disk_mb()) + " MiB");
    }
  }
  if (!problems.empty()) return finish(job, v1::TASK_STATE_FAILED, problems);
  finish(job, v1::TASK_STATE_SUCCEEDED, "ready: " + done);
}

}  // namespace axion::agent
