// Checks of the Kubernetes generator (impl/kubernetes_internal.h): what the graph validator
// allows but a manifest cannot carry. Text must be UTF-8 that YAML can hold (yaml-cpp would
// silently replace invalid sequences and noncharacters, and Kubernetes' YAML parser refuses a
// raw DEL), and names must follow Kubernetes' rules where those are stricter than the graph's.
#include <algorithm>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "codegen/impl/kubernetes_internal.h"
#include "codegen/yaml_text.h"
#include "commands/field_checks.h"

namespace axion::codegen::k8s {

namespace {

using axion::v1::Service;
using commands::quote;

Status check_text(std::string_view value, const std::string& field, const std::string& what) {
  if (auto p = yaml_text_problem(value); !p.empty())
    return invalid_field(field, what + " " + quote(value) +
                                    " cannot be written to a Kubernetes "
                                    "manifest: it contains " +
                                    p + " (use UTF-8 text)");
  return ok_status();
}

Status check_argv(const google::protobuf::RepeatedPtrField<std::string>& argv,
                  const std::string& field, const std::string& what) {
  for (int i = 0; i < argv.size(); ++i)
    AXION_RETURN_IF_ERROR(check_text(argv[i], field + "[" + std::to_string(i) + "]", what));
  return ok_status();
}

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// RFC 1123 subdomain (Secret and PersistentVolumeClaim names): at most 253 of [a-z0-9.-],
// starting and ending with a letter or digit.
bool dns_subdomain(std::string_view s) {
  if (s.empty() || s.size() > 253 || !lower_alnum(s.front()) || !lower_alnum(s.back()))
    return false;
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return lower_alnum(c) || c == '-' || c == '.'; });
}

// IANA service name (Kubernetes port names): at most 15 of [a-z0-9-], at least one letter, no
// leading, trailing or double '-'.
bool iana_service_name(std::string_view s) {
  if (s.empty() || s.size() > 15 || s.front() == '-' || s.back() == '-') return false;
  if (s.find("--") != std::string_view::npos) return false;
  if (!std::all_of(s.begin(), s.end(), [](char c) { return lower_alnum(c) || c == '-'; }))
    return false;
  return std::any_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; });
}

