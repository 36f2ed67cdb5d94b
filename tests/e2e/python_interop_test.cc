// Interoperability with Python programs written against Axion's published contracts only: the
// classes are generated from schemas/ at test time (grpcio-tools), a stock Kafka client
// (confluent-kafka, from PyPI) reads axion.deployment.events.v1 from the real broker, and a
// grpcio client calls the API. The interpreter is the venv scripts/install-deps --test makes
// (AXION_PYINTEROP_PYTHON, set by scripts/test); the programs are tests/interop/*.py.
// axion-server runs on Kafka (KAFKA_BROKERS) with two real agents and deploys for real.
#include <algorithm>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/e2e/cli_runner.h"
#include "tests/e2e/deployment_fixture.h"

namespace axion::testing {
namespace {

using ::testing::AnyOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Json = nlohmann::json;

const std::string kSourceDir = AXION_SOURCE_DIR;

struct ToolRun {
  int exit_code = -1;
  std::string out, err;
};

// Runs argv (never a shell string); stdout and stderr are captured apart.
ToolRun run(const std::vector<std::string>& args) {
  const CliResult r = run_program(args.at(0), {args.begin() + 1, args.end()});
  return {r.exit, r.out, r.err};
}

// One JSON object per non-empty line; a line that is not JSON fails the test.
std::vector<Json> json_lines(const std::string& text) {
  std::vector<Json> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    Json parsed = Json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(parsed.is_discarded()) << "not JSON: " << line;
    if (!parsed.is_discarded()) lines.push_back(std::move(parsed));
  }
  return lines;
}

// The string at `key` of an object, "" when absent.
std::string str(const Json& object, const std::string& key) {
  return object.contains(key) && object[key].is_string() ? object[key].get<std::string>() : "";
}

class PythonInterop : public DeploymentE2E {
 protected:
  void SetUp() override {
    const char* python = std::getenv("AXION_PYINTEROP_PYTHON");
    ASSERT_TRUE(python && *python) << "AXION_PYINTEROP_PYTHON is not set: run scripts/test, "
                                      "which exports the venv scripts/install-deps --test makes";
    python_ = python;
    ASSERT_EQ(access(python_.c_str(), X_OK), 0)
        << python_ << " is missing: run scripts/install-deps --test";
    const char* brokers = std::getenv("KAFKA_BROKERS");
    ASSERT_TRUE(brokers && *brokers)
        << "KAFKA_BROKERS is not set: run the suite through scripts/test, which starts the broker";
    brokers_ = brokers;
    extra_env_ = {"KAFKA_BROKERS=" + brokers_,
                  "AXION_INSTANCE_ID=pyinterop-" + std::to_string(getpid()),
                  "AXION_KAFKA_TIMEOUT_MS=6000"};
    DeploymentE2E::SetUp();
    if (HasFatalFailure()) return;
    in_cluster_.set_cluster_id(cluster_id_);  // the broker keeps clusters of earlier runs
    generated_ = scratch_dir("pyinterop-generated");
  }

  // python -m grpc_tools.protoc on schemas/axion/v1/*.proto into generated_.
  void generate_classes() {
    std::vector<std::string> args = {python_,
                                     "-m",
                                     "grpc_tools.protoc",
                                     "-I",
                                     kSourceDir + "/schemas",
                                     "--python_out=" + generated_,
                                     "--grpc_python_out=" + generated_};
    for (const auto& entry : std::filesystem::directory_iterator(kSourceDir + "/schemas/axion/v1"))
      if (entry.path().extension() == ".proto") args.push_back(entry.path().string());
    ASSERT_GT(args.size(), 7u) << "no .proto files in schemas/axion/v1";
    const ToolRun protoc = run(args);
    ASSERT_EQ(protoc.exit_code, 0) << protoc.out << protoc.err;
  }

  ToolRun script(const std::string& name, std::vector<std::string> tail) {
    std::vector<std::string> args = {python_, "-B", kSourceDir + "/tests/interop/" + name,
                                     "--generated", generated_};
    args.insert(args.end(), tail.begin(), tail.end());
    return run(args);
  }

