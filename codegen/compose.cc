#include "codegen/compose.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <vector>

#include "codegen/dockerfile.h"
#include "codegen/yaml_text.h"

namespace axion::codegen {

namespace v1 = axion::v1;

namespace {

// Compose interpolates `$NAME`, `${NAME}` and `$$` in every value: `$$` is a literal `$`.
std::string literal(const std::string& value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    out += c;
    if (c == '$') out += '$';
  }
  return out;
}

// What compose accepts as a named volume.
bool is_volume_name(const std::string& s) {
  if (s.empty() || s.size() > 255 || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
  });
}

std::string duration_text(const google::protobuf::Duration& d) {
  const long long ms = d.seconds() * 1000 + d.nanos() / 1000000;
  return std::to_string(ms) + "ms";
}

std::string restart_text(v1::RestartPolicy p) {
  switch (p) {
    case v1::RESTART_POLICY_NO:
      return "no";
    case v1::RESTART_POLICY_ALWAYS:
      return "always";
    case v1::RESTART_POLICY_UNLESS_STOPPED:
      return "unless-stopped";
    default:
      return "on-failure";
  }
}

bool has_check(const v1::Service& s) {
  return s.has_health_check() && s.health_check().kind_case() != v1::HealthCheck::KIND_NOT_SET;
}

std::vector<std::string> check_argv(const v1::HealthCheck& h) {
  switch (h.kind_case()) {
    case v1::HealthCheck::kHttp:
      return {"CMD",       "wget",
              "-q",        "-O",
              "/dev/null", "http://127.0.0.1:" + std::to_string(h.http().port()) + h.http().path()};
    case v1::HealthCheck::kTcp:
      return {"CMD", "nc", "-z", "127.0.0.1", std::to_string(h.tcp().port())};
    default: {
      std::vector<std::string> argv = {"CMD"};
      argv.insert(argv.end(), h.exec().argv().begin(), h.exec().argv().end());
      return argv;
    }
  }
}

void emit_list(YAML::Emitter& out, const std::vector<std::string>& items) {
  out << YAML::BeginSeq;
  for (const auto& item : items) out << quoted(literal(item));
  out << YAML::EndSeq;
}

void emit_healthcheck(YAML::Emitter& out, const v1::HealthCheck& h) {
  out << YAML::Key << "healthcheck" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "test" << YAML::Value;
  emit_list(out, check_argv(h));
  if (h.has_interval())
    out << YAML::Key << "interval" << YAML::Value << duration_text(h.interval());
  if (h.has_timeout()) out << YAML::Key << "timeout" << YAML::Value << duration_text(h.timeout());
  if (h.unhealthy_threshold() > 0) {
    out << YAML::Key << "retries" << YAML::Value << h.unhealthy_threshold();
  }
  if (h.has_start_period()) {
    out << YAML::Key << "start_period" << YAML::Value << duration_text(h.start_period());
  }
  out << YAML::EndMap;
}

// Every string of the service that reaches the file is text YAML keeps as is (yaml_text.h).
Status check_text(const v1::Service& s) {
  const std::string base = "services[" + s.name() + "]";
  std::vector<std::pair<std::string, const std::string*>> fields = {
      {".image", &s.image()}, {".working_dir", &s.working_dir()}};
  if (s.has_build()) {
    fields.push_back({".build.context", &s.build().context()});
    fields.push_back({".build.dockerfile", &s.build().dockerfile()});
    fields.push_back({".build.target", &s.build().target()});
    for (const auto& [k, v] : s.build().args()) fields.push_back({".build.args[" + k + "]", &v});
  }
  for (int i = 0; i < s.command_size(); ++i) {
    fields.push_back({".command[" + std::to_string(i) + "]", &s.command(i)});
  }
  for (int i = 0; i < s.args_size(); ++i) {
    fields.push_back({".args[" + std::to_string(i) + "]", &s.args(i)});
  }
  for (const auto& [k, v] : s.env()) fields.push_back({".env[" + k + "]", &v});
  for (const auto& [k, v] : s.labels()) {
    fields.push_back({".labels", &k});
    fields.push_back({".labels[" + k + "]", &v});
  }
  for (int i = 0; i < s.volumes_size(); ++i) {
    fields.push_back({".volumes[" + std::to_string(i) + "].source", &s.volumes(i).source()});
    fields.push_back({".volumes[" + std::to_string(i) + "].target", &s.volumes(i).target()});
  }
  const auto& h = s.health_check();
  fields.push_back({".health_check.http.path", &h.http().path()});
  for (int i = 0; i < h.exec().argv_size(); ++i) {
    fields.push_back({".health_check.exec.argv[" + std::to_string(i) + "]", &h.exec().argv(i)});
  }
  for (const auto& [field, value] : fields) {
    if (auto p = yaml_text_problem(*value); !p.empty()) {
      return invalid_argument(base + field + ": service '" + s.name() + "': this value cannot " +
                              "be written to docker-compose.yml: it contains " + p +
                              " (use UTF-8 text)");
    }
  }
  return ok_status();
}

