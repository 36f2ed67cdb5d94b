// Checks of one graph service (commands/graph_validation.h, detail::validate_service): source,
// argv, ports, env, secrets, volumes, labels, health check, resources. Cross-service rules
// (unique names, host ports, edges, cycles) live in graph_validation.cc.
#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "commands/field_checks.h"
#include "commands/graph_validation.h"

namespace axion::commands::detail {

namespace {

using axion::v1::Service;

std::string at(const std::string& base, const std::string& field) { return base + "." + field; }
std::string at(const std::string& base, const std::string& field, int i) {
  return base + "." + field + "[" + std::to_string(i) + "]";
}

// Sorted keys: protobuf maps iterate in no particular order, and the first problem reported
// must not depend on it.
template <typename Map>
std::vector<std::string> sorted_keys(const Map& map) {
  std::vector<std::string> keys;
  keys.reserve(map.size());
  for (const auto& [k, v] : map) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

Status check_argv(const google::protobuf::RepeatedPtrField<std::string>& argv,
                  const std::string& field, const std::string& what, const GraphLimits& l) {
  if (static_cast<std::size_t>(argv.size()) > l.max_argv_entries) {
    return invalid_field(field, what + " has " + std::to_string(argv.size()) +
                                    " entries; at most " + std::to_string(l.max_argv_entries));
  }
  for (int i = 0; i < argv.size(); ++i) {
    const std::string f = field + "[" + std::to_string(i) + "]";
    if (argv[i].empty())
      return invalid_field(f, what + " entry " + std::to_string(i) + " is empty");
    if (has_nul(argv[i])) {
      return invalid_field(f, what + " entry " + quote(argv[i]) + " contains a NUL byte");
    }
    if (argv[i].size() > l.max_argv_entry_bytes) {
      return invalid_field(f, what + " entry " + quote(argv[i]) + " is too long: at most " +
                                  std::to_string(l.max_argv_entry_bytes) + " bytes");
    }
  }
  return ok_status();
}

Status check_source(const Service& s, const std::string& base, const GraphLimits& l) {
  const std::string who = "service '" + s.name() + "'";  // name already validated
  switch (s.source_case()) {
    case Service::kImage: {
      if (auto p = image_reference_problem(s.image(), l.max_image_bytes); !p.empty()) {
        return invalid_field(at(base, "image"),
                             who + ": image " + quote(s.image(), 128) + " is not a valid image "
                             "reference (" + p + "): expected [registry/]name[:tag][@sha256:"
                             "digest], e.g. ghcr.io/acme/api:1.4.2");
      }
      return ok_status();
    }
    case Service::kBuild: {
      const auto& b = s.build();
      if (auto p = relative_path_problem(b.context()); !p.empty())
        return invalid_field(at(base, "build.context"),
                             who + ": build context " + quote(b.context()) + " is invalid: " + p);
      if (auto p = relative_path_problem(b.dockerfile()); !p.empty())
        return invalid_field(at(base, "build.dockerfile"),
                             who + ": dockerfile " + quote(b.dockerfile()) + " is invalid: " + p);
      if (!b.target().empty() && !token_problem(b.target(), 128).empty())
        return invalid_field(at(base, "build.target"),
                             who + ": build target " + quote(b.target()) +
                                 " is not a stage name: use letters, digits, '.', '_', '-'");
      if (static_cast<std::size_t>(b.args_size()) > l.max_labels)
        return invalid_field(at(base, "build.args"), who + " has " +
                                                         std::to_string(b.args_size()) +
                                                         " build args; at most " +
                                                         std::to_string(l.max_labels));
      for (const auto& k : sorted_keys(b.args())) {
        const std::string f = at(base, "build.args") + "[" + quote(k) + "]";
        if (auto p = env_name_problem(k, l.max_env_name_bytes); !p.empty())
          return invalid_field(f, who + ": build arg name " + quote(k) + " is invalid (" + p +
                                      "): use [A-Za-z_][A-Za-z0-9_]*");
        const std::string& v = b.args().at(k);
        if (has_nul(v) || v.size() > l.max_env_value_bytes)
          return invalid_field(f, who + ": build arg " + k + " must be at most " +
                                      std::to_string(l.max_env_value_bytes) +
                                      " bytes without NUL");
      }
      return ok_status();
    }
    case Service::SOURCE_NOT_SET:
      break;
  }
  return invalid_field(at(base, "image"), who + " needs an image or a build spec");
}

// Transport a port occupies: TCP, HTTP and gRPC all listen on TCP.
bool is_udp(const axion::v1::Port& p) { return p.protocol() == axion::v1::PORT_PROTOCOL_UDP; }

Status check_ports(const Service& s, const std::string& base, const GraphLimits& l) {
  const std::string who = "service '" + s.name() + "'";
  if (static_cast<std::size_t>(s.ports_size()) > l.max_ports_per_service)
    return invalid_field(at(base, "ports"), who + " declares " + std::to_string(s.ports_size()) +
                                                " ports; at most " +
                                                std::to_string(l.max_ports_per_service));
  std::set<std::pair<bool, std::uint32_t>> container;  // (udp, port)
  std::set<std::string> names;
  for (int i = 0; i < s.ports_size(); ++i) {
    const auto& p = s.ports(i);
    const std::string f = at(base, "ports", i);
    if (!p.name().empty()) {
      if (auto problem = dns_label_problem(p.name()); !problem.empty())
        return invalid_field(f + ".name", who + ": port name " + quote(p.name()) +
                                              " is not a DNS label (" + problem + "): " +
                                              std::string(kDnsLabelRule));
      if (!names.insert(p.name()).second)
        return invalid_field(f + ".name", who + ": port name '" + p.name() +
                                              "' is used twice; port names must be unique");
    }
    if (p.container_port() < 1 || p.container_port() > 65535)
      return invalid_field(f + ".container_port",
                           who + ": container port " + std::to_string(p.container_port()) +
                               " is out of range: use 1-65535");
    if (!axion::v1::PortProtocol_IsValid(p.protocol()))
      return invalid_field(f + ".protocol", who + ": port protocol " +
                                                std::to_string(p.protocol()) + " is unknown");
    if (!container.insert({is_udp(p), p.container_port()}).second)
      return invalid_field(f + ".container_port",
                           who + " declares container port " + std::to_string(p.container_port()) +
                               (is_udp(p) ? "/udp" : "/tcp") + " twice");
    if (p.has_host_port() && (p.host_port() < 1 || p.host_port() > 65535))
      return invalid_field(f + ".host_port", who + ": host port " +
                                                 std::to_string(p.host_port()) +
                                                 " is out of range: use 1-65535");
  }
  return ok_status();
}

Status check_env_and_secrets(const Service& s, const std::string& base, const GraphLimits& l) {
  const std::string who = "service '" + s.name() + "'";
  if (static_cast<std::size_t>(s.env_size()) > l.max_env_per_service)
    return invalid_field(at(base, "env"), who + " has " + std::to_string(s.env_size()) +
                                              " env vars; at most " +
                                              std::to_string(l.max_env_per_service));
  for (const auto& k : sorted_keys(s.env())) {
    const std::string f = at(base, "env") + "[" + quote(k) + "]";
    if (auto p = env_name_problem(k, l.max_env_name_bytes); !p.empty())
      return invalid_field(f, who + ": env var name " + quote(k) + " is invalid (" + p +
                                  "): use [A-Za-z_][A-Za-z0-9_]*");
    const std::string& v = s.env().at(k);
    if (has_nul(v)) return invalid_field(f, who + ": env var " + k + " contains a NUL byte");
    if (v.size() > l.max_env_value_bytes)
      return invalid_field(f, who + ": env var " + k + " is " + std::to_string(v.size()) +
                                  " bytes; at most " + std::to_string(l.max_env_value_bytes));
  }
  if (static_cast<std::size_t>(s.secrets_size()) > l.max_secrets_per_service)
    return invalid_field(at(base, "secrets"), who + " references " +
                                                  std::to_string(s.secrets_size()) +
                                                  " secrets; at most " +
                                                  std::to_string(l.max_secrets_per_service));
  std::set<std::string> secret_envs;
  for (int i = 0; i < s.secrets_size(); ++i) {
    const auto& sec = s.secrets(i);
    const std::string f = at(base, "secrets", i);
    if (auto p = token_problem(sec.name(), 253); !p.empty())
      return invalid_field(f + ".name", who + ": secret name " + quote(sec.name()) +
                                            " is invalid: " + p);
    if (!sec.key().empty() && !token_problem(sec.key(), 253).empty())
      return invalid_field(f + ".key", who + ": secret key " + quote(sec.key()) +
                                           " is invalid: use printable characters, no spaces");
    switch (sec.target_case()) {
      case axion::v1::SecretRef::kEnvVar:
        if (auto p = env_name_problem(sec.env_var(), l.max_env_name_bytes); !p.empty())
          return invalid_field(f + ".env_var", who + ": secret env var " + quote(sec.env_var()) +
                                                   " is invalid (" + p + ")");
        if (s.env().contains(sec.env_var()) || !secret_envs.insert(sec.env_var()).second)
          return invalid_field(f + ".env_var", who + ": env var " + sec.env_var() +
                                                   " is set twice (env and/or secrets)");
        break;
      case axion::v1::SecretRef::kFilePath:
        if (auto p = absolute_path_problem(sec.file_path()); !p.empty())
          return invalid_field(f + ".file_path", who + ": secret file path " +
                                                     quote(sec.file_path()) + " is invalid: " + p);
        break;
      case axion::v1::SecretRef::TARGET_NOT_SET:
        return invalid_field(f, who + ": secret '" + sec.name() +
                                    "' needs a target: env_var or file_path");
    }
  }
  return ok_status();
}

Status check_volumes_and_labels(const Service& s, const std::string& base, const GraphLimits& l) {
  const std::string who = "service '" + s.name() + "'";
  if (static_cast<std::size_t>(s.volumes_size()) > l.max_volumes_per_service)
    return invalid_field(at(base, "volumes"), who + " mounts " + std::to_string(s.volumes_size()) +
                                                  " volumes; at most " +
                                                  std::to_string(l.max_volumes_per_service));
  std::set<std::string> targets;
  for (int i = 0; i < s.volumes_size(); ++i) {
    const auto& v = s.volumes(i);
    const std::string f = at(base, "volumes", i);
    if (v.source().empty() || has_control(v.source()) || v.source().size() > 4096)
      return invalid_field(f + ".source", who + ": volume source " + quote(v.source()) +
                                              " must be a non-empty name or path without "
                                              "control characters");
    if (auto p = absolute_path_problem(v.target()); !p.empty())
      return invalid_field(f + ".target", who + ": volume target " + quote(v.target()) +
                                              " is invalid: " + p);
    if (!targets.insert(v.target()).second)
      return invalid_field(f + ".target", who + " mounts two volumes at " + quote(v.target()));
  }
  if (!s.working_dir().empty()) {
    if (auto p = absolute_path_problem(s.working_dir()); !p.empty())
      return invalid_field(at(base, "working_dir"),
                           who + ": working_dir " + quote(s.working_dir()) + " is invalid: " + p);
  }
  if (static_cast<std::size_t>(s.labels_size()) > l.max_labels)
    return invalid_field(at(base, "labels"), who + " has " + std::to_string(s.labels_size()) +
                                                 " labels; at most " +
                                                 std::to_string(l.max_labels));
  for (const auto& k : sorted_keys(s.labels())) {
    const std::string f = at(base, "labels") + "[" + quote(k) + "]";
    if (auto p = token_problem(k, 253); !p.empty())
      return invalid_field(f, who + ": label key " + quote(k) + " is invalid: " + p);
    if (auto p = text_problem(s.labels().at(k), l.max_label_value_bytes); !p.empty())
      return invalid_field(f, who + ": label " + k + " has an invalid value: " + p);
  }
  return ok_status();
}

Status check_health(const Service& s, const std::string& base, const GraphLimits& l) {
  if (!s.has_health_check()) return ok_status();
  const std::string who = "service '" + s.name() + "'";
  const auto& h = s.health_check();
  const std::string hb = at(base, "health_check");
  auto port_ok = [](std::uint32_t p) { return p >= 1 && p <= 65535; };
  switch (h.kind_case()) {
    case axion::v1::HealthCheck::kHttp:
      if (h.http().path().empty() || h.http().path().front() != '/' ||
          !token_problem(h.http().path(), 2048).empty())
        return invalid_field(hb + ".http.path", who + ": health check path " +
                                                    quote(h.http().path()) +
                                                    " must start with '/' and contain no "
                                                    "whitespace or control characters");
      if (!port_ok(h.http().port()))
        return invalid_field(hb + ".http.port", who + ": health check port " +
                                                    std::to_string(h.http().port()) +
                                                    " is out of range: use 1-65535");
      break;
    case axion::v1::HealthCheck::kTcp:
      if (!port_ok(h.tcp().port()))
        return invalid_field(hb + ".tcp.port", who + ": health check port " +
                                                   std::to_string(h.tcp().port()) +
                                                   " is out of range: use 1-65535");
      break;
    case axion::v1::HealthCheck::kExec:
      if (h.exec().argv().empty())
        return invalid_field(hb + ".exec.argv", who + ": exec health check needs a command");
      AXION_RETURN_IF_ERROR(check_argv(h.exec().argv(), hb + ".exec.argv",
                                       who + ": health check argv", l));
      break;
    case axion::v1::HealthCheck::KIND_NOT_SET:
      return invalid_field(hb, who + ": health check needs a probe: http, tcp or exec");
  }
  if (auto p = duration_problem(h.interval(), true, l.max_check_interval_s); !p.empty())
    return invalid_field(hb + ".interval", who + ": health check interval is invalid: " + p);
  if (auto p = duration_problem(h.timeout(), true, l.max_check_interval_s); !p.empty())
    return invalid_field(hb + ".timeout", who + ": health check timeout is invalid: " + p);
  if (compare_durations(h.timeout(), h.interval()) > 0)
    return invalid_field(hb + ".timeout",
                         who + ": health check timeout must not exceed its interval");
  if (auto p = duration_problem(h.start_period(), false, l.max_check_interval_s); !p.empty())
    return invalid_field(hb + ".start_period",
                         who + ": health check start_period is invalid: " + p);
  if (h.healthy_threshold() < 1 || h.healthy_threshold() > 100)
    return invalid_field(hb + ".healthy_threshold",
                         who + ": healthy_threshold must be 1-100, got " +
                             std::to_string(h.healthy_threshold()));
  if (h.unhealthy_threshold() < 1 || h.unhealthy_threshold() > 100)
    return invalid_field(hb + ".unhealthy_threshold",
                         who + ": unhealthy_threshold must be 1-100, got " +
                             std::to_string(h.unhealthy_threshold()));
  return ok_status();
}

Status check_runtime(const Service& s, const std::string& base, const GraphLimits& l) {
  const std::string who = "service '" + s.name() + "'";
  if (s.replicas() > l.max_replicas)
    return invalid_field(at(base, "replicas"), who + ": replicas " + std::to_string(s.replicas()) +
                                                   " is too many: use 0-" +
                                                   std::to_string(l.max_replicas) +
                                                   " (0 means 1)");
  const auto& r = s.resources();
  if (r.cpu_millis() > l.max_cpu_millis)
    return invalid_field(at(base, "resources.cpu_millis"),
                         who + ": cpu_millis " + std::to_string(r.cpu_millis()) +
                             " exceeds " + std::to_string(l.max_cpu_millis));
  if (r.memory_mb() > l.max_memory_mb)
    return invalid_field(at(base, "resources.memory_mb"),
                         who + ": memory_mb " + std::to_string(r.memory_mb()) + " exceeds " +
                             std::to_string(l.max_memory_mb));
  if (r.disk_mb() > l.max_disk_mb)
    return invalid_field(at(base, "resources.disk_mb"), who + ": disk_mb " +
                                                            std::to_string(r.disk_mb()) +
                                                            " exceeds " +
                                                            std::to_string(l.max_disk_mb));
  if (!axion::v1::RestartPolicy_IsValid(s.restart_policy()))
    return invalid_field(at(base, "restart_policy"),
                         who + ": restart policy " + std::to_string(s.restart_policy()) +
                             " is unknown");
  return ok_status();
}

}  // namespace

Status validate_service(const Service& s, int index, const GraphLimits& l) {
  const std::string base = "services[" + std::to_string(index) + "]";
  if (auto p = dns_label_problem(s.name()); !p.empty()) {
    return invalid_field(base + ".name", "service name " + quote(s.name()) +
                                             " is not a DNS label (" + p + "): " +
                                             std::string(kDnsLabelRule));
  }
  AXION_RETURN_IF_ERROR(check_source(s, base, l));
  const std::string who = "service '" + s.name() + "'";
  AXION_RETURN_IF_ERROR(check_argv(s.command(), at(base, "command"), who + ": command", l));
  AXION_RETURN_IF_ERROR(check_argv(s.args(), at(base, "args"), who + ": args", l));
  AXION_RETURN_IF_ERROR(check_ports(s, base, l));
  AXION_RETURN_IF_ERROR(check_env_and_secrets(s, base, l));
  AXION_RETURN_IF_ERROR(check_volumes_and_labels(s, base, l));
  AXION_RETURN_IF_ERROR(check_health(s, base, l));
  return check_runtime(s, base, l);
}

}  // namespace axion::commands::detail
