#include "infra/log/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>

namespace axion::infra::log {

namespace {

// One JSON object per line; the message is escaped by nlohmann::json, so any text is safe.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    const auto since_epoch = msg.time.time_since_epoch();
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count();
    const std::time_t t = seconds.count();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[40];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    char full[48];
    std::snprintf(full, sizeof full, "%s.%03dZ", ts, static_cast<int>(millis));
    nlohmann::json line = {
        {"ts", full},
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"logger", std::string(msg.logger_name.data(), msg.logger_name.size())},
        {"msg", std::string(msg.payload.data(), msg.payload.size())},
        {"thread", msg.thread_id},
    };
    const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return (v && *v) ? v : fallback;
}

}  // namespace

Result<LogConfig> log_config_from_env() {
  LogConfig config;
  config.format = env_or("LOG_FORMAT", "text");
  config.level = env_or("LOG_LEVEL", "info");
  if (config.format != "json" && config.format != "text") {
    return invalid_argument("LOG_FORMAT='" + config.format + "' is not supported: use json or text");
  }
  if (spdlog::level::from_str(config.level) == spdlog::level::off && config.level != "off") {
    return invalid_argument("LOG_LEVEL='" + config.level +
                            "' is not a level: use trace, debug, info, warn, error, critical or off");
  }
  return config;
}

Status configure_logging(const LogConfig& config) {
  auto logger = std::make_shared<spdlog::logger>(
      "axion", std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (config.format == "json") {
    logger->set_formatter(std::make_unique<JsonFormatter>());
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
  }
  logger->set_level(spdlog::level::from_str(config.level));
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return ok_status();
}

}  // namespace axion::infra::log
