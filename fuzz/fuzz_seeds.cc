// fuzz_seeds <dir>: writes the seed corpora of the fuzz targets (<dir>/graph_fuzz: serialized
// PublishGraph commands of a few valid graphs; <dir>/codegen_fuzz: a few byte strings), so each
// run starts from inputs that reach deep into validation and codegen.
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "axion/v1/project.pb.h"
#include "tests/unit/codegen_graphs.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: fuzz_seeds <corpus dir>\n");
    return 2;
  }
  const std::filesystem::path root = argv[1];
  std::filesystem::create_directories(root / "graph_fuzz");
  std::filesystem::create_directories(root / "codegen_fuzz");
  const auto shop = axion::codegen::testing_graphs::shop_graph();
  axion::v1::PublishGraph full;
  full.set_project_id(shop.project_id());
  *full.mutable_services() = shop.services();
  *full.mutable_edges() = shop.edges();
  axion::v1::PublishGraph single;
  single.set_project_id("prj-one");
  *single.add_services() = shop.services(0);
  int n = 0;
  for (const auto* g : {&full, &single}) {
    std::ofstream(root / "graph_fuzz" / ("seed-" + std::to_string(n++)), std::ios::binary)
        << g->SerializeAsString();
  }
  static const char kStrings[] = "web\0api\0worker\0a\"b\nc$(x)\0yes\0*x";
  std::ofstream(root / "codegen_fuzz" / "seed-0", std::ios::binary)
      << std::string(kStrings, sizeof kStrings - 1);
  return 0;
}
