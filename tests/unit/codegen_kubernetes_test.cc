// codegen/kubernetes: manifests parsed back with yaml-cpp and checked object by object: kinds,
// replicas, probes, resources, ports, hostile env values round-tripping exactly as strings,
// NetworkPolicy peers from edges, byte-stability, and what is refused.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <string>
#include <vector>

#include "codegen/kubernetes.h"
#include "tests/support/kubernetes_graphs.h"

namespace axion::codegen {
namespace {

using axion::testing::example_graph;
using axion::testing::hostile_values;

KubernetesOptions options() {
  KubernetesOptions o;
  o.namespace_name = "acme-prod";
  o.project_name = "shop";
  o.release = "dep-42: \"v7\" # not a comment";
  o.image_for_build_prefix = "registry.example.com/acme";
  return o;
}

std::vector<Artifact> generate(const v1::GraphVersion& g, const KubernetesOptions& o = options()) {
  auto r = generate_kubernetes(g, o);
  EXPECT_TRUE(r.ok()) << r.status().to_string();
  return r.ok() ? r.value() : std::vector<Artifact>{};
}

const Artifact& artifact(const std::vector<Artifact>& all, const std::string& path) {
  auto it = std::find_if(all.begin(), all.end(), [&](const Artifact& a) { return a.path == path; });
  if (it == all.end()) throw std::runtime_error("no artifact " + path);
  return *it;
}

std::vector<YAML::Node> docs(const std::vector<Artifact>& all, const std::string& path) {
  return YAML::LoadAll(artifact(all, path).content);
}

std::vector<std::string> kinds(const std::vector<YAML::Node>& d) {
  std::vector<std::string> out;
  for (const auto& n : d)
    out.push_back(n["apiVersion"].as<std::string>() + " " + n["kind"].as<std::string>());
  return out;
}

YAML::Node of_kind(const std::vector<YAML::Node>& d, const std::string& kind) {
  for (const auto& n : d)
    if (n["kind"].as<std::string>() == kind) return n;
  throw std::runtime_error("no " + kind);
}

std::string env_name(std::size_t i) {
  return "HOSTILE_" + std::string(i < 10 ? "0" : "") + std::to_string(i);
}

void expect_invalid(const Result<std::vector<Artifact>>& r, const std::string& field,
                    const std::string& fragment) {
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status().to_string();
  EXPECT_EQ(r.status().field(), field) << r.status().to_string();
  EXPECT_NE(r.status().message().find(fragment), std::string::npos) << r.status().to_string();
}

TEST(CodegenKubernetes, EmitsTheObjectsOfEachServiceInApplyOrder) {
  const auto all = generate(example_graph());
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].path, "k8s/namespace.yaml");
  EXPECT_EQ(all[1].path, "k8s/api.yaml");
  EXPECT_EQ(all[2].path, "k8s/worker.yaml");
  EXPECT_EQ(all[3].path, "k8s/db.yaml");
  EXPECT_EQ(kinds(docs(all, "k8s/namespace.yaml")), std::vector<std::string>{"v1 Namespace"});
  EXPECT_EQ(
      kinds(docs(all, "k8s/api.yaml")),
      (std::vector<std::string>{
          "v1 ConfigMap", "apps/v1 Deployment", "v1 Service", "networking.k8s.io/v1 NetworkPolicy",
          "autoscaling/v2 HorizontalPodAutoscaler", "policy/v1 PodDisruptionBudget"}));
  // worker: no env, no ports, one replica.
  EXPECT_EQ(kinds(docs(all, "k8s/worker.yaml")),
            (std::vector<std::string>{"apps/v1 Deployment", "networking.k8s.io/v1 NetworkPolicy"}));
  for (const auto& a : all) {
    EXPECT_EQ(a.content.rfind("---\n", 0), 0u) << a.path;
    for (const auto& d : YAML::LoadAll(a.content)) {
      if (d["kind"].as<std::string>() != "Namespace") {  // cluster-scoped
        EXPECT_EQ(d["metadata"]["namespace"].as<std::string>(), "acme-prod") << a.path;
      }
      EXPECT_EQ(d["metadata"]["labels"]["app.kubernetes.io/managed-by"].as<std::string>(), "axion");
      EXPECT_EQ(d["metadata"]["labels"]["app.kubernetes.io/part-of"].as<std::string>(), "shop");
    }
  }
  const auto api = of_kind(docs(all, "k8s/api.yaml"), "Deployment");
  EXPECT_EQ(api["metadata"]["annotations"]["axion.io/release"].as<std::string>(),
            options().release);
}

