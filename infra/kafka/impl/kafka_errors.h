// Error translation for the Kafka adapter, done in one place: every librdkafka error code (and
// transactional error object) becomes an axion::Status whose code says what the caller can do
// and whose `retryable` flag says whether trying again may help. Also small RAII owners for the
// librdkafka C objects the adapter uses, so no handle is ever freed by hand.
#pragma once

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <string_view>

#include "common/status.h"

namespace axion::infra::kafka::impl {

// --- RAII owners for librdkafka C objects -------------------------------------------------
struct ErrorDeleter {
  void operator()(rd_kafka_error_t* e) const { rd_kafka_error_destroy(e); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* m) const { rd_kafka_metadata_destroy(m); }
};
struct PartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* l) const {
    rd_kafka_topic_partition_list_destroy(l);
  }
};
struct GroupMetadataDeleter {
  void operator()(rd_kafka_consumer_group_metadata_t* g) const {
    rd_kafka_consumer_group_metadata_destroy(g);
  }
};
struct QueueDeleter {
  void operator()(rd_kafka_queue_t* q) const { rd_kafka_queue_destroy(q); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* e) const { rd_kafka_event_destroy(e); }
};
struct AdminOptionsDeleter {
  void operator()(rd_kafka_AdminOptions_t* o) const { rd_kafka_AdminOptions_destroy(o); }
};
struct NewTopicDeleter {
  void operator()(rd_kafka_NewTopic_t* t) const { rd_kafka_NewTopic_destroy(t); }
};
struct ConfigResourceDeleter {
  void operator()(rd_kafka_ConfigResource_t* c) const { rd_kafka_ConfigResource_destroy(c); }
};
struct ListGroupOffsetsDeleter {
  void operator()(rd_kafka_ListConsumerGroupOffsets_t* l) const {
    rd_kafka_ListConsumerGroupOffsets_destroy(l);
  }
};

using ErrorPtr = std::unique_ptr<rd_kafka_error_t, ErrorDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;
using PartitionListPtr = std::unique_ptr<rd_kafka_topic_partition_list_t, PartitionListDeleter>;
using GroupMetadataPtr =
    std::unique_ptr<rd_kafka_consumer_group_metadata_t, GroupMetadataDeleter>;
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using AdminOptionsPtr = std::unique_ptr<rd_kafka_AdminOptions_t, AdminOptionsDeleter>;
using NewTopicPtr = std::unique_ptr<rd_kafka_NewTopic_t, NewTopicDeleter>;
using ConfigResourcePtr = std::unique_ptr<rd_kafka_ConfigResource_t, ConfigResourceDeleter>;
using ListGroupOffsetsPtr =
    std::unique_ptr<rd_kafka_ListConsumerGroupOffsets_t, ListGroupOffsetsDeleter>;

// --- Classification -------------------------------------------------------------------------

// The producer was replaced by a newer instance with the same transactional id.
bool is_fencing_error(rd_kafka_resp_err_t code);
// The consumer's group generation is stale: a rebalance happened since it polled.
bool is_stale_generation(rd_kafka_resp_err_t code);

// "<what>: <librdkafka text> (<ERR_NAME>)[: detail]" with the code and retryable flag chosen
// from `code`. `detail` is librdkafka's own, more specific message when it has one.
Status status_from_kafka(rd_kafka_resp_err_t code, std::string_view what,
                         std::string_view detail = {});
// Same for a transactional API error object; retryable also when the transaction only needs
// an abort before a retry.
Status status_from_kafka_error(const rd_kafka_error_t* error, std::string_view what);

// The final status of a fenced (or otherwise fatally failed) transactional producer.
Status fenced_status(std::string_view transactional_id, rd_kafka_resp_err_t code,
                     std::string_view detail);

}  // namespace axion::infra::kafka::impl