// Networks: `to-<s>` for each service that receives traffic, joined by it and its callers.
std::map<std::string, std::set<std::string>> networks_of(const v1::GraphVersion& graph) {
  std::map<std::string, std::set<std::string>> member_of;  // service -> networks
  for (const auto& e : graph.edges()) {
    if (e.kind() != v1::EDGE_KIND_TRAFFIC) continue;
    member_of[e.to_service()].insert("to-" + e.to_service());
    member_of[e.from_service()].insert("to-" + e.to_service());
  }
  for (const auto& s : graph.services()) {
    if (member_of[s.name()].empty()) member_of[s.name()].insert("solo-" + s.name());
  }
  return member_of;
}

Status emit_service(YAML::Emitter& out, const v1::GraphVersion& graph, const v1::Service& s,
                    const std::map<std::string, const v1::Service*>& by_name,
                    const std::set<std::string>& networks, const ComposeOptions& options,
                    std::set<std::string>& named_volumes) {
  const std::string who = "service '" + s.name() + "'";
  const std::uint32_t replicas = s.replicas() == 0 ? 1 : s.replicas();
  out << YAML::Key << quoted(s.name()) << YAML::Value << YAML::BeginMap;
  if (s.has_build()) {
    const auto& b = s.build();
    out << YAML::Key << "build" << YAML::Value << YAML::BeginMap;
    out << YAML::Key << "context" << YAML::Value
        << quoted(literal(b.context().empty() ? "." : b.context()));
    out << YAML::Key << "dockerfile" << YAML::Value << quoted(literal(dockerfile_path(s)));
    if (!b.args().empty()) {
      out << YAML::Key << "args" << YAML::Value << YAML::BeginMap;
      for (const auto& [k, v] : sorted(b.args())) {
        out << YAML::Key << quoted(k) << YAML::Value << quoted(literal(v));
      }
      out << YAML::EndMap;
    }
    if (!b.target().empty()) out << YAML::Key << "target" << YAML::Value << quoted(b.target());
    out << YAML::EndMap;
    out << YAML::Key << "image" << YAML::Value
        << quoted(build_image_tag(graph, s.name(), options.build_image_prefix));
  } else {
    out << YAML::Key << "image" << YAML::Value << quoted(literal(s.image()));
  }
  if (!s.command().empty()) {
    out << YAML::Key << "entrypoint" << YAML::Value;
    emit_list(out, {s.command().begin(), s.command().end()});
  }
  if (!s.args().empty()) {
    out << YAML::Key << "command" << YAML::Value;
    emit_list(out, {s.args().begin(), s.args().end()});
  }
  if (!s.working_dir().empty()) {
    out << YAML::Key << "working_dir" << YAML::Value << quoted(literal(s.working_dir()));
  }

  // Environment: plain values, then the env-var secrets by name only (no value here).
  std::map<std::string, std::string> env = sorted(s.env());
  std::set<std::string> secret_env;
  for (int i = 0; i < s.secrets_size(); ++i) {
    const auto& sec = s.secrets(i);
    if (sec.target_case() != v1::SecretRef::kEnvVar) {
      return invalid_argument("services[" + s.name() + "].secrets[" + std::to_string(i) +
                              "]: " + who + " wants secret '" + sec.name() +
                              "' as a file; docker-compose.yml carries env-var secrets only "
                              "(deploy it with the process runtime or as an env var)");
    }
    secret_env.insert(sec.env_var());
  }
  if (!env.empty() || !secret_env.empty()) {
    out << YAML::Key << "environment" << YAML::Value << YAML::BeginMap;
    for (const auto& [k, v] : env)
      out << YAML::Key << quoted(k) << YAML::Value << quoted(literal(v));
    // A key without a value: compose passes the variable through from its own environment.
    for (const auto& k : secret_env) out << YAML::Key << quoted(k) << YAML::Value << YAML::Null;
    out << YAML::EndMap;
  }

  std::vector<std::string> published, exposed;
  for (const auto& p : s.ports()) {
    const std::string proto = p.protocol() == v1::PORT_PROTOCOL_UDP ? "/udp" : "";
    if (p.has_host_port() && p.host_port() != 0) {
      if (replicas > 1) {
        return invalid_argument("services[" + s.name() + "].replicas: " + who + " publishes " +
                                "host port " + std::to_string(p.host_port()) + " and asks for " +
                                std::to_string(replicas) +
                                " replicas; on one compose host only "
                                "one container can hold a fixed host port");
      }
      published.push_back(std::to_string(p.host_port()) + ":" + std::to_string(p.container_port()) +
                          proto);
    } else {
      exposed.push_back(std::to_string(p.container_port()) + proto);
    }
  }
  if (!published.empty()) {
    out << YAML::Key << "ports" << YAML::Value;
    emit_list(out, published);
  }
  if (!exposed.empty()) {
    out << YAML::Key << "expose" << YAML::Value;
    emit_list(out, exposed);
  }

  if (has_check(s)) emit_healthcheck(out, s.health_check());

  // depends_on: every edge out of this service, healthy when the dependency can say so.
  std::map<std::string, bool> depends;
  for (const auto& e : graph.edges()) {
    if (e.from_service() != s.name()) continue;
    const auto it = by_name.find(e.to_service());
    depends[e.to_service()] = it != by_name.end() && has_check(*it->second);
  }
  if (!depends.empty()) {
    out << YAML::Key << "depends_on" << YAML::Value << YAML::BeginMap;
    for (const auto& [name, healthy] : depends) {
      out << YAML::Key << quoted(name) << YAML::Value << YAML::BeginMap << YAML::Key << "condition"
          << YAML::Value << (healthy ? "service_healthy" : "service_started") << YAML::EndMap;
    }
    out << YAML::EndMap;
  }

  out << YAML::Key << "restart" << YAML::Value << quoted(restart_text(s.restart_policy()));
  if (replicas > 1) out << YAML::Key << "scale" << YAML::Value << replicas;
  if (s.resources().memory_mb() > 0) {
    out << YAML::Key << "mem_reservation" << YAML::Value
        << quoted(std::to_string(s.resources().memory_mb()) + "m");
  }
  if (s.resources().cpu_millis() > 0) {
    out << YAML::Key << "cpu_shares" << YAML::Value
        << (static_cast<std::uint64_t>(s.resources().cpu_millis()) * 1024 / 1000);
  }

  if (!s.volumes().empty()) {
    out << YAML::Key << "volumes" << YAML::Value << YAML::BeginSeq;
    for (int i = 0; i < s.volumes_size(); ++i) {
      const auto& v = s.volumes(i);
      const bool bind = !v.source().empty() && v.source().front() == '/';
      if (!bind && !is_volume_name(v.source())) {
        return invalid_argument("services[" + s.name() + "].volumes[" + std::to_string(i) +
                                "].source: " + who + ": '" + v.source() +
                                "' is neither an "
                                "absolute host path nor a volume name compose accepts "
                                "([A-Za-z0-9][A-Za-z0-9_.-]*)");
      }
      if (!bind) named_volumes.insert(v.source());
      out << YAML::BeginMap;
      out << YAML::Key << "type" << YAML::Value << (bind ? "bind" : "volume");
      out << YAML::Key << "source" << YAML::Value << quoted(literal(v.source()));
      out << YAML::Key << "target" << YAML::Value << quoted(literal(v.target()));
      if (v.read_only()) out << YAML::Key << "read_only" << YAML::Value << true;
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }

  out << YAML::Key << "networks" << YAML::Value;
  emit_list(out, {networks.begin(), networks.end()});

  out << YAML::Key << "labels" << YAML::Value << YAML::BeginMap;
  std::map<std::string, std::string> labels = sorted(s.labels());
  labels["io.axion.project"] =
      options.project_label.empty() ? graph.project_id() : options.project_label;
  labels["io.axion.service"] = s.name();
  labels["io.axion.graph-version"] = std::to_string(graph.version());
  for (const auto& [k, v] : labels)
    out << YAML::Key << quoted(k) << YAML::Value << quoted(literal(v));
  out << YAML::EndMap;

  out << YAML::EndMap;
  return ok_status();
}

}  // namespace

