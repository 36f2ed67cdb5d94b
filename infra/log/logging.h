// Process-wide structured logging on spdlog. LOG_FORMAT=json prints one JSON object per line
// (ts, level, logger, msg, thread); text prints a human-readable line. LOG_LEVEL is one of
// trace, debug, info, warn, error, critical, off.
#pragma once

#include <string>

#include "common/status.h"

namespace axion::infra::log {

struct LogConfig {
  std::string format = "text";  // json | text
  std::string level = "info";
};

// Reads LOG_FORMAT and LOG_LEVEL; INVALID_ARGUMENT naming the variable for an unknown value.
Result<LogConfig> log_config_from_env();
// Installs the default logger (stderr). Call once at start-up.
Status configure_logging(const LogConfig& config);

}  // namespace axion::infra::log
