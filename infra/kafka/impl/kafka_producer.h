// The transactional Kafka producer behind events::Producer. Appends from any number of threads
// are queued; one committer thread per producer takes what is pending, runs one Kafka
// transaction for all of it (begin, produce, send_offsets_to_transaction per group, flush,
// check every delivery report, commit) and wakes each caller with its own positions or error.
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "events/event_log.h"
#include "infra/kafka/impl/kafka_context.h"

namespace axion::infra::kafka::impl {

// Initialises transactions for `transactional_id` (fencing any older instance) within
// config.timeout and starts the committer thread.
Result<std::unique_ptr<events::Producer>> open_kafka_producer(std::shared_ptr<KafkaContext> ctx,
                                                              const std::string& transactional_id);

}  // namespace axion::infra::kafka::impl
