// What codegen produces: artifacts (a relative path and its bytes), each content-addressed by its
// SHA-256, and a bundle of them whose hash — over the sorted (path, hash) pairs — is what a
// DeploymentConfigGenerated event records. Same graph in, same bytes and hashes out.
#pragma once

#include <string>
#include <vector>

namespace axion::codegen {

struct Artifact {
  std::string path;     // relative, '/'-separated, e.g. "docker-compose.yml", "k8s/api.yaml"
  std::string content;  // the bytes
  std::string sha256;   // lowercase hex of content
};

// An artifact with its hash filled in.
Artifact make_artifact(std::string path, std::string content);

struct Bundle {
  std::vector<Artifact> artifacts;  // sorted by path
  std::string hash;                 // SHA-256 of "path\0sha256\n" for each, in path order
};

// Sorts the artifacts by path and computes the bundle hash. Paths must be unique.
Bundle make_bundle(std::vector<Artifact> artifacts);

}  // namespace axion::codegen
