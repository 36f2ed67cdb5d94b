// The axion CLI's subcommands, each group registered on the CLI11 app by its own file. A
// subcommand runs in its callback and leaves its exit code in the Context.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "axion/v1/infrastructure.grpc.pb.h"
#include "axion/v1/project.grpc.pb.h"
#include "cli/connection.h"
#include "cli/output.h"

namespace axion::cli {

struct Context {
  ConnectionOptions connection;
  std::string output = "table";  // -o
  int exit = kExitOk;
  // Set by a watch whose deployment or install did not succeed, or a failed server test:
  // exit kExitFailed.
  std::string ended_badly;
  // Prints the error (or nothing) and records its exit code.
  void finish(const Status& status);
  Format format() const;
};

// project publish|list
void add_project_commands(CLI::App& app, Context& ctx);

// deploy, status, history, cancel, rollback, promote, pause
void add_deploy_commands(CLI::App& app, Context& ctx);

// clusters list|create; servers list|add|test|install|uninstall; agents list
void add_infra_commands(CLI::App& app, Context& ctx);

// events tail, replay, audit export, as-of
void add_admin_commands(CLI::App& app, Context& ctx);

// completion bash|zsh (added last: it completes every other command)
void add_completion_command(CLI::App& app, Context& ctx);

// The cluster with this name or id: NOT_FOUND naming it when there is none.
Result<axion::v1::Cluster> find_cluster(const Connection& c, const std::string& name_or_id);

// The project named `name`: NOT_FOUND naming it when there is none.
Result<axion::v1::Project> find_project(const Connection& c, const std::string& name);

}  // namespace axion::cli
