// `axion deploy --watch` in a real terminal: tmux (its own server on a socket in the scratch
// directory) runs the command in a 120x40 pane; the test reads the pane as a person would see
// it and the exit status the shell wrote down when the command ended.
#include "tests/e2e/cli_fixture.h"

namespace axion::testing {
namespace {

using ::testing::HasSubstr;

// A tmux server of the test's own (-S socket, -f config): stopped when it goes.
class Tmux {
 public:
  explicit Tmux(const std::string& dir) : socket_(dir + "/tmux.sock"), config_(dir + "/tmux.conf") {
    // The pane stays readable after its command ended.
    write_text(config_, "set-option -g remain-on-exit on\nset-option -g history-limit 2000\n");
  }
  Tmux(const Tmux&) = delete;
  Tmux& operator=(const Tmux&) = delete;
  ~Tmux() { run({"kill-server"}); }

  CliResult run(std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.insert(args.begin(), {"-f", config_, "-S", socket_});
    return CommandProcess("tmux", args, std::move(env)).wait(std::chrono::milliseconds(30000));
  }
  // The pane's text, wrapped lines joined, from the start of its history.
  std::string pane(const std::string& session) {
    return run({"capture-pane", "-p", "-J", "-S", "-", "-t", session}).out;
  }

 private:
  std::string socket_, config_;
};

// A headline of a deployment still under way.
const std::regex kInProgress(
    R"(deployment \S+ \(demo, graph v1\): (PENDING|PROVISIONING|DEPLOYING))");

TEST_F(CliE2E, DeployWatchInATerminalShowsProgressServicesAndTheEnd) {
  ASSERT_NO_FATAL_FAILURE(publish_file(v1_file_));
  Tmux tmux(dir_);
  const std::string exit_file = dir_ + "/watch.exit";
  // tmux hands this one string to a shell: only quoted paths and fixed words go into it.
  const std::string command = shell_quote(AXION_CLI_BIN) +
                              " deploy -p shop -e demo --watch; echo EXIT:$? > " +
                              shell_quote(exit_file);
  const auto started =
      tmux.run({"new-session", "-d", "-x", "120", "-y", "40", "-s", "watch", "-e",
                "AXION_ADDR=" + address(), "-e", "AXION_TOKEN=" + kApiToken, command});
  ASSERT_EQ(started.exit, 0) << started.said();

  // While it runs, the pane shows the deployment under way.
  std::string progress;
  ASSERT_TRUE(eventually(
      [&] {
        if (progress.empty()) {
          const std::string pane = tmux.pane("watch");
          if (std::regex_search(pane, kInProgress)) progress = pane;
        }
        return !read_file(exit_file).empty();
      },
      milliseconds(180000)))
      << tmux.pane("watch") << "\nserver log:\n"
      << server_->log();
  EXPECT_FALSE(progress.empty()) << "no progress shown before the end:\n" << tmux.pane("watch");
  EXPECT_EQ(read_file(exit_file), "EXIT:0\n");

  // At the end: the final state, and a line per service, healthy with all its replicas.
  const std::string pane = tmux.pane("watch");
  const std::string id = headline_id(pane);
  ASSERT_FALSE(id.empty()) << pane;
  EXPECT_THAT(pane, HasSubstr("deployment " + id + " (demo, graph v1): SUCCESS")) << pane;
  for (const auto& [service, replicas] :
       {std::pair{"web", "2/2"}, std::pair{"api", "2/2"}, std::pair{"worker", "1/1"}}) {
    const std::regex line(std::string(R"((^|\n) *)") + service + R"( +HEALTHY .*\b)" + replicas);
    EXPECT_TRUE(std::regex_search(pane, line)) << service << " " << replicas << ":\n" << pane;
  }
  EXPECT_EQ(front_get(web_port_), "web v1 -> api v1 -> worker v1\n");
}

}  // namespace
}  // namespace axion::testing