  std::string python_, brokers_, generated_;
  v1::DeployOptions in_cluster_;
};

// Every CloudEvents header agrees with the envelope it travels with (docs/EVENTS.md).
void expect_headers_match_envelope(const Json& e) {
  const Json& h = e["headers"];
  const std::string where = str(e, "type") + " " + str(e, "event_id");
  EXPECT_EQ(str(h, "ce_specversion"), "1.0") << where;
  EXPECT_EQ(str(h, "ce_id"), str(e, "event_id")) << where;
  EXPECT_EQ(str(h, "ce_type"), str(e, "type")) << where;
  EXPECT_EQ(str(h, "ce_source"),
            "/axion/" + str(e, "aggregate_type") + "/" + str(e, "aggregate_id"))
      << where;
  EXPECT_EQ(str(h, "ce_subject"), str(e, "aggregate_id")) << where;
  EXPECT_EQ(str(h, "ce_sequence"), std::to_string(e["sequence"].get<std::uint64_t>())) << where;
  EXPECT_FALSE(str(e, "occurred_at").empty()) << where;
  EXPECT_EQ(str(h, "ce_time"), str(e, "occurred_at")) << where;
  EXPECT_EQ(str(h, "ce_correlationid"), str(e, "correlation_id")) << where;
  EXPECT_EQ(str(h, "ce_causationid"), str(e, "causation_id")) << where;
  EXPECT_EQ(str(h, "content-type"), "application/protobuf") << where;
  std::set<std::string> names;
  for (const auto& [name, value] : h.items()) names.insert(name);
  std::set<std::string> known = {"ce_specversion",   "ce_id",         "ce_type", "ce_source",
                                 "ce_subject",       "ce_sequence",   "ce_time", "content-type",
                                 "ce_correlationid", "ce_causationid"};
  for (const auto& name : names) EXPECT_TRUE(known.count(name)) << where << ": header " << name;
}

TEST_F(PythonInterop, StockKafkaConsumerAndGrpcioClientReadARealDeployment) {
  ASSERT_NO_FATAL_FAILURE(generate_classes());
  const std::uint64_t version = publish("v1");
  ASSERT_GT(version, 0u);
  const std::string deployment_id = deploy({}, in_cluster_);
  const v1::Deployment ended = wait_end(deployment_id);
  ASSERT_EQ(ended.status(), v1::DEPLOYMENT_STATUS_SUCCESS) << ended.ShortDebugString();

  // The events, as a stock consumer reads them from the broker.
  const ToolRun consumer =
      script("kafka_consumer.py", {"--brokers", brokers_, "--project-id", project_id_,
                                   "--deployment-id", deployment_id, "--timeout", "90"});
  ASSERT_EQ(consumer.exit_code, 0) << consumer.err << "\n" << consumer.out;
  std::vector<Json> lines = json_lines(consumer.out);
  ASSERT_FALSE(lines.empty()) << consumer.err;
  ASSERT_TRUE(lines.back().contains("summary")) << lines.back().dump();
  const Json summary = lines.back()["summary"];
  lines.pop_back();
  EXPECT_TRUE(summary["ended"].get<bool>());
  EXPECT_GE(summary["records"].get<int>(), summary["printed"].get<int>());
  ASSERT_EQ(summary["printed"].get<std::size_t>(), lines.size());

  // Every event of the topic is the project aggregate's: deployments live inside their project
  // (one stream, one sequence); a deployment's events name it in their payload.
  std::vector<Json> deployment_events;
  std::vector<std::string> types;
  std::set<std::string> event_ids;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const Json& e = lines[i];
    const std::string type = str(e, "type"), where = type + " " + str(e, "event_id");
    types.push_back(type);
    EXPECT_EQ(str(e, "topic"), "axion.deployment.events.v1");
    EXPECT_EQ(str(e, "key"), project_id_) << where;
    EXPECT_EQ(e["partition"], lines.front()["partition"]) << where;  // one key, one partition
    EXPECT_EQ(str(e, "aggregate_type"), "project") << where;
    EXPECT_EQ(str(e, "aggregate_id"), project_id_) << where;
    EXPECT_THAT(str(e, "partition_key"), AnyOf("", project_id_)) << where;
    EXPECT_EQ(str(e, "payload_type"), type) << where;
    EXPECT_EQ(e["schema_version"], 1) << where;
    EXPECT_TRUE(event_ids.insert(str(e, "event_id")).second) << where << " read twice";
    // Log order is the aggregate's order: sequences 1, 2, 3... in offset order.
    EXPECT_EQ(e["sequence"], i + 1) << where;
    if (i > 0) {
      EXPECT_GT(e["offset"], lines[i - 1]["offset"]) << where;
    }
    expect_headers_match_envelope(e);
    if (type == "axion.v1.ProjectRegistered" || type == "axion.v1.GraphPublished") continue;
    const Json& payload = e["payload"];
    const bool snapshot = type == "axion.v1.DeploymentSnapshotted";
    EXPECT_EQ(str(snapshot ? payload["snapshot"] : payload, "deployment_id"), deployment_id)
        << where;
    EXPECT_EQ(str(snapshot ? payload["snapshot"] : payload, "project_id"), project_id_) << where;
    deployment_events.push_back(e);
  }
  ASSERT_GE(types.size(), 2u);
  EXPECT_EQ(types[0], "axion.v1.ProjectRegistered");
  EXPECT_EQ(str(lines[0]["payload"], "project_id"), project_id_);
  EXPECT_EQ(str(lines[0]["payload"], "name"), "shop");
  EXPECT_EQ(types[1], "axion.v1.GraphPublished");
  // uint64 fields are strings in proto JSON.
  EXPECT_EQ(str(lines[1]["payload"]["graph"], "version"), std::to_string(version));
  EXPECT_GE(lines.back()["sequence"].get<std::uint64_t>(), ended.version())
      << "the consumer did not read up to the events the views had applied";

