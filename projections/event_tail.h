// The event tail: the latest events of axion.deployment.events.v1 — one project's (its
// deployments' included) or every project's — then, when following, events as they are
// appended. `axion events tail` reads it through AdminService.TailEvents.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "axion/v1/audit.pb.h"
#include "axion/v1/envelope.pb.h"
#include "events/event_log.h"

namespace axion::projections {

inline constexpr std::uint32_t kDefaultTail = 20;
inline constexpr std::uint32_t kMaxTail = 1000;

// One event as the audit export writes it: position, envelope metadata and the payload as
// protobuf JSON, keys sorted (byte-stable), no trailing newline. DATA_LOSS if the payload's
// type is unknown to this build.
Result<std::string> event_json(const events::TopicPartition& tp, std::int64_t offset,
                               const axion::v1::EventEnvelope& event);

// The audit view's entry for an event (summary left empty).
axion::v1::AuditEntry audit_entry_of(const events::TopicPartition& tp, std::int64_t offset,
                                     const axion::v1::EventEnvelope& event);

struct TailOptions {
  std::string project_id;             // empty: every project
  std::uint32_t last = kDefaultTail;  // 0 = kDefaultTail; more than kMaxTail is refused
  bool follow = false;
  // While following, how long to wait before looking again when nothing was new.
  std::chrono::milliseconds poll = std::chrono::milliseconds(250);
};

struct TailedEvent {
  axion::v1::AuditEntry entry;
  std::string json;
};

// Calls emit(event) for the latest `last` events, oldest first (across partitions by
// occurred_at), then — when following — for each event appended after them, in log order per
// partition, until emit returns false or stopped() returns true. Records that are not events
// are skipped. INVALID_ARGUMENT for a tail over kMaxTail.
Status tail_events(events::EventLog& log, const TailOptions& options,
                   const std::function<bool()>& stopped,
                   const std::function<bool(const TailedEvent&)>& emit);

}  // namespace axion::projections