// Kubernetes label value: at most 63 of [A-Za-z0-9._-], starting and ending alphanumeric.
bool label_value(std::string_view s) {
  auto alnum = [](char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); };
  if (s.size() > 63 || (!s.empty() && (!alnum(s.front()) || !alnum(s.back())))) return false;
  return std::all_of(s.begin(), s.end(),
                     [&](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

bool secret_key_ok(std::string_view s) {
  return !s.empty() && s.size() <= 253 && std::all_of(s.begin(), s.end(), [](char c) {
    return lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_';
  });
}

Status check_names(const Service& s, const std::string& base, const std::string& who) {
  if (!s.ports().empty() && !(s.name().front() >= 'a' && s.name().front() <= 'z'))
    return invalid_field(base + ".name", who +
                                             ": a Kubernetes Service name must start with a "
                                             "letter (RFC 1035), and this service has ports");
  for (int p = 0; p < s.ports_size(); ++p) {
    const std::string& name = s.ports(p).name();
    if (!name.empty() && !iana_service_name(name))
      return invalid_field(base + ".ports[" + std::to_string(p) + "].name",
                           who + ": port name " + quote(name) +
                               " is not a Kubernetes port name: "
                               "use at most 15 of [a-z0-9-] with at least one letter and no '--'");
  }
  for (int i = 0; i < s.secrets_size(); ++i) {
    const auto& sec = s.secrets(i);
    const std::string f = base + ".secrets[" + std::to_string(i) + "]";
    if (!dns_subdomain(sec.name()))
      return invalid_field(f + ".name", who + ": secret name " + quote(sec.name()) +
                                            " is not a Kubernetes Secret name: use at most 253 "
                                            "of [a-z0-9.-], starting and ending alphanumeric");
    if (!sec.key().empty() && !secret_key_ok(sec.key()))
      return invalid_field(f + ".key", who + ": secret key " + quote(sec.key()) +
                                           " is not a Kubernetes Secret key: use [A-Za-z0-9._-]");
    if (sec.has_file_path())
      AXION_RETURN_IF_ERROR(check_text(sec.file_path(), f + ".file_path", who + ": secret path"));
  }
  for (int i = 0; i < s.volumes_size(); ++i) {
    const auto& v = s.volumes(i);
    const std::string f = base + ".volumes[" + std::to_string(i) + "]";
    AXION_RETURN_IF_ERROR(check_text(v.source(), f + ".source", who + ": volume source"));
    AXION_RETURN_IF_ERROR(check_text(v.target(), f + ".target", who + ": volume target"));
    if (v.source().front() != '/' && !dns_subdomain(v.source()))
      return invalid_field(f + ".source", who + ": volume source " + quote(v.source()) +
                                              " is neither an absolute host path (hostPath) nor "
                                              "a PersistentVolumeClaim name ([a-z0-9.-])");
  }
  return ok_status();
}

}  // namespace

Status check_options(const KubernetesOptions& options) {
  if (!options.namespace_name.empty()) {
    if (auto p = commands::dns_label_problem(options.namespace_name); !p.empty())
      return invalid_field("namespace_name", "namespace " + quote(options.namespace_name) +
                                                 " is not a DNS label (" + p +
                                                 "): " + std::string(commands::kDnsLabelRule));
  }
  if (!label_value(options.project_name))
    return invalid_field("project_name",
                         "project name " + quote(options.project_name) +
                             " is not a Kubernetes label value: use at most 63 of "
                             "[A-Za-z0-9._-], starting and ending with a letter or digit");
  if (options.release.size() > 1024)
    return invalid_field(
        "release", "release is " + std::to_string(options.release.size()) + " bytes; at most 1024");
  return check_text(options.release, "release", "release");
}

Status check_service(const Service& s, int index) {
  const std::string base = "services[" + std::to_string(index) + "]";
  const std::string who = "service '" + s.name() + "'";  // a DNS label: validated
  if (s.restart_policy() == axion::v1::RESTART_POLICY_NO)
    return invalid_field(base + ".restart_policy",
                         who +
                             ": restart policy NO cannot be rendered: a Deployment always "
                             "restarts its pods; run one-shot tasks outside the graph "
                             "(a Kubernetes Job is not generated)");
  AXION_RETURN_IF_ERROR(check_names(s, base, who));
  AXION_RETURN_IF_ERROR(check_argv(s.command(), base + ".command", who + ": command entry"));
  AXION_RETURN_IF_ERROR(check_argv(s.args(), base + ".args", who + ": args entry"));
  if (s.health_check().has_exec())
    AXION_RETURN_IF_ERROR(check_argv(s.health_check().exec().argv(),
                                     base + ".health_check.exec.argv",
                                     who + ": health check entry"));
  AXION_RETURN_IF_ERROR(check_text(s.working_dir(), base + ".working_dir", who + ": working_dir"));
  std::vector<std::string> names;
  for (const auto& [k, v] : s.env()) names.push_back(k);
  std::sort(names.begin(), names.end());  // the first problem must not depend on map order
  for (const auto& k : names)
    AXION_RETURN_IF_ERROR(check_text(s.env().at(k), base + ".env[" + quote(k) + "]",
                                     who + ": env var " + k + " value"));
  return ok_status();
}

Result<std::vector<std::string>> service_port_names(const Service& s, int index) {
  std::vector<std::string> names;
  std::set<std::string> taken;
  for (const auto& p : s.ports()) taken.insert(p.name());
  for (int i = 0; i < s.ports_size(); ++i) {
    const auto& p = s.ports(i);
    if (!p.name().empty() || s.ports_size() == 1) {
      names.push_back(p.name());
      continue;
    }
    const bool udp = p.protocol() == axion::v1::PORT_PROTOCOL_UDP;
    std::string derived = (udp ? "udp-" : "tcp-") + std::to_string(p.container_port());
    if (taken.contains(derived))
      return invalid_field(
          "services[" + std::to_string(index) + "].ports[" + std::to_string(i) + "].name",
          "service '" + s.name() + "': port " + std::to_string(p.container_port()) +
              " needs a name (Kubernetes names every port of a Service with "
              "several) and the derived name '" +
              derived + "' is taken");
    taken.insert(derived);
    names.push_back(std::move(derived));
  }
  return names;
}

}  // namespace axion::codegen::k8s
