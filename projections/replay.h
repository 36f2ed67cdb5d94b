// Replays of the log for the read side: rebuilding views from offset 0 into a fresh store (then
// swapped in by the server while the old store kept serving), the views of one project as of a
// past instant (folded into a memory store), and a project's audit export as JSON lines.
// All three read the log directly (no consumer group) and never write to it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "events/event_log.h"
#include "projections/projector.h"
#include "projections/queries.h"
#include "projections/view_store.h"

namespace axion::projections {

struct ReplayOptions {
  std::string projection = "views";
  std::vector<std::string> topics;  // default: the deployment and infrastructure events topics
  ProjectorOptions projector;
  std::size_t batch_records = 10000;  // records per ViewStore::commit
  // Partitions folded at once. Partitions write disjoint rows (every row of a project or a
  // cluster comes from its partition) and commit their own offsets, so they replay independently.
  // 0 = one per hardware thread.
  std::size_t threads = 0;
  std::chrono::milliseconds read_timeout{2000};
};

struct ReplayStats {
  std::uint64_t records = 0;  // records read (events and anything else in the topics)
  std::uint64_t events = 0;   // events projected
  std::uint64_t batches = 0;
};

// Folds every record of the topics, from the store's offsets (0 for a fresh store) up to the
// log's ends as they were when the replay started, into `store`, committing each batch with its
// offsets (so an interrupted rebuild resumes, and a projection processor on `store` continues
// exactly where the replay stopped). Partitions are folded on `threads` threads; on an error the
// others stop after their current batch and the first error is returned (every committed batch
// stays committed with its offsets, so running the replay again resumes).
Result<ReplayStats> replay(events::EventLog& log, ViewStore& store, const ReplayOptions& options);

// The views of project `project_id` — the project, its graph versions, its deployments, its
// history and audit — as they were at `at_ms` (events with occurred_at <= at_ms), folded from
// the project's partition into a memory store. NOT_FOUND if the project did not exist then.
struct AsOf {
  std::unique_ptr<ViewStore> store;
  std::unique_ptr<ViewQueries> queries;
  std::uint64_t events = 0;  // events of the project folded
};
Result<AsOf> views_as_of(events::EventLog& log, const std::string& project_id, std::int64_t at_ms,
                         const ProjectorOptions& options = {});

// Writes every event of the project (in log order) as one JSON object per line: position,
// envelope metadata and the payload as protobuf JSON, keys sorted — byte-stable for the same
// log, whatever replays happened. Returns the number of lines.
Result<std::uint64_t> export_audit(events::EventLog& log, const std::string& project_id,
                                   std::ostream& out);

}  // namespace axion::projections