TEST(CodegenKubernetes, DeploymentCarriesReplicasStrategyImageProbesAndResources) {
  const auto all = generate(example_graph());
  const auto d = of_kind(docs(all, "k8s/api.yaml"), "Deployment");
  EXPECT_EQ(d["metadata"]["name"].as<std::string>(), "api");
  EXPECT_EQ(d["spec"]["replicas"].as<int>(), 3);
  EXPECT_EQ(d["spec"]["strategy"]["type"].as<std::string>(), "RollingUpdate");
  EXPECT_EQ(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"].as<int>(), 0);
  EXPECT_EQ(d["spec"]["strategy"]["rollingUpdate"]["maxSurge"].as<int>(), 1);
  const auto sel = d["spec"]["selector"]["matchLabels"];
  EXPECT_EQ(sel.size(), 2u);
  EXPECT_EQ(sel["app.kubernetes.io/name"].as<std::string>(), "api");
  const auto pod = d["spec"]["template"];
  EXPECT_EQ(pod["metadata"]["labels"]["app.kubernetes.io/name"].as<std::string>(), "api");
  EXPECT_EQ(pod["metadata"]["annotations"]["axion.io/env-hash"].as<std::string>().size(), 64u);
  EXPECT_EQ(pod["spec"]["restartPolicy"].as<std::string>(), "Always");
  EXPECT_FALSE(pod["spec"]["enableServiceLinks"].as<bool>());
  ASSERT_EQ(pod["spec"]["containers"].size(), 1u);
  const auto c = pod["spec"]["containers"][0];
  EXPECT_EQ(c["name"].as<std::string>(), "api");
  EXPECT_EQ(c["image"].as<std::string>(), "ghcr.io/acme/api:1.4.2");
  EXPECT_EQ(c["command"][0].as<std::string>(), "/bin/sh");
  EXPECT_EQ(c["command"][1].as<std::string>(), "-c");
  // Kubernetes would expand $(HOME) and turn $$ into $; doubled, the argv stays literal.
  EXPECT_EQ(c["args"][0].as<std::string>(), "echo $$(HOME) $$$$ \"quoted\"\nnext");
  ASSERT_EQ(c["ports"].size(), 1u);
  EXPECT_EQ(c["ports"][0]["name"].as<std::string>(), "http");
  EXPECT_EQ(c["ports"][0]["containerPort"].as<int>(), 8080);
  EXPECT_EQ(c["ports"][0]["protocol"].as<std::string>(), "TCP");
  for (const char* kind : {"requests", "limits"}) {
    EXPECT_EQ(c["resources"][kind]["cpu"].as<std::string>(), "500m");
    EXPECT_EQ(c["resources"][kind]["memory"].as<std::string>(), "256Mi");
    EXPECT_FALSE(c["resources"][kind]["ephemeral-storage"]);
  }
  const auto ready = c["readinessProbe"];
  const auto live = c["livenessProbe"];
  for (const auto& p : {ready, live}) {
    EXPECT_EQ(p["httpGet"]["path"].as<std::string>(), "/healthz");
    EXPECT_EQ(p["httpGet"]["port"].as<int>(), 8080);
    EXPECT_EQ(p["periodSeconds"].as<int>(), 10);
    EXPECT_EQ(p["timeoutSeconds"].as<int>(), 3);  // 2.5 s rounded up
    EXPECT_EQ(p["failureThreshold"].as<int>(), 3);
  }
  EXPECT_EQ(ready["successThreshold"].as<int>(), 2);
  EXPECT_EQ(live["successThreshold"].as<int>(), 1);  // Kubernetes requires 1 for liveness
  EXPECT_EQ(ready["initialDelaySeconds"].as<int>(), 0);
  EXPECT_EQ(live["initialDelaySeconds"].as<int>(), 15);  // start_period 14.5 s
  // Volumes: a claim for a named volume, hostPath for an absolute one; the secret file.
  const auto vols = pod["spec"]["volumes"];
  ASSERT_EQ(vols.size(), 2u);
  EXPECT_EQ(vols[0]["persistentVolumeClaim"]["claimName"].as<std::string>(), "api-data");
  EXPECT_EQ(vols[1]["secret"]["secretName"].as<std::string>(), "tls-cert");
  EXPECT_EQ(vols[1]["secret"]["items"][0]["key"].as<std::string>(), "value");
  EXPECT_EQ(vols[1]["secret"]["defaultMode"].as<int>(), 0400);
  ASSERT_EQ(c["volumeMounts"].size(), 2u);
  EXPECT_EQ(c["volumeMounts"][0]["mountPath"].as<std::string>(), "/var/lib/api");
  EXPECT_FALSE(c["volumeMounts"][0]["readOnly"].as<bool>());
  EXPECT_EQ(c["volumeMounts"][1]["mountPath"].as<std::string>(), "/etc/tls/cert.pem");
  EXPECT_EQ(c["volumeMounts"][1]["name"].as<std::string>(), vols[1]["name"].as<std::string>());
  const auto worker = of_kind(docs(all, "k8s/worker.yaml"), "Deployment");
  EXPECT_EQ(worker["spec"]["replicas"].as<int>(), 1);  // 0 means 1
  const auto wpod = worker["spec"]["template"]["spec"];
  EXPECT_EQ(wpod["volumes"][0]["hostPath"]["path"].as<std::string>(), "/srv/scratch");
  EXPECT_TRUE(wpod["containers"][0]["volumeMounts"][0]["readOnly"].as<bool>());
  EXPECT_FALSE(wpod["containers"][0]["readinessProbe"]);
  EXPECT_FALSE(wpod["containers"][0]["resources"]);
}

TEST(CodegenKubernetes, HostileEnvValuesRoundTripExactlyAsQuotedStrings) {
  const auto all = generate(example_graph());
  const auto d = docs(all, "k8s/api.yaml");
  const auto data = of_kind(d, "ConfigMap")["data"];
  const auto values = hostile_values();
  ASSERT_EQ(data.size(), values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    const auto v = data[env_name(i)];
    ASSERT_TRUE(v.IsScalar()) << env_name(i);
    EXPECT_EQ(v.as<std::string>(), values[i]) << env_name(i);
    EXPECT_EQ(v.Tag(), "!") << env_name(i) << " is not double-quoted";  // "?" = plain
  }
  // The container reads each variable from the ConfigMap or the Secret, sorted by name.
  const auto env = of_kind(d, "Deployment")["spec"]["template"]["spec"]["containers"][0]["env"];
  ASSERT_EQ(env.size(), values.size() + 1);
  EXPECT_EQ(env[0]["name"].as<std::string>(), "API_TOKEN");
  EXPECT_EQ(env[0]["valueFrom"]["secretKeyRef"]["name"].as<std::string>(), "api-token");
  EXPECT_EQ(env[0]["valueFrom"]["secretKeyRef"]["key"].as<std::string>(), "token");
  for (std::size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(env[i + 1]["name"].as<std::string>(), env_name(i));
    EXPECT_EQ(env[i + 1]["valueFrom"]["configMapKeyRef"]["name"].as<std::string>(), "api-env");
    EXPECT_EQ(env[i + 1]["valueFrom"]["configMapKeyRef"]["key"].as<std::string>(), env_name(i));
    EXPECT_FALSE(env[i + 1]["value"]);
  }
}

TEST(CodegenKubernetes, EveryPrintableAsciiByteAndControlCharacterRoundTrips) {
  auto g = example_graph();
  std::string all_bytes;
  for (int c = 1; c < 0x7f; ++c) all_bytes += static_cast<char>(c);
  (*g.mutable_services(0)->mutable_env())["ALL"] = all_bytes;
  (*g.mutable_services(0)->mutable_env())["yes"] = "no";  // YAML 1.1 booleans as keys
  (*g.mutable_services(0)->mutable_env())["null"] = "~";
  g.mutable_services(0)->add_args(all_bytes);
  const auto d = docs(generate(g), "k8s/api.yaml");
  const auto data = of_kind(d, "ConfigMap")["data"];
  EXPECT_EQ(data["ALL"].as<std::string>(), all_bytes);
  EXPECT_EQ(data["yes"].as<std::string>(), "no");
  EXPECT_EQ(data["null"].as<std::string>(), "~");
  for (const auto& kv : data) EXPECT_EQ(kv.first.Tag(), "!") << kv.first.as<std::string>();
  const auto args = of_kind(d, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"];
  std::string doubled;
  for (char ch : all_bytes) doubled += ch == '$' ? std::string("$$") : std::string(1, ch);
  EXPECT_EQ(args[1].as<std::string>(), doubled);
}

TEST(CodegenKubernetes, ServicesAndNetworkPoliciesFollowPortsAndEdges) {
  auto g = example_graph();
  auto* cache = g.add_services();
  cache->set_name("cache");
  cache->set_image("redis:7");
  *cache->add_ports() = axion::testing::k8s_port(6379, "redis");
  *g.add_edges() = axion::testing::k8s_edge("worker", "cache", v1::EDGE_KIND_TRAFFIC, 6379);
  *g.add_edges() = axion::testing::k8s_edge("api", "cache", v1::EDGE_KIND_TRAFFIC, 6379);
  *g.add_edges() = axion::testing::k8s_edge("worker", "db", v1::EDGE_KIND_TRAFFIC, 9187);
  *g.mutable_services(1)->add_ports() = axion::testing::k8s_port(9000, "jobs");
  const auto all = generate(g);

  const auto db = docs(all, "k8s/db.yaml");
  const auto svc = of_kind(db, "Service");
  EXPECT_EQ(svc["spec"]["type"].as<std::string>(), "ClusterIP");
  EXPECT_EQ(svc["spec"]["selector"]["app.kubernetes.io/name"].as<std::string>(), "db");
  ASSERT_EQ(svc["spec"]["ports"].size(), 3u);
  EXPECT_EQ(svc["spec"]["ports"][0]["name"].as<std::string>(), "pg");
  EXPECT_EQ(svc["spec"]["ports"][1]["name"].as<std::string>(), "udp-5432");  // derived
  EXPECT_EQ(svc["spec"]["ports"][1]["protocol"].as<std::string>(), "UDP");
  EXPECT_EQ(svc["spec"]["ports"][2]["targetPort"].as<int>(), 9187);

  const auto np = of_kind(db, "NetworkPolicy")["spec"];
  EXPECT_EQ(np["podSelector"]["matchLabels"]["app.kubernetes.io/name"].as<std::string>(), "db");
  ASSERT_EQ(np["policyTypes"].size(), 1u);
  EXPECT_EQ(np["policyTypes"][0].as<std::string>(), "Ingress");
  ASSERT_EQ(np["ingress"].size(), 2u);  // api, worker (sorted); worker's START_ORDER edge: none
  const auto from_api = np["ingress"][0];
  EXPECT_EQ(
      from_api["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"].as<std::string>(),
      "api");
  EXPECT_EQ(from_api["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/part-of"]
                .as<std::string>(),
            "shop");
  ASSERT_EQ(from_api["ports"].size(), 2u);  // 5432 is declared for TCP and UDP
  EXPECT_EQ(from_api["ports"][0]["protocol"].as<std::string>(), "TCP");
  EXPECT_EQ(from_api["ports"][0]["port"].as<int>(), 5432);
  EXPECT_EQ(from_api["ports"][1]["protocol"].as<std::string>(), "UDP");
  const auto from_worker = np["ingress"][1];
  EXPECT_EQ(from_worker["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
                .as<std::string>(),
            "worker");
  ASSERT_EQ(from_worker["ports"].size(), 1u);
  EXPECT_EQ(from_worker["ports"][0]["port"].as<int>(), 9187);

  const auto cache_np = of_kind(docs(all, "k8s/cache.yaml"), "NetworkPolicy")["spec"];
  ASSERT_EQ(cache_np["ingress"].size(), 2u);
  EXPECT_EQ(
      cache_np["ingress"][0]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
          .as<std::string>(),
      "api");
  EXPECT_EQ(
      cache_np["ingress"][1]["from"][0]["podSelector"]["matchLabels"]["app.kubernetes.io/name"]
          .as<std::string>(),
      "worker");

  // worker: only a START_ORDER edge points at it, so no ingress at all, even on its port.
  const auto worker_np = of_kind(docs(all, "k8s/worker.yaml"), "NetworkPolicy")["spec"];
  ASSERT_TRUE(worker_np["ingress"].IsSequence());
  EXPECT_EQ(worker_np["ingress"].size(), 0u);
  // api: no edge to it, but 8080 is published (host_port): open to all sources on 8080 only.
  const auto api_np = of_kind(docs(all, "k8s/api.yaml"), "NetworkPolicy")["spec"];
  ASSERT_EQ(api_np["ingress"].size(), 1u);
  EXPECT_FALSE(api_np["ingress"][0]["from"]);
  EXPECT_EQ(api_np["ingress"][0]["ports"][0]["port"].as<int>(), 8080);
}

TEST(CodegenKubernetes, OutputIsByteStableAndIndependentOfEnvInsertionOrder) {
  const auto one = generate(example_graph());
  const auto two = generate(example_graph());
  ASSERT_EQ(one.size(), two.size());
  for (std::size_t i = 0; i < one.size(); ++i) {
    EXPECT_EQ(one[i].content, two[i].content);
    EXPECT_EQ(one[i].sha256, two[i].sha256);
  }
  // Same env inserted in reverse order (protobuf maps iterate in no fixed order).
  auto reversed = example_graph();
  auto* env = reversed.mutable_services(0)->mutable_env();
  std::vector<std::pair<std::string, std::string>> entries(env->begin(), env->end());
  std::sort(entries.begin(), entries.end());
  env->clear();
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) (*env)[it->first] = it->second;
  const auto three = generate(reversed);
  ASSERT_EQ(three.size(), one.size());
  for (std::size_t i = 0; i < one.size(); ++i) EXPECT_EQ(three[i].content, one[i].content);
  // And a real change shows.
  auto changed = example_graph();
  (*changed.mutable_services(0)->mutable_env())["HOSTILE_00"] = "a\"c";
  EXPECT_NE(generate(changed)[1].content, one[1].content);
}

TEST(CodegenKubernetes, BuildSpecNeedsTheImagePrefixAndIsTaggedWithTheGraphHash) {
  auto o = options();
  o.image_for_build_prefix.clear();
  expect_invalid(generate_kubernetes(example_graph(), o), "image_for_build_prefix",
                 "service 'worker' (services[1]) is built from source");
  o.image_for_build_prefix = "Registry Example";
  expect_invalid(generate_kubernetes(example_graph(), o), "image_for_build_prefix",
                 "does not make a valid image reference");
  const auto d = of_kind(docs(generate(example_graph()), "k8s/worker.yaml"), "Deployment");
  EXPECT_EQ(d["spec"]["template"]["spec"]["containers"][0]["image"].as<std::string>(),
            "registry.example.com/acme/worker:0123456789ab");
  // A graph with no build spec needs no prefix.
  auto g = example_graph();
  g.mutable_services(1)->set_image("ghcr.io/acme/worker:2");
  o.image_for_build_prefix.clear();
  EXPECT_TRUE(generate_kubernetes(g, o).ok());
}

TEST(CodegenKubernetes, AutoscalerAndDisruptionBudgetOnlyWithSeveralReplicas) {
  for (std::uint32_t replicas : {0u, 1u, 2u, 5u}) {
    auto g = example_graph();
    g.mutable_services(2)->set_replicas(replicas);
    const auto d = docs(generate(g), "k8s/db.yaml");
    const auto k = kinds(d);
    const bool has_hpa = std::count(k.begin(), k.end(), "autoscaling/v2 HorizontalPodAutoscaler");
    const bool has_pdb = std::count(k.begin(), k.end(), "policy/v1 PodDisruptionBudget");
    EXPECT_EQ(has_hpa, replicas > 1) << replicas;
    EXPECT_EQ(has_pdb, replicas > 1) << replicas;
    EXPECT_EQ(of_kind(d, "Deployment")["spec"]["replicas"].as<std::uint32_t>(),
              std::max(1u, replicas));
    if (replicas <= 1) continue;
    const auto hpa = of_kind(d, "HorizontalPodAutoscaler")["spec"];
    EXPECT_EQ(hpa["scaleTargetRef"]["kind"].as<std::string>(), "Deployment");
    EXPECT_EQ(hpa["scaleTargetRef"]["name"].as<std::string>(), "db");
    EXPECT_EQ(hpa["minReplicas"].as<std::uint32_t>(), replicas);
    EXPECT_EQ(hpa["maxReplicas"].as<std::uint32_t>(), 2 * replicas);
    EXPECT_EQ(hpa["metrics"][0]["resource"]["name"].as<std::string>(), "cpu");
    EXPECT_EQ(hpa["metrics"][0]["resource"]["target"]["type"].as<std::string>(), "Utilization");
    EXPECT_EQ(hpa["metrics"][0]["resource"]["target"]["averageUtilization"].as<int>(), 80);
    const auto pdb = of_kind(d, "PodDisruptionBudget")["spec"];
    EXPECT_EQ(pdb["minAvailable"].as<int>(), 1);
    EXPECT_EQ(pdb["selector"]["matchLabels"]["app.kubernetes.io/name"].as<std::string>(), "db");
  }
}

TEST(CodegenKubernetes, NoNamespaceMeansNoNamespaceFileOrField) {
  auto o = options();
  o.namespace_name.clear();
  o.project_name.clear();
  o.release.clear();
  const auto all = generate(example_graph(), o);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].path, "k8s/api.yaml");
  for (const auto& a : all) {
    for (const auto& d : YAML::LoadAll(a.content)) {
      EXPECT_FALSE(d["metadata"]["namespace"]);
      EXPECT_FALSE(d["metadata"]["annotations"]);
      EXPECT_FALSE(d["metadata"]["labels"]["app.kubernetes.io/part-of"]);
    }
  }
}

