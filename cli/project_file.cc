#include "cli/project_file.h"

#include <yaml-cpp/yaml.h>

#include <map>
#include <set>

#include "cli/yaml_fields.h"

namespace axion::cli {

namespace v1 = axion::v1;

namespace {

v1::PortProtocol protocol(const YAML::Node& n, const std::string& path) {
  const std::string s = scalar(n, path);
  if (s == "tcp") return v1::PORT_PROTOCOL_TCP;
  if (s == "udp") return v1::PORT_PROTOCOL_UDP;
  if (s == "http") return v1::PORT_PROTOCOL_HTTP;
  if (s == "grpc") return v1::PORT_PROTOCOL_GRPC;
  fail(n, path, "must be tcp, udp, http or grpc, got '" + s + "'");
}

v1::RestartPolicy restart(const YAML::Node& n, const std::string& path) {
  const std::string s = scalar(n, path);
  if (s == "no") return v1::RESTART_POLICY_NO;
  if (s == "always") return v1::RESTART_POLICY_ALWAYS;
  if (s == "on-failure") return v1::RESTART_POLICY_ON_FAILURE;
  if (s == "unless-stopped") return v1::RESTART_POLICY_UNLESS_STOPPED;
  fail(n, path, "must be no, always, on-failure or unless-stopped, got '" + s + "'");
}

// A port of `service` named or numbered by `n`: its container port.
std::uint32_t port_of(const v1::Service& service, const YAML::Node& n, const std::string& path) {
  const std::string s = scalar(n, path);
  for (const auto& p : service.ports()) {
    if (p.name() == s || std::to_string(p.container_port()) == s) return p.container_port();
  }
  std::string names;
  for (const auto& p : service.ports()) {
    names +=
        (names.empty() ? "" : ", ") + p.name() + " (" + std::to_string(p.container_port()) + ")";
  }
  fail(n, path,
       "service " + service.name() + " has no port '" + s + "'" +
           (names.empty() ? " (it declares none)" : "; it has " + names));
}

void parse_ports(const YAML::Node& n, const std::string& path, v1::Service& out) {
  if (!n.IsSequence()) fail(n, path, "must be a list of {name, port, publish, protocol}");
  for (std::size_t i = 0; i < n.size(); ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    const YAML::Node& p = n[i];
    only_keys(p, at, {"name", "port", "publish", "protocol"});
    if (!p["port"]) fail(p, at, "needs port (the port the service listens on)");
    v1::Port* port = out.add_ports();
    port->set_container_port(static_cast<std::uint32_t>(number(p["port"], at + ".port", 1, 65535)));
    port->set_name(p["name"] ? scalar(p["name"], at + ".name")
                             : "port-" + std::to_string(port->container_port()));
    if (p["publish"]) {
      port->set_host_port(
          static_cast<std::uint32_t>(number(p["publish"], at + ".publish", 1, 65535)));
    }
    port->set_protocol(p["protocol"] ? protocol(p["protocol"], at + ".protocol")
                                     : v1::PORT_PROTOCOL_TCP);
  }
}

void parse_health(const YAML::Node& n, const std::string& path, v1::Service& out) {
  only_keys(n, path,
            {"http", "tcp", "exec", "port", "interval", "timeout", "healthy_threshold",
             "unhealthy_threshold", "start_period"});
  v1::HealthCheck* h = out.mutable_health_check();
  const int kinds = (n["http"] ? 1 : 0) + (n["tcp"] ? 1 : 0) + (n["exec"] ? 1 : 0);
  if (kinds != 1) fail(n, path, "needs exactly one of http (a path), tcp (true) or exec (argv)");
  const auto checked_port = [&]() -> std::uint32_t {
    if (n["port"]) return port_of(out, n["port"], path + ".port");
    if (out.ports_size() == 1) return out.ports(0).container_port();
    fail(n, path, "needs port: the service has " + std::to_string(out.ports_size()) + " ports");
  };
  if (n["http"]) {
    h->mutable_http()->set_path(scalar(n["http"], path + ".http"));
    h->mutable_http()->set_port(checked_port());
  } else if (n["tcp"]) {
    if (!boolean(n["tcp"], path + ".tcp")) fail(n["tcp"], path + ".tcp", "must be true");
    h->mutable_tcp()->set_port(checked_port());
  } else {
    for (auto& a : strings(n["exec"], path + ".exec")) h->mutable_exec()->add_argv(a);
  }
  // Defaults for what people leave out: probe every 5 s, give it 2 s, healthy after one success,
  // unhealthy after three failures.
  h->mutable_interval()->set_seconds(5);
  h->mutable_timeout()->set_seconds(2);
  h->set_healthy_threshold(1);
  h->set_unhealthy_threshold(3);
  if (n["interval"]) *h->mutable_interval() = duration(n["interval"], path + ".interval");
  if (n["timeout"]) {
    *h->mutable_timeout() = duration(n["timeout"], path + ".timeout");
  } else if (h->interval().seconds() < 2) {
    *h->mutable_timeout() = h->interval();  // a probe may not outlast its interval
  }
  if (n["start_period"])
    *h->mutable_start_period() = duration(n["start_period"], path + ".start_period");
  if (n["healthy_threshold"])
    h->set_healthy_threshold(static_cast<std::uint32_t>(
        number(n["healthy_threshold"], path + ".healthy_threshold", 1, 100)));
  if (n["unhealthy_threshold"])
    h->set_unhealthy_threshold(static_cast<std::uint32_t>(
        number(n["unhealthy_threshold"], path + ".unhealthy_threshold", 1, 100)));
}

void parse_build(const YAML::Node& n, const std::string& path, v1::Service& out) {
  v1::BuildSpec* b = out.mutable_build();
  if (n.IsScalar()) {
    b->set_context(n.Scalar());
    return;
  }
  only_keys(n, path, {"context", "dockerfile", "args", "target"});
  if (!n["context"]) fail(n, path, "needs context (the build directory)");
  b->set_context(scalar(n["context"], path + ".context"));
  if (n["dockerfile"]) b->set_dockerfile(scalar(n["dockerfile"], path + ".dockerfile"));
  if (n["target"]) b->set_target(scalar(n["target"], path + ".target"));
  if (n["args"]) string_map(n["args"], path + ".args", b->mutable_args());
}

void parse_volumes_and_secrets(const YAML::Node& s, const std::string& path, v1::Service& out) {
  if (const YAML::Node& vols = s["volumes"]) {
    if (!vols.IsSequence()) fail(vols, path + ".volumes", "must be a list");
    for (std::size_t i = 0; i < vols.size(); ++i) {
      const std::string at = path + ".volumes[" + std::to_string(i) + "]";
      only_keys(vols[i], at, {"source", "target", "read_only"});
      v1::Volume* v = out.add_volumes();
      if (!vols[i]["source"] || !vols[i]["target"]) fail(vols[i], at, "needs source and target");
      v->set_source(scalar(vols[i]["source"], at + ".source"));
      v->set_target(scalar(vols[i]["target"], at + ".target"));
      if (vols[i]["read_only"]) v->set_read_only(boolean(vols[i]["read_only"], at + ".read_only"));
    }
  }
  if (const YAML::Node& secrets = s["secrets"]) {
    if (!secrets.IsSequence()) fail(secrets, path + ".secrets", "must be a list");
    for (std::size_t i = 0; i < secrets.size(); ++i) {
      const std::string at = path + ".secrets[" + std::to_string(i) + "]";
      const YAML::Node& x = secrets[i];
      only_keys(x, at, {"name", "key", "env", "file"});
      if (!x["name"] || (x["env"] ? 1 : 0) + (x["file"] ? 1 : 0) != 1) {
        fail(x, at, "needs name and exactly one of env (a variable) or file (a path)");
      }
      v1::SecretRef* ref = out.add_secrets();
      ref->set_name(scalar(x["name"], at + ".name"));
      if (x["key"]) ref->set_key(scalar(x["key"], at + ".key"));
      if (x["env"]) ref->set_env_var(scalar(x["env"], at + ".env"));
      if (x["file"]) ref->set_file_path(scalar(x["file"], at + ".file"));
    }
  }
}

v1::Service parse_service(const std::string& name, const YAML::Node& s, const std::string& path) {
  only_keys(s, path,
            {"image", "build", "command", "args", "ports", "env", "health", "resources", "replicas",
             "restart", "working_dir", "labels", "volumes", "secrets", "depends_on", "calls"});
  v1::Service out;
  out.set_name(name);
  if (s["image"] && s["build"]) fail(s, path, "has both image and build; keep one");
  if (s["image"]) out.set_image(scalar(s["image"], path + ".image"));
  if (s["build"]) parse_build(s["build"], path + ".build", out);
  if (s["command"]) {
    for (auto& a : strings(s["command"], path + ".command")) out.add_command(a);
  }
  if (s["args"]) {
    for (auto& a : strings(s["args"], path + ".args")) out.add_args(a);
  }
  if (s["ports"]) parse_ports(s["ports"], path + ".ports", out);
  if (s["env"]) string_map(s["env"], path + ".env", out.mutable_env());
  if (s["health"]) parse_health(s["health"], path + ".health", out);
  if (const YAML::Node& r = s["resources"]) {
    only_keys(r, path + ".resources", {"cpu", "memory", "disk"});
    if (r["cpu"])
      out.mutable_resources()->set_cpu_millis(cpu_millis(r["cpu"], path + ".resources.cpu"));
    if (r["memory"])
      out.mutable_resources()->set_memory_mb(mebibytes(r["memory"], path + ".resources.memory"));
    if (r["disk"])
      out.mutable_resources()->set_disk_mb(mebibytes(r["disk"], path + ".resources.disk"));
  }
  if (s["replicas"])
    out.set_replicas(
        static_cast<std::uint32_t>(number(s["replicas"], path + ".replicas", 1, 1000)));
  if (s["restart"]) out.set_restart_policy(restart(s["restart"], path + ".restart"));
  if (s["working_dir"]) out.set_working_dir(scalar(s["working_dir"], path + ".working_dir"));
  if (s["labels"]) string_map(s["labels"], path + ".labels", out.mutable_labels());
  parse_volumes_and_secrets(s, path, out);
  return out;
}

// depends_on: [db] -> START_ORDER; calls: [api, "api:http", {service: api, port: 8080}] ->
// TRAFFIC to a port of the called service (its only one when none is named).
void parse_edges(const YAML::Node& services, const std::vector<v1::Service>& parsed,
                 std::vector<v1::Edge>& out) {
  std::map<std::string, const v1::Service*> by_name;
  for (const auto& s : parsed) by_name[s.name()] = &s;
  const auto target = [&](const YAML::Node& at, const std::string& path,
                          const std::string& name) -> const v1::Service& {
    const auto it = by_name.find(name);
    if (it == by_name.end()) fail(at, path, "no service is named '" + name + "'");
    return *it->second;
  };
  for (const auto& kv : services) {
    const std::string from = kv.first.Scalar();
    const std::string path = "services." + from;
    if (const YAML::Node& deps = kv.second["depends_on"]) {
      const auto names = strings(deps, path + ".depends_on");
      for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string at = path + ".depends_on[" + std::to_string(i) + "]";
        target(deps[i], at, names[i]);
        v1::Edge& e = out.emplace_back();
        e.set_from_service(from);
        e.set_to_service(names[i]);
        e.set_kind(v1::EDGE_KIND_START_ORDER);
      }
    }
    const YAML::Node& calls = kv.second["calls"];
    if (!calls) continue;
    if (!calls.IsSequence()) fail(calls, path + ".calls", "must be a list of services");
    for (std::size_t i = 0; i < calls.size(); ++i) {
      const std::string at = path + ".calls[" + std::to_string(i) + "]";
      const YAML::Node& c = calls[i];
      std::string name;
      YAML::Node port;
      if (c.IsMap()) {
        only_keys(c, at, {"service", "port"});
        if (!c["service"]) fail(c, at, "needs service");
        name = scalar(c["service"], at + ".service");
        if (c["port"]) port = c["port"];
      } else {
        const std::string text = scalar(c, at);
        const auto colon = text.find(':');
        name = text.substr(0, colon);
        if (colon != std::string::npos) port = YAML::Node(text.substr(colon + 1));
      }
      const v1::Service& to = target(c, at, name);
      v1::Edge& e = out.emplace_back();
      e.set_from_service(from);
      e.set_to_service(name);
      e.set_kind(v1::EDGE_KIND_TRAFFIC);
      if (port.IsDefined() && !port.IsNull()) {
        e.set_port(port_of(to, port, at));
      } else if (to.ports_size() == 1) {
        e.set_port(to.ports(0).container_port());
      } else {
        fail(c, at,
             "service " + name + " has " + std::to_string(to.ports_size()) +
                 " ports: name the one called, e.g. " + name + ":http");
      }
    }
  }
}

}  // namespace

Result<ProjectFile> parse_project_file(std::string_view text, const std::string& file_name) {
  const auto at = [&](const YAML::Mark& m) {
    return m.is_null()
               ? file_name
               : file_name + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  };
  try {
    const YAML::Node root = YAML::Load(std::string(text));
    if (!root.IsMap()) {
      return invalid_argument(file_name + ": must be a mapping with project and services");
    }
    only_keys(root, "", {"project", "services"});
    ProjectFile out;
    if (!root["project"]) fail(root, "project", "is missing: name the project");
    out.project = scalar(root["project"], "project");
    const YAML::Node& services = root["services"];
    if (!services || !services.IsMap() || services.size() == 0) {
      fail(services ? services : root, "services", "needs at least one service (name: {...})");
    }
    for (const auto& kv : services) {
      const std::string name = scalar(kv.first, "services");
      out.services.push_back(parse_service(name, kv.second, "services." + name));
    }
    parse_edges(services, out.services, out.edges);
    return out;
  } catch (const FieldError& e) {
    return invalid_argument(at(e.mark) + ": " + e.path + ": " + e.what);
  } catch (const YAML::Exception& e) {
    return invalid_argument(at(e.mark) + ": not valid YAML: " + e.msg);
  }
}

}  // namespace axion::cli