std::string build_image_tag(const v1::GraphVersion& graph, const std::string& service,
                            const std::string& prefix) {
  return prefix + "/" + service + ":" + graph.content_hash().substr(0, 12);
}

Result<Artifact> generate_compose(const v1::GraphVersion& graph, const ComposeOptions& options) {
  std::map<std::string, const v1::Service*> by_name;
  for (const auto& s : graph.services()) by_name[s.name()] = &s;
  const auto networks = networks_of(graph);
  std::set<std::string> named_volumes;

  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "version" << YAML::Value << quoted("2.4");
  out << YAML::Key << "services" << YAML::Value << YAML::BeginMap;
  for (const auto& [name, service] : by_name) AXION_RETURN_IF_ERROR(check_text(*service));
  for (const auto& [name, service] : by_name) {
    AXION_RETURN_IF_ERROR(
        emit_service(out, graph, *service, by_name, networks.at(name), options, named_volumes));
  }
  out << YAML::EndMap;
  std::set<std::string> all_networks;
  for (const auto& [service, names] : networks) all_networks.insert(names.begin(), names.end());
  out << YAML::Key << "networks" << YAML::Value << YAML::BeginMap;
  for (const auto& n : all_networks) {
    out << YAML::Key << quoted(n) << YAML::Value << YAML::BeginMap << YAML::Key << "labels"
        << YAML::Value << YAML::BeginMap << YAML::Key << "io.axion.network" << YAML::Value
        << quoted(n) << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndMap;
  if (!named_volumes.empty()) {
    out << YAML::Key << "volumes" << YAML::Value << YAML::BeginMap;
    for (const auto& v : named_volumes) {
      out << YAML::Key << quoted(v) << YAML::Value << YAML::BeginMap << YAML::EndMap;
    }
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  if (!out.good()) return internal_error("cannot emit docker-compose.yml: " + out.GetLastError());
  return make_artifact("docker-compose.yml", std::string(out.c_str()) + "\n");
}

}  // namespace axion::codegen
