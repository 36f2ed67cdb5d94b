// DeploymentService.WatchDeployment: the deployment as the views show it, then its events as
// they are appended, until it ends. Exact without gaps or repeats: the snapshot is read once
// the views have applied everything up to the end of the project's partition at that moment,
// and the events are read from the log from exactly there. Resuming (after_sequence) reads the
// partition from its start and skips what the caller saw (rare; a CLI reconnecting).
#include <google/protobuf/descriptor.h>
#include <google/protobuf/dynamic_message.h>

#include "events/envelope.h"
#include "events/partitioner.h"
#include "events/topics.h"
#include "infra/grpc/deployment_service.h"

namespace axion::infra::gateway {

namespace {

namespace v1 = axion::v1;
constexpr std::size_t kReadBatch = 500;
constexpr auto kReadWait = std::chrono::milliseconds(250);

// The deployment an event of the project's stream is about ("" for none): its deployment_id
// field, or its snapshot's.
std::string deployment_of(const v1::EventEnvelope& e) {
  const auto* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindMessageTypeByName(e.type());
  if (!descriptor) return "";
  std::unique_ptr<google::protobuf::Message> m(
      google::protobuf::MessageFactory::generated_factory()->GetPrototype(descriptor)->New());
  if (!m->ParseFromString(e.payload().value())) return "";
  const auto* field = descriptor->FindFieldByName("deployment_id");
  if (field && field->type() == google::protobuf::FieldDescriptor::TYPE_STRING &&
      !field->is_repeated())
    return m->GetReflection()->GetString(*m, field);
  if (auto* s = dynamic_cast<v1::DeploymentSnapshotted*>(m.get()))
    return s->snapshot().deployment_id();
  return "";
}

bool ends(const v1::EventEnvelope& e) {
  return e.type() == v1::DeploymentSucceeded::descriptor()->full_name() ||
         e.type() == v1::DeploymentFailed::descriptor()->full_name() ||
         e.type() == v1::DeploymentCancelled::descriptor()->full_name();
}

bool terminal(v1::DeploymentStatus s) {
  return s == v1::DEPLOYMENT_STATUS_SUCCESS || s == v1::DEPLOYMENT_STATUS_FAILED ||
         s == v1::DEPLOYMENT_STATUS_CANCELLED;
}

}  // namespace

::grpc::Status DeploymentServiceImpl::WatchDeployment(
    ::grpc::ServerContext* context, const v1::WatchDeploymentRequest* request,
    ::grpc::ServerWriter<v1::WatchDeploymentResponse>* writer) {
  if (!queries_ || !log_)
    return {::grpc::StatusCode::UNAVAILABLE, "this server does not serve queries"};
  if (Status s = queries_->begin(context); !s.ok()) return to_grpc(s);
  if (request->deployment_id().empty() || request->deployment_id().size() > 128)
    return to_grpc(invalid_field("deployment_id", "name the deployment to watch"));
  const std::string topic(events::kDeploymentEventsTopic);
  auto partitions = log_->partition_count(topic);
  if (!partitions.ok()) return to_grpc(partitions.status());
  auto found = queries_->queries().deployment(request->deployment_id());
  if (!found.ok() && found.status().code() == StatusCode::kNotFound) {
    // Watching right after DeployProject: its events are in the log (the command was answered
    // once they were durable) but perhaps not yet in the views. Wait for the views to reach
    // every partition's end, then look again.
    google::protobuf::RepeatedPtrField<v1::LogPosition> ends;
    for (std::int32_t p = 0; p < *partitions; ++p) {
      auto end = log_->end_offset({topic, p});
      if (!end.ok()) return to_grpc(end.status());
      if (*end == 0) continue;
      auto* position = ends.Add();
      position->set_topic(topic);
      position->set_partition(p);
      position->set_offset(*end - 1);
    }
    if (Status s = queries_->begin(context, ends); !s.ok()) return to_grpc(s);
    found = queries_->queries().deployment(request->deployment_id());
  }
  if (!found.ok()) return to_grpc(found.status());
  const events::TopicPartition tp{topic,
                                  events::partition_for_key(found->project_id(), *partitions)};
  std::int64_t next = 0;
  std::uint64_t seen = request->after_sequence();
  if (seen == 0) {
    auto end = log_->end_offset(tp);
    if (!end.ok()) return to_grpc(end.status());
    google::protobuf::RepeatedPtrField<v1::LogPosition> upto;
    if (*end > 0) {
      auto* p = upto.Add();
      p->set_topic(topic);
      p->set_partition(tp.partition);
      p->set_offset(*end - 1);
    }
    if (Status s = queries_->begin(context, upto); !s.ok()) return to_grpc(s);
    auto snapshot = queries_->queries().deployment(request->deployment_id());
    if (!snapshot.ok()) return to_grpc(snapshot.status());
    v1::WatchDeploymentResponse first;
    *first.mutable_snapshot() = *snapshot;
    if (!writer->Write(first)) return {::grpc::StatusCode::CANCELLED, "the watcher went away"};
    if (terminal(snapshot->status())) return ::grpc::Status::OK;
    next = *end;
  }
  while (!context->IsCancelled()) {
    auto records = log_->read(tp, next, kReadBatch, kReadWait);
    if (!records.ok()) return to_grpc(records.status());
    for (const auto& r : *records) {
      next = r.offset + 1;
      auto envelope = events::parse_envelope(r);
      if (!envelope.ok() || envelope->sequence() <= seen) continue;
      if (deployment_of(*envelope) != request->deployment_id()) continue;
      v1::WatchDeploymentResponse update;
      *update.mutable_event() = *envelope;
      if (!writer->Write(update)) return {::grpc::StatusCode::CANCELLED, "the watcher went away"};
      if (ends(*envelope)) return ::grpc::Status::OK;
    }
  }
  return {::grpc::StatusCode::CANCELLED, "the watch was cancelled or its deadline passed"};
}

}  // namespace axion::infra::gateway
