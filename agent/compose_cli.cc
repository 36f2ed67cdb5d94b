#include "agent/compose_cli.h"

#include <algorithm>
#include <charconv>
#include <tuple>

namespace axion::agent {
namespace {

constexpr std::string_view kProjectLabel = "com.docker.compose.project";

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> out;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = text.find(sep, begin);
    out.push_back(text.substr(begin, end == std::string_view::npos ? end : end - begin));
    if (end == std::string_view::npos) return out;
    begin = end + 1;
  }
}

template <typename T>
T to_number(std::string_view s) {
  T value{};
  std::from_chars(s.data(), s.data() + s.size(), value);
  return value;
}

std::string trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

}  // namespace

std::string container_state_format() {
  return "{{.Id}}\t{{.Name}}\t{{index .Config.Labels \"com.docker.compose.project\"}}\t"
         "{{index .Config.Labels \"com.docker.compose.service\"}}\t{{.State.Status}}\t"
         "{{if .State.Health}}{{.State.Health.Status}}{{end}}\t{{.State.ExitCode}}\t"
         "{{.RestartCount}}\t{{.State.StartedAt}}";
}

std::vector<ContainerState> parse_container_states(std::string_view inspect_output) {
  std::vector<ContainerState> out;
  for (std::string_view line : split(inspect_output, '\n')) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    const auto f = split(line, '\t');
    if (f.size() != 9 || f[0].empty()) continue;
    ContainerState c;
    c.id = f[0];
    c.name = f[1].starts_with('/') ? f[1].substr(1) : f[1];
    c.project = f[2];
    c.service = f[3];
    c.status = f[4];
    c.health = f[5];
    c.exit_code = to_number<int>(f[6]);
    c.restart_count = to_number<unsigned>(f[7]);
    c.started_at = f[8];
    out.push_back(std::move(c));
  }
  return out;
}

ProjectHealth assess(const std::vector<ContainerState>& containers) {
  if (containers.empty()) return ProjectHealth::kPending;
  bool all_ready = true;
  for (const auto& c : containers) {
    if (c.health == "unhealthy" || c.status == "exited" || c.status == "dead" ||
        c.status == "restarting") {
      return ProjectHealth::kFailed;
    }
    if (c.status != "running" || (!c.health.empty() && c.health != "healthy")) all_ready = false;
  }
  return all_ready ? ProjectHealth::kHealthy : ProjectHealth::kPending;
}

std::string describe_states(const std::vector<ContainerState>& containers) {
  if (containers.empty()) return "no containers";
  std::vector<const ContainerState*> sorted;
  for (const auto& c : containers) sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(), [](const auto* a, const auto* b) {
    return std::tie(a->service, a->name) < std::tie(b->service, b->name);
  });
  // A service with several containers (scale) names each container instead.
  std::map<std::string, int> per_service;
  for (const auto* c : sorted) ++per_service[c->service];
  std::string out;
  for (const auto* c : sorted) {
    if (!out.empty()) out += "; ";
    const bool by_name = c->service.empty() || per_service[c->service] > 1;
    out += (by_name ? c->name : c->service) + ": " + c->status;
    if (c->status == "exited" || c->status == "dead") {
      out += " (" + std::to_string(c->exit_code) + ")";
    }
    if (!c->health.empty()) out += " " + c->health;
  }
  return out;
}

DockerCli::Probe DockerCli::probe(std::chrono::milliseconds timeout) const {
  Probe p;
  const CommandResult info = run({"docker", "info", "--format", "{{.ServerVersion}}"}, timeout);
  p.engine = info.ok() && !trim(info.out).empty();
  if (!p.engine) {
    p.problem = "the Docker engine does not answer: docker info " + info.describe() +
                (last_line(info).empty() ? "" : ": " + last_line(info));
  }
  if (run({"docker", "compose", "version"}, timeout).ok()) {
    p.compose = {"docker", "compose"};
  } else if (run({"docker-compose", "version"}, timeout).ok()) {
    p.compose = {"docker-compose"};
  } else if (p.problem.empty()) {
    p.problem =
        "no compose command: neither 'docker compose version' nor 'docker-compose "
        "version' works (install docker-compose)";
  }
  return p;
}

CommandResult DockerCli::run(std::vector<std::string> argv, std::chrono::milliseconds timeout,
                             const std::atomic<bool>* cancel, const std::string& workdir) const {
  CommandSpec spec;
  spec.argv = std::move(argv);
  spec.env = env_;
  spec.workdir = workdir;
  spec.timeout = timeout;
  spec.cancel = cancel;
  return run_command(spec);
}

Result<std::vector<ContainerState>> DockerCli::containers(const std::string& project,
                                                          std::chrono::milliseconds timeout) const {
  const std::string filter =
      "label=" + std::string(kProjectLabel) + (project.empty() ? "" : "=" + project);
  const CommandResult ps =
      run({"docker", "ps", "-a", "-q", "--no-trunc", "--filter", filter}, timeout);
  if (!ps.ok()) {
    return unavailable("docker ps " + ps.describe() + ": " + last_line(ps));
  }
  std::vector<std::string> argv = {"docker", "inspect", "--format", container_state_format()};
  for (auto id : split(ps.out, '\n')) {
    if (!trim(id).empty()) argv.push_back(trim(id));
  }
  if (argv.size() == 4) return std::vector<ContainerState>{};
  const CommandResult inspect = run(std::move(argv), timeout);
  // A container removed between ps and inspect is "No such object"; the others still print.
  if (!inspect.ok() && inspect.err.find("No such") == std::string::npos) {
    return unavailable("docker inspect " + inspect.describe() + ": " + last_line(inspect));
  }
  return parse_container_states(inspect.out);
}

std::string last_line(const CommandResult& result) {
  for (const std::string* text : {&result.err, &result.out}) {
    std::string_view s = *text;
    while (!s.empty()) {
      const std::size_t nl = s.find_last_of('\n');
      const std::string line = trim(nl == std::string_view::npos ? s : s.substr(nl + 1));
      if (!line.empty()) return line;
      if (nl == std::string_view::npos) break;
      s = s.substr(0, nl);
    }
  }
  return {};
}

}  // namespace axion::agent
