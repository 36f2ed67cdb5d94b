// CommandBus: the gateway's side of the command log. submit() appends a command envelope to
// axion.commands.v1 (keyed by its partition key, so it lands where its aggregate lives) and waits
// for the CommandResult the processor publishes for it on axion.results.v1. Results are read by
// a consumer of a group of the bus's own ("gateway-<id>", so it is assigned every partition),
// positioned at the partitions' ends when the bus starts; a poll wakes on a result in any
// partition. Only results addressed to this bus (reply_to == gateway id) are delivered.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "axion/v1/envelope.pb.h"
#include "common/status.h"
#include "events/event_log.h"

namespace axion::commands {

class CommandBus {
 public:
  // REQUIRES: `log` outlives the bus.
  CommandBus(events::EventLog& log, std::string gateway_id,
             std::string commands_topic = "axion.commands.v1",
             std::string results_topic = "axion.results.v1");
  ~CommandBus();
  CommandBus(const CommandBus&) = delete;
  CommandBus& operator=(const CommandBus&) = delete;

  Status start();
  void stop();

  // Sets reply_to, appends the command durably and waits up to `timeout` for its result.
  // DEADLINE_EXCEEDED if none arrives in time (the command may still be processed later: retry
  // with the same idempotency key to learn its outcome). Thread-safe.
  Result<axion::v1::CommandResult> submit(axion::v1::CommandEnvelope command,
                                          std::chrono::milliseconds timeout);

 private:
  void read_results();

  events::EventLog& log_;
  const std::string gateway_id_;
  const std::string commands_topic_;
  const std::string results_topic_;
  std::unique_ptr<events::Producer> producer_;
  std::unique_ptr<events::Consumer> consumer_;
  std::map<std::int32_t, std::int64_t> start_;  // results partition -> its end at start()

  std::mutex mu_;
  std::condition_variable arrived_;
  std::map<std::string, axion::v1::CommandResult> results_;  // by command id, until claimed
  std::map<std::string, int> waiting_;                       // command ids being waited for
  std::atomic<bool> running_{false};
  std::thread reader_;
  Status reader_error_;
};

}  // namespace axion::commands
