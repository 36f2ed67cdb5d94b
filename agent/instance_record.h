// The process runtime's memory of one service instance, in
// <state dir>/instances/<instance id>/instance.json: which task started it, a hash of its spec,
// its pid and that pid's start time (so a reused pid is never mistaken for it), its ports, state
// and the START task's terminal result. Written atomically (temporary file, fsync, rename), so an
// agent killed at any moment leaves the old record or the new one; a new agent process reads
// them to adopt the instances that still run.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "axion/v1/agent.pb.h"
#include "common/status.h"

namespace axion::agent {

// One port of an instance: the name and container port of the spec's Port, and the local port
// the process really listens on.
struct PortBinding {
  std::string name;
  std::uint32_t container_port = 0;
  std::uint32_t host_port = 0;
  bool operator==(const PortBinding&) const = default;
};

struct InstanceRecord {
  std::string instance_id;
  std::string service;
  std::string deployment_id;
  std::string task_id;  // the START_SERVICE task that owns it
  std::string spec_hash;
  int pid = 0;
  std::uint64_t start_time = 0;  // /proc/<pid>/stat field 22 (clock ticks since boot)
  std::vector<PortBinding> ports;
  // "running", "exited", "stopped" (on request: never restarted), "failed" (its START failed).
  std::string state;
  std::uint32_t restart_count = 0;
  std::int64_t started_at_ms = 0;  // unix time of the last spawn
  // The START task's terminal update, once it finished (re-reported on redelivery).
  bool finished = false;
  int terminal_state = 0;  // axion::v1::TaskState
  std::string detail;
  int exit_code = 0;
  std::string output;
  axion::v1::ProcessSpec spec;

  bool operator==(const InstanceRecord&) const;
};

std::string record_to_json(const InstanceRecord& record);
// INVALID_ARGUMENT naming what is wrong if `text` is not a record.
Result<InstanceRecord> record_from_json(std::string_view text);

// A stable hash (FNV-1a 64 of the deterministic serialization, hex) of what a START asks for:
// the same spec delivered again means "the instance that runs is the one wanted".
std::string spec_hash(const axion::v1::ProcessSpec& spec);

// <dir>/instance.json.
Status save_record(const std::string& dir, const InstanceRecord& record);
Result<InstanceRecord> load_record(const std::string& dir);

}  // namespace axion::agent
