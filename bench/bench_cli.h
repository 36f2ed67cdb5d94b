// Command-line handling shared by the benchmark programs (CLI11): the flags every bench takes in
// the same form (--seconds, a comma-separated count list, --dir, --kafka with KAFKA_BROKERS as
// its default), and parsing that exits 0 on --help and 2 on a bad flag or value.
#pragma once

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <vector>

namespace axion::bench {

// A number above zero ("POSITIVE" in --help), with a short message otherwise.
inline const CLI::Validator& positive() {
  static const CLI::Validator v(
      [](std::string& input) -> std::string {
        try {
          std::size_t used = 0;
          const double value = std::stod(input, &used);
          if (used == input.size() && value > 0) return {};
        } catch (const std::exception&) {
        }
        return "must be a number above zero, not '" + input + "'";
      },
      "POSITIVE");
  return v;
}

// --seconds N: how long each cell runs (positive).
inline CLI::Option* add_seconds(CLI::App& app, double& seconds) {
  return app.add_option("--seconds", seconds, "seconds per cell")
      ->check(positive())
      ->capture_default_str();
}

// --<name> 1,16,64: a comma-separated list of positive counts (replaces the default list).
inline CLI::Option* add_counts(CLI::App& app, const std::string& name, std::vector<int>& counts,
                               const std::string& what) {
  return app.add_option(name, counts, what + " (comma-separated)")
      ->delimiter(',')
      ->check(positive())
      ->capture_default_str();
}

// --dir DIR (default: a fresh directory named <prefix>-<pid> in the system temp directory) and
// --kafka host:port (default: $KAFKA_BROKERS).
inline void add_dir_and_kafka(CLI::App& app, std::string& dir, std::string& kafka) {
  app.add_option("--dir", dir, "scratch directory (default: a fresh temp directory)");
  app.add_option("--kafka", kafka, "Kafka bootstrap servers (default: $KAFKA_BROKERS)");
}

// Parses argv or exits: 0 after --help, 2 (with CLI11's message) on a bad flag or value.
// Then fills the defaults that depend on the environment: `kafka` from KAFKA_BROKERS and `dir`
// as <temp>/<prefix>-<pid>.
inline void parse_or_exit(CLI::App& app, int argc, char** argv, std::string& dir,
                          std::string& kafka, const std::string& dir_prefix) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    std::exit(app.exit(e) == 0 ? 0 : 2);
  }
  if (kafka.empty()) {
    if (const char* env = std::getenv("KAFKA_BROKERS"); env && *env) kafka = env;
  }
  if (dir.empty()) {
    dir = (std::filesystem::temp_directory_path() / (dir_prefix + "-" + std::to_string(getpid())))
              .string();
  }
}

}  // namespace axion::bench
