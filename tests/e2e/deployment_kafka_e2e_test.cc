// The deployment saga in cluster mode: axion-server on the real Kafka broker (KAFKA_BROKERS)
// with its views in PostgreSQL (DATABASE_URL), both started by scripts/test. The saga
// processor's commands, agent tasks and input offsets go out in Kafka transactions. A canary
// with its error-rate gate moves v1 -> v2 under load without a failed request; then the server
// is killed with SIGKILL while v3 deploys, and after the restart (its new transactional
// producer fences the dead one, the consumer groups hand the partitions over again) the
// deployment ends with exactly v3's replicas running: nothing lost, nothing started twice.
#include <cstdlib>

#include "tests/e2e/deployment_fixture.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;

class KafkaDeploymentE2E : public DeploymentE2E {
 protected:
  void SetUp() override {
    const char* brokers = std::getenv("KAFKA_BROKERS");
    const char* database = std::getenv("DATABASE_URL");
    ASSERT_TRUE(brokers && *brokers && database && *database)
        << "KAFKA_BROKERS and DATABASE_URL are not set: run the suite through scripts/test, "
           "which starts the broker and PostgreSQL";
    const std::string id = "deploy-e2e-" + std::to_string(getpid());
    extra_env_ = {std::string("KAFKA_BROKERS=") + brokers, std::string("DATABASE_URL=") + database,
                  "AXION_VIEWS_SCHEMA=deploy_e2e_" + std::to_string(getpid()),
                  "AXION_INSTANCE_ID=" + id, "AXION_KAFKA_TIMEOUT_MS=6000"};
    DeploymentE2E::SetUp();
    // The broker outlives test runs: clusters of earlier runs are still there.
    in_cluster_.set_cluster_id(cluster_id_);
  }
  v1::DeployOptions in_cluster_;
};

TEST_F(KafkaDeploymentE2E, CanaryThenAKilledServerOnKafkaAndPostgres) {
  EXPECT_THAT(server_->log(), HasSubstr("(cluster mode)"));
  EXPECT_THAT(server_->log(), HasSubstr("opening the views (PostgreSQL schema"));
  publish("v1");
  const auto first = wait_end(deploy({}, in_cluster_));
  ASSERT_EQ(first.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << first.ShortDebugString();
  EXPECT_EQ(count("v1"), 3u);

  publish("v2");
  v1::Strategy canary;
  canary.mutable_canary()->add_weights(50);
  canary.mutable_canary()->mutable_bake_time()->set_nanos(300'000'000);
  canary.mutable_canary()->set_max_error_rate(0.01);
  Load load(front_);
  const auto second = wait_end(deploy(canary, in_cluster_));
  std::this_thread::sleep_for(milliseconds(300));
  load.stop();
  ASSERT_EQ(second.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << second.ShortDebugString();
  EXPECT_EQ(load.failures(), 0) << load.last_failure();
  EXPECT_GT(load.total(), 50);
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v2"));
  EXPECT_TRUE(eventually([&] { return count("v1") == 0; })) << "v1 instances left running";

  publish("v3");
  const std::string id = deploy({}, in_cluster_);
  ASSERT_TRUE(eventually([&] { return count("v3") >= 1; }, milliseconds(30000))) << server_->log();
  server_.reset();  // kill -9 mid-deployment
  server_ = std::make_unique<ServerProcess>(server_env_);
  httplib::Client http("127.0.0.1", http_port_);
  ASSERT_TRUE(wait_ready(http, milliseconds(60000))) << server_->log();
  const auto third = wait_end(id, milliseconds(180000));
  EXPECT_EQ(third.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << third.ShortDebugString();
  EXPECT_EQ(count("v3"), 3u) << "an instance was started twice or lost";
  EXPECT_TRUE(eventually([&] { return count("v2") == 0; })) << "v2 instances left running";
  EXPECT_THAT(front_get(front_), HasSubstr(marker_ + "-v3"));
}

}  // namespace
}  // namespace axion::testing
