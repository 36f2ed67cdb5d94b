// axion: the command line of the Axion control plane. Global flags (--addr / AXION_ADDR,
// --token / AXION_TOKEN, -o table|json|yaml) and the subcommands of cli/commands.h.
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"

namespace axion::cli {

void Context::finish(const Status& status) {
  if (!status.ok()) {
    std::cerr << "axion: " << status.message() << "\n";
    exit = exit_code(status);
    return;
  }
  if (!ended_badly.empty()) {
    std::cerr << "axion: " << ended_badly << "\n";
    exit = kExitFailed;
    return;
  }
  exit = kExitOk;
}

Format Context::format() const {
  auto f = parse_format(output);
  return f.ok() ? *f : Format::kTable;
}

}  // namespace axion::cli

int main(int argc, char** argv) {
  axion::cli::Context ctx;
  CLI::App app{"axion: describe, deploy and watch multi-service projects on your servers"};
  app.require_subcommand(1);
  // Global options may also follow a subcommand (axion project list -o json); subcommands
  // inherit this.
  app.fallthrough();
  app.add_option("--addr", ctx.connection.addr, "axion-server's gRPC address")
      ->envname("AXION_ADDR")
      ->capture_default_str();
  app.add_option("--token", ctx.connection.token, "API token (one of AXION_API_TOKENS)")
      ->envname("AXION_TOKEN");
  app.add_option_function<long long>(
         "--timeout", [&](long long s) { ctx.connection.timeout = std::chrono::seconds(s); },
         "seconds one request may take (default 30)")
      ->check(CLI::Range(1LL, 3600LL));
  app.add_option("-o,--output", ctx.output, "table, json or yaml")
      ->check(CLI::IsMember({"table", "json", "yaml"}))
      ->capture_default_str();
  axion::cli::add_project_commands(app, ctx);
  axion::cli::add_deploy_commands(app, ctx);
  axion::cli::add_infra_commands(app, ctx);
  axion::cli::add_admin_commands(app, ctx);
  axion::cli::add_completion_command(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? axion::cli::kExitOk : axion::cli::kExitUsage;
  }
  return ctx.exit;
}
