// The projector: folds one event into the view rows (projections/view_store.h). Pure apart from
// the RowAccess it reads and writes through, which the projection processor backs with the
// store and the batch in hand — so replaying the same events into an empty store always builds
// the same rows (rebuild == incremental), and as-of queries fold a log prefix into a memory store.
//
// Views: projects (+ graph versions), deployments (status, per-service status, strategy,
// progress, timestamps, failure reason, generated-config hashes, placement, rollback_of,
// superseded_by), deployment history (the snapshot of each success, rotated to
// max_history_per_project per project; the log keeps everything), clusters and servers (agent
// status, last heartbeat), and an audit entry per project event. Secrets never reach a view:
// server credentials are dropped.
#pragma once

#include <optional>
#include <string>

#include "axion/v1/envelope.pb.h"
#include "events/event_log.h"
#include "projections/view_store.h"

namespace axion::projections {

// Row reads and writes for one batch; reads see the batch's own earlier writes.
class RowAccess {
 public:
  virtual ~RowAccess() = default;
  virtual Result<std::optional<Row>> get(Table table, const std::string& key) = 0;
  virtual void put(Row row) = 0;
  virtual void erase(Table table, const std::string& key) = 0;
};

struct ProjectorOptions {
  std::size_t max_history_per_project = 100;  // MAX_DEPLOYMENTS_PER_PROJECT
};

// Applies `event` (read at `at`). Unknown event types change nothing (forward compatibility).
// DATA_LOSS if a payload does not parse; errors of `rows` are returned as they are.
Status project(const axion::v1::EventEnvelope& event, const events::LogPosition& at,
               RowAccess& rows, const ProjectorOptions& options);

// Key helpers shared with queries: "<project_id>/<20-digit number>".
std::string numbered_key(const std::string& prefix, std::uint64_t number);

}  // namespace axion::projections
