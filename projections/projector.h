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

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "axion/v1/envelope.pb.h"
#include "events/event_log.h"
#include "projections/view_store.h"

namespace axion::projections {

// A view row's doc, decoded. A batch keeps each row it touches decoded from the first read to
// its commit: every event of the batch changes the doc in place and the row is encoded once, at
// commit — so a row touched by k events is parsed and serialized once, not k times.
class Doc {
 public:
  virtual ~Doc() = default;
  virtual std::string encode() const = 0;
};

// Row reads and writes for one batch; reads see the batch's own earlier writes.
class RowAccess {
 public:
  // Builds a row's Doc from the stored row; DATA_LOSS if its bytes do not parse.
  using Decoder = Result<std::unique_ptr<Doc>> (*)(const Row& row);

  virtual ~RowAccess() = default;
  // The row's doc, or nullptr when there is no such row; `decode` runs on the batch's first
  // read of a stored row only.
  virtual Result<Doc*> find(Table table, const std::string& key, Decoder decode) = 0;
  // Replaces the row (doc and index). Returns the doc, now owned by the batch.
  virtual Doc* put(Table table, const std::string& key, RowIndex index,
                   std::unique_ptr<Doc> doc) = 0;
  // The doc that find() returned was changed in place; `index` is the row's index now.
  virtual void changed(Table table, const std::string& key, RowIndex index) = 0;
  virtual void erase(Table table, const std::string& key) = 0;
};

struct ProjectorOptions {
  std::size_t max_history_per_project = 100;  // MAX_DEPLOYMENTS_PER_PROJECT
};

// Applies `event` (read at `at`). Unknown event types change nothing (forward compatibility).
// DATA_LOSS if a payload does not parse; errors of `rows` are returned as they are.
Status project(const axion::v1::EventEnvelope& event, const events::LogPosition& at,
               RowAccess& rows, const ProjectorOptions& options);

// The stored rows a batch of events will read, found by projecting the events against an empty
// store and recording what is asked for (each row once; rows the batch itself writes first are
// not listed). A row read only after another row was found is missed here and read on its own
// later, so this only ever saves reads. For RowOverlay::prefetch.
using RowId = std::pair<Table, std::string>;
struct EventAt {
  const axion::v1::EventEnvelope* event;
  events::LogPosition at;
};
std::vector<RowId> rows_read(const std::vector<EventAt>& events, const ProjectorOptions& options);

// Key helpers shared with queries: "<project_id>/<20-digit number>".
std::string numbered_key(const std::string& prefix, std::uint64_t number);

}  // namespace axion::projections
