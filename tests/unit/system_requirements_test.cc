// CalculateSystemRequirements: steady state, the deployment peak of each strategy, the smallest
// server, the recommended count, Docker, and the fit against a cluster with what is short.
#include "sagas/system_requirements.h"

#include <gtest/gtest.h>

namespace axion::sagas {
namespace {

namespace v1 = axion::v1;

v1::Resources res(std::uint32_t cpu, std::uint64_t mem, std::uint64_t disk) {
  v1::Resources r;
  r.set_cpu_millis(cpu);
  r.set_memory_mb(mem);
  r.set_disk_mb(disk);
  return r;
}

// web: 3 x (500m, 512 MiB, 100 MiB); db: 1 x (1000m, 2048 MiB, 10000 MiB), an image.
v1::GraphVersion graph() {
  v1::GraphVersion g;
  auto* web = g.add_services();
  web->set_name("web");
  web->add_command("/usr/bin/web");
  web->set_replicas(3);
  *web->mutable_resources() = res(500, 512, 100);
  auto* db = g.add_services();
  db->set_name("db");
  db->set_image("postgres:15");
  *db->mutable_resources() = res(1000, 2048, 10000);
  return g;
}

TEST(SystemRequirements, SteadyPeakAndSmallestServer) {
  const auto r = calculate_system_requirements(graph(), {}, nullptr);
  EXPECT_EQ(r.steady().cpu_millis(), 2500u);
  EXPECT_EQ(r.steady().memory_mb(), 3584u);
  EXPECT_EQ(r.steady().disk_mb(), 10300u);
  // Rolling, batch 1: the largest single replica (db) beside the steady state.
  EXPECT_EQ(r.peak().memory_mb(), 3584u + 2048u);
  EXPECT_EQ(r.per_service().at("web").memory_mb(), 512u);
  EXPECT_EQ(r.min_server().memory_mb(), 2048u + kAgentMemoryMb);
  EXPECT_EQ(r.min_server().cpu_millis(), 1000u + kAgentCpuMillis);
  EXPECT_EQ(r.recommended_servers(), 3u);
  EXPECT_TRUE(r.requires_docker()) << "db runs an image";
  EXPECT_FALSE(r.fits());
  EXPECT_TRUE(r.shortfalls().empty());

  v1::Strategy rolling;
  rolling.mutable_rolling()->set_batch_size(3);  // web's whole batch: 1536 MiB < db's 2048
  EXPECT_EQ(calculate_system_requirements(graph(), rolling, nullptr).peak().memory_mb(),
            3584u + 2048u);
  v1::Strategy bg;
  bg.mutable_blue_green();
  EXPECT_EQ(calculate_system_requirements(graph(), bg, nullptr).peak().memory_mb(), 2 * 3584u);
  v1::Strategy canary;
  canary.mutable_canary()->add_weights(10);
  EXPECT_EQ(calculate_system_requirements(graph(), canary, nullptr).peak().cpu_millis(), 5000u);
}

TEST(SystemRequirements, FitsAClusterOrSaysWhatIsShort) {
  std::vector<ServerCapacity> big = {{"a", res(4000, 8192, 100000)}, {"b", res(4000, 8192, 100000)}};
  const auto ok = calculate_system_requirements(graph(), {}, &big);
  EXPECT_TRUE(ok.fits());
  EXPECT_TRUE(ok.shortfalls().empty()) << ok.shortfalls(0);

  std::vector<ServerCapacity> small = {{"a", res(2000, 2048, 5000)}, {"b", res(2000, 2048, 5000)},
                                       {"new", res(0, 0, 0)}};
  const auto short_of = calculate_system_requirements(graph(), {}, &small);
  EXPECT_FALSE(short_of.fits());
  std::string all;
  for (const auto& s : short_of.shortfalls()) all += s + "\n";
  EXPECT_NE(all.find("server new: capacity unknown"), std::string::npos) << all;
  EXPECT_NE(all.find("memory: the deployment peak needs 5632 MiB, the cluster has 3712 MiB"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("disk: the deployment peak needs 20300 MiB"), std::string::npos) << all;
  EXPECT_NE(all.find("no server can hold the largest replica"), std::string::npos) << all;

  const std::vector<ServerCapacity> unknown = {{"x", res(0, 0, 0)}};
  const auto none = calculate_system_requirements(graph(), {}, &unknown);
  EXPECT_FALSE(none.fits());

  v1::GraphVersion bare;
  bare.add_services()->set_name("tiny");
  const auto unsized = calculate_system_requirements(bare, {}, &big);
  EXPECT_TRUE(unsized.fits());
  ASSERT_EQ(unsized.shortfalls_size(), 1);
  EXPECT_NE(unsized.shortfalls(0).find("no resources declared for tiny"), std::string::npos);
}

}  // namespace
}  // namespace axion::sagas