TEST(CodegenKubernetes, RefusesWhatAManifestCannotCarry) {
  auto bad_utf8 = example_graph();
  (*bad_utf8.mutable_services(0)->mutable_env())["BAD"] = "ok\xc0\xaf";  // overlong '/'
  expect_invalid(generate_kubernetes(bad_utf8, options()), "services[0].env['BAD']",
                 "invalid UTF-8 at byte 2");
  auto del = example_graph();
  del.mutable_services(0)->add_args("x\x7fy");
  expect_invalid(generate_kubernetes(del, options()), "services[0].args[1]", "DEL");
  auto nonchar = example_graph();
  nonchar.mutable_services(2)->add_command("\xef\xbf\xbe");
  expect_invalid(generate_kubernetes(nonchar, options()), "services[2].command[0]", "noncharacter");
  auto no_restart = example_graph();
  no_restart.mutable_services(1)->set_restart_policy(v1::RESTART_POLICY_NO);
  expect_invalid(generate_kubernetes(no_restart, options()), "services[1].restart_policy",
                 "restart policy NO");
  auto long_port = example_graph();
  long_port.mutable_services(2)->mutable_ports(2)->set_name("metrics-exporter-port");
  expect_invalid(generate_kubernetes(long_port, options()), "services[2].ports[2].name",
                 "not a Kubernetes port name");
  auto digit_name = example_graph();
  digit_name.mutable_services(2)->set_name("9db");
  for (auto& e : *digit_name.mutable_edges())
    if (e.to_service() == "db") e.set_to_service("9db");
  expect_invalid(generate_kubernetes(digit_name, options()), "services[2].name",
                 "must start with a letter");
  auto secret = example_graph();
  secret.mutable_services(0)->mutable_secrets(0)->set_name("API_TOKEN");
  expect_invalid(generate_kubernetes(secret, options()), "services[0].secrets[0].name",
                 "not a Kubernetes Secret name");
  auto volume = example_graph();
  volume.mutable_services(0)->mutable_volumes(0)->set_source("./data");
  expect_invalid(generate_kubernetes(volume, options()), "services[0].volumes[0].source",
                 "neither an absolute host path");
  auto self_edge = example_graph();  // what validate_graph refuses is refused too
  *self_edge.add_edges() = axion::testing::k8s_edge("db", "db", v1::EDGE_KIND_START_ORDER);
  EXPECT_EQ(generate_kubernetes(self_edge, options()).status().code(),
            StatusCode::kInvalidArgument);

  auto o = options();
  o.namespace_name = "Prod\nkind: Secret";
  expect_invalid(generate_kubernetes(example_graph(), o), "namespace_name", "not a DNS label");
  o = options();
  o.project_name = "shop: {}";
  expect_invalid(generate_kubernetes(example_graph(), o), "project_name", "label value");
  o = options();
  o.release = "r\xff";
  expect_invalid(generate_kubernetes(example_graph(), o), "release", "invalid UTF-8");
}

}  // namespace
}  // namespace axion::codegen
