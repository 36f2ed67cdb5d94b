// Tests of the EventEnvelope helpers (events/envelope.h): the exact CloudEvents headers, the
// record round trip, and DATA_LOSS for values that are not envelopes.
#include "events/envelope.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "axion/v1/deployment.pb.h"
#include "axion/v1/infrastructure.pb.h"
#include "events/topics.h"

namespace axion::events {
namespace {

using axion::v1::DeploymentRequested;
using axion::v1::EventEnvelope;

DeploymentRequested sample_payload() {
  DeploymentRequested p;
  p.set_deployment_id("dep-1");
  p.set_project_id("proj-1");
  p.set_environment("production");
  p.set_graph_version(3);
  p.mutable_strategy()->mutable_canary()->add_weights(10);
  p.mutable_strategy()->mutable_canary()->add_weights(50);
  p.mutable_options()->set_auto_rollback(true);
  p.set_requested_by("alice");
  return p;
}

EnvelopeMeta sample_meta() {
  EnvelopeMeta m;
  m.event_id = "0b6c2a4e-5f1d-4c3b-9a8e-7d6f5e4c3b2a";
  m.aggregate_type = std::string(aggregate_type::kDeployment);
  m.aggregate_id = "dep-1";
  m.partition_key = "proj-1";
  m.sequence = 7;
  m.occurred_at_ms = 1'700'000'000'123;  // 2023-11-14T22:13:20.123Z
  m.actor = "alice";
  m.correlation_id = "cmd-1";
  m.causation_id = "cmd-1";
  m.schema_version = 2;
  return m;
}

StoredRecord stored(const Record& r, std::int64_t offset = 42) {
  StoredRecord s;
  s.tp = {r.topic, 3};
  s.offset = offset;
  s.key = r.key;
  s.value = r.value;
  s.headers = r.headers;
  return s;
}

TEST(EnvelopeTest, MakeEnvelopeFillsEveryField) {
  const EventEnvelope e = make_envelope(sample_payload(), sample_meta());
  EXPECT_EQ(e.event_id(), "0b6c2a4e-5f1d-4c3b-9a8e-7d6f5e4c3b2a");
  EXPECT_EQ(e.type(), "axion.v1.DeploymentRequested");
  EXPECT_EQ(e.aggregate_type(), "deployment");
  EXPECT_EQ(e.aggregate_id(), "dep-1");
  EXPECT_EQ(e.partition_key(), "proj-1");
  EXPECT_EQ(e.sequence(), 7u);
  EXPECT_EQ(e.occurred_at().seconds(), 1'700'000'000);
  EXPECT_EQ(e.occurred_at().nanos(), 123'000'000);
  EXPECT_EQ(e.actor(), "alice");
  EXPECT_EQ(e.correlation_id(), "cmd-1");
  EXPECT_EQ(e.causation_id(), "cmd-1");
  EXPECT_EQ(e.schema_version(), 2u);
  EXPECT_EQ(e.payload().type_url(), "type.googleapis.com/axion.v1.DeploymentRequested");
}

TEST(EnvelopeTest, PreEpochTimesKeepNanosPositive) {
  EnvelopeMeta m = sample_meta();
  m.occurred_at_ms = -1;  // 1969-12-31T23:59:59.999Z
  const EventEnvelope e = make_envelope(sample_payload(), m);
  EXPECT_EQ(e.occurred_at().seconds(), -1);
  EXPECT_EQ(e.occurred_at().nanos(), 999'000'000);
}

TEST(EnvelopeTest, CloudEventsHeadersAreExact) {
  const EventEnvelope e = make_envelope(sample_payload(), sample_meta());
  const std::vector<Header> expected = {
      {"ce_specversion", "1.0"},
      {"ce_id", "0b6c2a4e-5f1d-4c3b-9a8e-7d6f5e4c3b2a"},
      {"ce_source", "/axion/deployment/dep-1"},
      {"ce_type", "axion.v1.DeploymentRequested"},
      {"ce_time", "2023-11-14T22:13:20.123Z"},
      {"ce_subject", "dep-1"},
      {"ce_sequence", "7"},
      {"ce_correlationid", "cmd-1"},
      {"ce_causationid", "cmd-1"},
      {"content-type", "application/protobuf"},
  };
  EXPECT_EQ(cloudevents_headers(e), expected);
}

TEST(EnvelopeTest, OptionalHeadersAreOmittedWhenEmpty) {
  EnvelopeMeta m = sample_meta();
  m.correlation_id.clear();
  m.causation_id.clear();
  m.aggregate_type.clear();
  m.occurred_at_ms = 1'700'000'000'000;
  const EventEnvelope e = make_envelope(sample_payload(), m);
  const std::vector<Header> expected = {
      {"ce_specversion", "1.0"},
      {"ce_id", "0b6c2a4e-5f1d-4c3b-9a8e-7d6f5e4c3b2a"},
      {"ce_source", "/axion/unknown/dep-1"},
      {"ce_type", "axion.v1.DeploymentRequested"},
      {"ce_time", "2023-11-14T22:13:20Z"},
      {"ce_subject", "dep-1"},
      {"ce_sequence", "7"},
      {"content-type", "application/protobuf"},
  };
  EXPECT_EQ(cloudevents_headers(e), expected);

  EventEnvelope no_time = e;
  no_time.clear_occurred_at();
  for (const Header& h : cloudevents_headers(no_time)) EXPECT_NE(h.key, "ce_time");
}

TEST(EnvelopeTest, RecordKeyIsPartitionKeyElseAggregateId) {
  EventEnvelope e = make_envelope(sample_payload(), sample_meta());
  EXPECT_EQ(to_record(std::string(kDeploymentEventsTopic), e).key, "proj-1");
  e.clear_partition_key();
  EXPECT_EQ(to_record(std::string(kDeploymentEventsTopic), e).key, "dep-1");
}

TEST(EnvelopeTest, RoundTripsThroughARecord) {
  const EventEnvelope e = make_envelope(sample_payload(), sample_meta());
  const Record r = to_record(std::string(kDeploymentEventsTopic), e);
  EXPECT_EQ(r.topic, "axion.deployment.events.v1");
  EXPECT_FALSE(r.partition.has_value());
  EXPECT_EQ(r.headers, cloudevents_headers(e));

  Result<EventEnvelope> parsed = parse_envelope(stored(r));
  ASSERT_TRUE(parsed.ok()) << parsed.status().to_string();
  EXPECT_EQ(parsed->SerializeAsString(), e.SerializeAsString());

  Result<DeploymentRequested> payload = unpack_payload<DeploymentRequested>(*parsed);
  ASSERT_TRUE(payload.ok()) << payload.status().to_string();
  EXPECT_EQ(payload->SerializeAsString(), sample_payload().SerializeAsString());
}

TEST(EnvelopeTest, UnpackOfTheWrongTypeIsFailedPrecondition) {
  const EventEnvelope e = make_envelope(sample_payload(), sample_meta());
  Result<axion::v1::ServerCreated> wrong = unpack_payload<axion::v1::ServerCreated>(e);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kFailedPrecondition);
}

TEST(EnvelopeTest, GarbageValueIsDataLoss) {
  Record r = to_record(std::string(kDeploymentEventsTopic),
                       make_envelope(sample_payload(), sample_meta()));
  r.value = "\xff\xff\xff garbage, not protobuf";
  Result<EventEnvelope> parsed = parse_envelope(stored(r, 42));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kDataLoss);
  EXPECT_NE(parsed.status().message().find("axion.deployment.events.v1/3@42"), std::string::npos)
      << parsed.status().message();
}

TEST(EnvelopeTest, EmptyOrTruncatedValueIsDataLoss) {
  Record r = to_record(std::string(kDeploymentEventsTopic),
                       make_envelope(sample_payload(), sample_meta()));
  const std::string full = r.value;
  r.value.clear();  // parses as an empty message, but is no envelope
  EXPECT_EQ(parse_envelope(stored(r)).status().code(), StatusCode::kDataLoss);
  r.value = full.substr(0, full.size() / 2);
  EXPECT_EQ(parse_envelope(stored(r)).status().code(), StatusCode::kDataLoss);
}

TEST(EnvelopeTest, PayloadTypeMismatchIsDataLoss) {
  EventEnvelope e = make_envelope(sample_payload(), sample_meta());
  e.set_type("axion.v1.DeploymentSucceeded");
  Result<EventEnvelope> parsed =
      parse_envelope(stored(to_record(std::string(kDeploymentEventsTopic), e)));
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), StatusCode::kDataLoss);
}

TEST(TopicsTest, DefaultSpecsCoverTheFiveTopics) {
  const std::vector<TopicSpec> specs = default_topic_specs();
  ASSERT_EQ(specs.size(), 5u);
  EXPECT_EQ(specs[0].name, "axion.commands.v1");
  EXPECT_EQ(specs[1].name, "axion.deployment.events.v1");
  EXPECT_EQ(specs[2].name, "axion.infrastructure.events.v1");
  EXPECT_EQ(specs[3].name, "axion.agent.tasks.v1");
  EXPECT_EQ(specs[4].name, "axion.results.v1");
  for (const TopicSpec& s : specs) EXPECT_EQ(s.partitions, kDefaultPartitions);
}

}  // namespace
}  // namespace axion::events