  // The deployment's lifecycle, in the order it happened.
  ASSERT_FALSE(deployment_events.empty());
  EXPECT_EQ(str(deployment_events.front(), "type"), "axion.v1.DeploymentRequested");
  EXPECT_EQ(str(deployment_events.front()["payload"], "graph_version"), std::to_string(version));
  std::map<std::string, std::size_t> first_at;
  std::vector<std::string> statuses;
  for (std::size_t i = 0; i < deployment_events.size(); ++i) {
    const Json& e = deployment_events[i];
    first_at.emplace(str(e, "type"), i);
    if (str(e, "type") == "axion.v1.DeploymentStatusChanged") {
      statuses.push_back(str(e["payload"], "to_status"));
    }
  }
  const std::vector<std::string> lifecycle = {
      "axion.v1.DeploymentRequested",       "axion.v1.DeploymentConfigGenerated",
      "axion.v1.DeploymentServersAssigned", "axion.v1.DeploymentStepStarted",
      "axion.v1.DeploymentStepCompleted",   "axion.v1.DeploymentSucceeded"};
  for (std::size_t i = 0; i < lifecycle.size(); ++i) {
    ASSERT_TRUE(first_at.count(lifecycle[i])) << lifecycle[i] << " was not read";
    if (i > 0) {
      EXPECT_LT(first_at[lifecycle[i - 1]], first_at[lifecycle[i]]) << lifecycle[i];
    }
  }
  EXPECT_THAT(statuses, ElementsAre("DEPLOYMENT_STATUS_BUILDING", "DEPLOYMENT_STATUS_PROVISIONING",
                                    "DEPLOYMENT_STATUS_DEPLOYING", "DEPLOYMENT_STATUS_SUCCESS"));
  EXPECT_EQ(std::count(types.begin(), types.end(), "axion.v1.DeploymentSucceeded"), 1);
  const Json& succeeded = deployment_events[first_at["axion.v1.DeploymentSucceeded"]];
  EXPECT_EQ(str(succeeded["payload"], "graph_version"), std::to_string(version));

  // The API, through grpcio and the generated stubs.
  const ToolRun client =
      script("grpc_client.py", {"--address", address(), "--token", kApiToken, "--project-id",
                                project_id_, "--deployment-id", deployment_id});
  ASSERT_EQ(client.exit_code, 0) << client.err << "\n" << client.out;
  const std::vector<Json> calls = json_lines(client.out);
  ASSERT_EQ(calls.size(), 5u) << client.out;
  EXPECT_EQ(str(calls[0], "call"), "ListProjects");
  EXPECT_EQ(str(calls[0], "code"), "OK") << calls[0].dump();
  ASSERT_TRUE(calls[0]["project"].is_object()) << "ListProjects never listed " << project_id_;
  EXPECT_EQ(str(calls[0]["project"], "project_id"), project_id_);
  EXPECT_EQ(str(calls[0]["project"], "latest_graph_version"), std::to_string(version));

  EXPECT_EQ(str(calls[1], "call"), "GetDeployment");
  ASSERT_EQ(str(calls[1], "code"), "OK") << calls[1].dump();
  EXPECT_EQ(str(calls[1]["deployment"], "deployment_id"), deployment_id);
  EXPECT_EQ(str(calls[1]["deployment"], "project_id"), project_id_);
  EXPECT_EQ(str(calls[1]["deployment"], "status"), "DEPLOYMENT_STATUS_SUCCESS");
  EXPECT_EQ(str(calls[1]["deployment"], "graph_version"), std::to_string(version));

  EXPECT_EQ(str(calls[2], "call"), "ListDeployments");
  ASSERT_EQ(str(calls[2], "code"), "OK") << calls[2].dump();
  ASSERT_EQ(calls[2]["deployments"].size(), 1u) << calls[2].dump();
  EXPECT_EQ(str(calls[2]["deployments"][0], "deployment_id"), deployment_id);

  EXPECT_EQ(str(calls[3], "call"), "ListProjects");
  EXPECT_EQ(str(calls[3], "code"), "UNAUTHENTICATED") << calls[3].dump();
  EXPECT_EQ(str(calls[4], "call"), "ListDeployments");
  EXPECT_EQ(str(calls[4], "code"), "INVALID_ARGUMENT") << calls[4].dump();
  EXPECT_THAT(str(calls[4], "message"), HasSubstr("page_size"));
  EXPECT_THAT(server_->log(), ::testing::Not(HasSubstr(kApiToken)));  // tokens are never logged
}

}  // namespace
}  // namespace axion::testing
