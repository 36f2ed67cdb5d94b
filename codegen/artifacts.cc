#include "codegen/artifacts.h"

#include <algorithm>

#include "commands/content_hash.h"

namespace axion::codegen {

Artifact make_artifact(std::string path, std::string content) {
  Artifact a{std::move(path), std::move(content), ""};
  a.sha256 = commands::sha256_hex(a.content);
  return a;
}

Bundle make_bundle(std::vector<Artifact> artifacts) {
  std::sort(artifacts.begin(), artifacts.end(),
            [](const Artifact& a, const Artifact& b) { return a.path < b.path; });
  std::string index;
  for (const auto& a : artifacts) index += a.path + '\0' + a.sha256 + '\n';
  return Bundle{std::move(artifacts), commands::sha256_hex(index)};
}

}  // namespace axion::codegen
