// The workload objects of the Kubernetes generator (impl/kubernetes_internal.h): a service's
// ConfigMap (its plain env) and its Deployment (container, env references, resources, probes,
// volumes, rolling-update strategy).
#include <algorithm>
#include <string>
#include <vector>

#include "codegen/impl/kubernetes_internal.h"
#include "commands/content_hash.h"

namespace axion::codegen::k8s {

namespace {

using axion::v1::Service;

std::vector<std::string> sorted_env_names(const Service& s) {
  std::vector<std::string> names;
  for (const auto& [k, v] : s.env()) names.push_back(k);
  std::sort(names.begin(), names.end());
  return names;
}

// Whole seconds, rounded up: Kubernetes probe fields are integer seconds.
std::int64_t ceil_seconds(const google::protobuf::Duration& d) {
  return d.seconds() + (d.nanos() > 0 ? 1 : 0);
}

// SHA-256 of the env, so a changed ConfigMap changes the pod template and rolls the pods
// (Kubernetes does not restart pods when a ConfigMap they read changes).
std::string env_hash(const Service& s) {
  std::string data;
  for (const auto& k : sorted_env_names(s)) data += k + '\0' + s.env().at(k) + '\n';
  return commands::sha256_hex(data);
}

void emit_env(YAML::Emitter& out, const Service& s) {
  struct Entry {
    std::string name;
    const axion::v1::SecretRef* secret;  // null: from the ConfigMap
  };
  std::vector<Entry> entries;
  for (const auto& k : sorted_env_names(s)) entries.push_back({k, nullptr});
  for (const auto& sec : s.secrets())
    if (sec.has_env_var()) entries.push_back({sec.env_var(), &sec});
  if (entries.empty()) return;
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });  // names are unique
  key(out, "env");
  out << YAML::BeginSeq;
  for (const auto& e : entries) {
    out << YAML::BeginMap;
    kv(out, "name", e.name);
    key(out, "valueFrom");
    out << YAML::BeginMap;
    key(out, e.secret ? "secretKeyRef" : "configMapKeyRef");
    out << YAML::BeginMap;
    kv(out, "name", e.secret ? e.secret->name() : config_map_name(s.name()));
    kv(out, "key", e.secret ? secret_key(*e.secret) : e.name);
    out << YAML::EndMap << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void emit_resources(YAML::Emitter& out, const axion::v1::Resources& r) {
  StringMap amounts;
  if (r.cpu_millis() > 0) amounts["cpu"] = std::to_string(r.cpu_millis()) + "m";
  if (r.memory_mb() > 0) amounts["memory"] = std::to_string(r.memory_mb()) + "Mi";
  if (r.disk_mb() > 0) amounts["ephemeral-storage"] = std::to_string(r.disk_mb()) + "Mi";
  if (amounts.empty()) return;
  // Limits equal to requests: the reservation is what the scheduler and the graph promise
  // (Guaranteed QoS when both cpu and memory are set).
  key(out, "resources");
  out << YAML::BeginMap;
  key(out, "requests");
  string_map(out, amounts);
  key(out, "limits");
  string_map(out, amounts);
  out << YAML::EndMap;
}

void emit_probe(YAML::Emitter& out, const char* name, const axion::v1::HealthCheck& h,
                bool liveness) {
  key(out, name);
  out << YAML::BeginMap;
  switch (h.kind_case()) {
    case axion::v1::HealthCheck::kHttp:
      key(out, "httpGet");
      out << YAML::BeginMap;
      kv(out, "path", h.http().path());
      kv(out, "port", static_cast<std::int64_t>(h.http().port()));
      out << YAML::EndMap;
      break;
    case axion::v1::HealthCheck::kTcp:
      key(out, "tcpSocket");
      out << YAML::BeginMap;
      kv(out, "port", static_cast<std::int64_t>(h.tcp().port()));
      out << YAML::EndMap;
      break;
    case axion::v1::HealthCheck::kExec:
      key(out, "exec");
      out << YAML::BeginMap;
      key(out, "command");
      string_seq(out, escape_dollars(h.exec().argv()));
      out << YAML::EndMap;
      break;
    case axion::v1::HealthCheck::KIND_NOT_SET:
      break;  // refused by the graph validator
  }
  kv(out, "initialDelaySeconds", liveness ? ceil_seconds(h.start_period()) : 0);
  kv(out, "periodSeconds", std::max<std::int64_t>(1, ceil_seconds(h.interval())));
  kv(out, "timeoutSeconds", std::max<std::int64_t>(1, ceil_seconds(h.timeout())));
  kv(out, "successThreshold", liveness ? 1 : static_cast<std::int64_t>(h.healthy_threshold()));
  kv(out, "failureThreshold", static_cast<std::int64_t>(h.unhealthy_threshold()));
  out << YAML::EndMap;
}

// Volume names in the pod: "data-<i>" for Volume i, "secret-<i>" for SecretRef i.
void emit_volume_mounts(YAML::Emitter& out, const Service& s) {
  std::vector<int> files;
  for (int i = 0; i < s.secrets_size(); ++i)
    if (s.secrets(i).has_file_path()) files.push_back(i);
  if (s.volumes().empty() && files.empty()) return;
  key(out, "volumeMounts");
  out << YAML::BeginSeq;
  for (int i = 0; i < s.volumes_size(); ++i) {
    out << YAML::BeginMap;
    kv(out, "name", "data-" + std::to_string(i));
    kv(out, "mountPath", s.volumes(i).target());
    key(out, "readOnly");
    out << s.volumes(i).read_only();
    out << YAML::EndMap;
  }
  for (int i : files) {
    out << YAML::BeginMap;
    kv(out, "name", "secret-" + std::to_string(i));
    kv(out, "mountPath", s.secrets(i).file_path());
    kv(out, "subPath", "value");
    key(out, "readOnly");
    out << true;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void emit_volumes(YAML::Emitter& out, const Service& s) {
  bool any = !s.volumes().empty();
  for (const auto& sec : s.secrets()) any = any || sec.has_file_path();
  if (!any) return;
  key(out, "volumes");
  out << YAML::BeginSeq;
  for (int i = 0; i < s.volumes_size(); ++i) {
    const auto& v = s.volumes(i);
    out << YAML::BeginMap;
    kv(out, "name", "data-" + std::to_string(i));
    const bool host = v.source().front() == '/';  // checked: absolute path or a claim name
    key(out, host ? "hostPath" : "persistentVolumeClaim");
    out << YAML::BeginMap;
    kv(out, host ? "path" : "claimName", v.source());
    out << YAML::EndMap << YAML::EndMap;
  }
  for (int i = 0; i < s.secrets_size(); ++i) {
    const auto& sec = s.secrets(i);
    if (!sec.has_file_path()) continue;
    out << YAML::BeginMap;
    kv(out, "name", "secret-" + std::to_string(i));
    key(out, "secret");
    out << YAML::BeginMap;
    kv(out, "secretName", sec.name());
    key(out, "items");
    out << YAML::BeginSeq << YAML::BeginMap;
    kv(out, "key", secret_key(sec));
    kv(out, "path", "value");
    out << YAML::EndMap << YAML::EndSeq;
    kv(out, "defaultMode", 0400);  // the SecretRef contract: mode 0400
    out << YAML::EndMap << YAML::EndMap;
  }
  out << YAML::EndSeq;
}

void emit_container(YAML::Emitter& out, const ServicePlan& plan) {
  const Service& s = plan.service;
  out << YAML::BeginSeq << YAML::BeginMap;
  kv(out, "name", s.name());
  kv(out, "image", plan.image);
  if (!s.command().empty()) {
    key(out, "command");
    string_seq(out, escape_dollars(s.command()));
  }
  if (!s.args().empty()) {
    key(out, "args");
    string_seq(out, escape_dollars(s.args()));
  }
  if (!s.working_dir().empty()) kv(out, "workingDir", s.working_dir());
  if (!s.ports().empty()) {
    key(out, "ports");
    out << YAML::BeginSeq;
    for (const auto& p : s.ports()) {
      out << YAML::BeginMap;
      if (!p.name().empty()) kv(out, "name", p.name());
      kv(out, "containerPort", static_cast<std::int64_t>(p.container_port()));
      kv(out, "protocol", std::string(protocol_name(p.protocol())));
      out << YAML::EndMap;
    }
    out << YAML::EndSeq;
  }
  emit_env(out, s);
  emit_resources(out, s.resources());
  if (s.has_health_check()) {
    emit_probe(out, "readinessProbe", s.health_check(), false);
    emit_probe(out, "livenessProbe", s.health_check(), true);
  }
  emit_volume_mounts(out, s);
  out << YAML::EndMap << YAML::EndSeq;
}

}  // namespace

void emit_config_map(YAML::Emitter& out, const ServicePlan& plan,
                     const KubernetesOptions& options) {
  const Service& s = plan.service;
  out << YAML::BeginDoc << YAML::BeginMap;
  kv(out, "apiVersion", "v1");
  kv(out, "kind", "ConfigMap");
  metadata(out, config_map_name(s.name()), s.name(), options);
  key(out, "data");
  StringMap data(s.env().begin(), s.env().end());
  string_map(out, data);
  out << YAML::EndMap;
}

void emit_deployment(YAML::Emitter& out, const ServicePlan& plan,
                     const KubernetesOptions& options) {
  const Service& s = plan.service;
  out << YAML::BeginDoc << YAML::BeginMap;
  kv(out, "apiVersion", "apps/v1");
  kv(out, "kind", "Deployment");
  metadata(out, s.name(), s.name(), options);
  key(out, "spec");
  out << YAML::BeginMap;
  kv(out, "replicas", static_cast<std::int64_t>(replicas_of(s)));
  key(out, "selector");
  match_labels(out, s.name(), options);
  key(out, "strategy");
  out << YAML::BeginMap;
  kv(out, "type", "RollingUpdate");
  key(out, "rollingUpdate");
  out << YAML::BeginMap;  // a new pod must be ready before an old one goes
  kv(out, "maxUnavailable", 0);
  kv(out, "maxSurge", 1);
  out << YAML::EndMap << YAML::EndMap;
  key(out, "template");
  out << YAML::BeginMap;
  key(out, "metadata");
  out << YAML::BeginMap;
  key(out, "labels");
  string_map(out, object_labels(s.name(), options));
  if (!s.env().empty()) {
    key(out, "annotations");
    string_map(out, {{"axion.io/env-hash", env_hash(s)}});
  }
  out << YAML::EndMap;
  key(out, "spec");
  out << YAML::BeginMap;
  // The service talks to the services of its edges, not to the Kubernetes API, and gets the env
  // of its graph only (no injected FOO_SERVICE_HOST variables that could shadow it).
  key(out, "automountServiceAccountToken");
  out << false;
  key(out, "enableServiceLinks");
  out << false;
  kv(out, "restartPolicy", "Always");
  key(out, "containers");
  emit_container(out, plan);
  emit_volumes(out, s);
  out << YAML::EndMap << YAML::EndMap << YAML::EndMap << YAML::EndMap;
}

}  // namespace axion::codegen::k8s
