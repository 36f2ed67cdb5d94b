// Kubernetes manifests from a published graph version: per service a ConfigMap (its env), a
// Deployment, a ClusterIP Service (when it has ports), a NetworkPolicy derived from the graph's
// edges, and, with replicas > 1, a HorizontalPodAutoscaler and a PodDisruptionBudget; plus a
// Namespace when one is named. Pure and deterministic: the same graph and options give the same
// bytes. Every user string is emitted double-quoted by yaml-cpp, so it parses back as exactly
// that string; what a manifest cannot carry (invalid UTF-8, a DEL byte, a name Kubernetes
// refuses, restart policy NO) is refused with INVALID_ARGUMENT naming the field.
#pragma once

#include <string>
#include <vector>

#include "axion/v1/project.pb.h"
#include "codegen/artifacts.h"
#include "common/status.h"

namespace axion::codegen {

struct KubernetesOptions {
  // Namespace of every object, and k8s/namespace.yaml creating it; empty = no namespace field
  // (kubectl's current one) and no namespace.yaml. An RFC 1123 label.
  std::string namespace_name;
  // Label app.kubernetes.io/part-of (and part of every selector, so two projects can share a
  // namespace); empty = no such label. A Kubernetes label value: at most 63 of [A-Za-z0-9._-],
  // starting and ending with a letter or digit.
  std::string project_name;
  // Annotation axion.io/release on every object (a deployment id, "v12"); empty = none. Any
  // text: annotations are not parsed.
  std::string release;
  // Image repository prefix for services built from source: such a service runs
  // "<prefix>/<service>:<first 12 hex digits of the graph content hash>", the tag the builder
  // pushes. Required when any service has a build spec, e.g. "registry.example.com/acme".
  std::string image_for_build_prefix;
};

// The manifests: "k8s/namespace.yaml" (when a namespace is named) first, then one multi-document
// "k8s/<service>.yaml" per service in graph order. The graph is validated first
// (commands::validate_graph); INVALID_ARGUMENT with the field path for what cannot be rendered.
//
// Mapping choices (codegen/README.md has the reasons):
//  - env: a ConfigMap "<service>-env" holds the values; the container reads each variable with
//    valueFrom.configMapKeyRef (values from a ConfigMap are never $(VAR)-expanded). Secrets are
//    valueFrom.secretKeyRef / a secret volume naming a Kubernetes Secret of the same name, key
//    SecretRef.key or "value" when empty; values never appear in a manifest.
//  - command, args and exec probes: every '$' is written as "$$", because Kubernetes expands
//    $(VAR) there and the graph's argv is literal.
//  - restart policy: a Deployment's pods always restart (restartPolicy Always), which serves
//    ALWAYS, UNLESS_STOPPED, ON_FAILURE and unset; NO (a one-shot task) is refused.
//  - probes: readiness and liveness from the health check; liveness waits start_period
//    (initialDelaySeconds) and has successThreshold 1 (Kubernetes requires it); readiness starts
//    at once, as a Docker health check may pass during its start period.
//  - NetworkPolicy: ingress only from the services with a TRAFFIC edge to this one, on the
//    edge's port, plus from anywhere on ports with a host_port (published); START_ORDER edges
//    grant nothing; egress is not restricted.
//  - volumes: an absolute source is a hostPath, a name is a PersistentVolumeClaim (not created
//    here); the Volume message has no ephemeral kind, so no emptyDir is produced.
Result<std::vector<Artifact>> generate_kubernetes(const axion::v1::GraphVersion& graph,
                                                  const KubernetesOptions& options);

}  // namespace axion::codegen
