// The watch view of the axion CLI (cli/live_view.*): bars, the block's lines, and how it
// redraws on a terminal and prints plain lines elsewhere.
#include <gtest/gtest.h>

#include <sstream>

#include "cli/live_view.h"

namespace axion::cli {
namespace {

namespace v1 = axion::v1;

v1::Deployment running() {
  v1::Deployment d;
  d.set_deployment_id("d-1");
  d.set_environment("production");
  d.set_graph_version(2);
  d.set_status(v1::DEPLOYMENT_STATUS_DEPLOYING);
  d.set_current_step(1);
  d.set_total_steps(4);
  auto* web = d.add_services();
  web->set_service("web");
  web->set_status(v1::SERVICE_STATUS_STARTING);
  web->set_healthy_replicas(1);
  web->set_desired_replicas(2);
  auto* api = d.add_services();
  api->set_service("api-gateway");
  api->set_status(v1::SERVICE_STATUS_HEALTHY);
  api->set_healthy_replicas(1);
  api->set_desired_replicas(1);
  api->set_detail("passing");
  return d;
}

TEST(ProgressBar, FillsItsShareOfCellsAndNeverOverflows) {
  EXPECT_EQ(progress_bar(0, 4, 8), "[--------]");
  EXPECT_EQ(progress_bar(1, 4, 8), "[##------]");
  EXPECT_EQ(progress_bar(4, 4, 8), "[########]");
  EXPECT_EQ(progress_bar(9, 4, 8), "[########]");
  EXPECT_EQ(progress_bar(3, 0, 4), "[----]");  // nothing known yet
}

TEST(LiveLines, HeadlineRolloutAndOneAlignedLinePerService) {
  auto lines = live_lines(running());
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "deployment d-1 (production, graph v2): DEPLOYING, step 2/4");
  EXPECT_NE(lines[1].find("1/4 steps"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[2].rfind("  web          STARTING   [#####-----] 1/2 healthy", 0), 0u)
      << lines[2];
  EXPECT_EQ(lines[3], "  api-gateway  HEALTHY    [##########] 1/1 healthy  passing");
}

TEST(LiveLines, AFailureAddsWhyOnItsOwnLine) {
  auto d = running();
  d.set_status(v1::DEPLOYMENT_STATUS_FAILED);
  d.mutable_failure()->set_reason("health check failed");
  d.mutable_failure()->set_service("web");
  auto lines = live_lines(d);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[1], "  failed: health check failed (service web)");
}

TEST(LiveView, ElsewhereItPrintsAHeadlineOnlyWhenItChanges) {
  std::ostringstream out;
  LiveView view(out, false);
  auto d = running();
  view.show(d);
  view.show(d);
  d.set_status(v1::DEPLOYMENT_STATUS_SUCCESS);
  view.show(d);
  EXPECT_EQ(out.str(),
            "deployment d-1 (production, graph v2): DEPLOYING, step 2/4\n"
            "deployment d-1 (production, graph v2): SUCCESS\n");
  EXPECT_EQ(out.str().find('\x1b'), std::string::npos);
}

TEST(LiveView, OnATerminalItRedrawsTheBlockInPlace) {
  std::ostringstream out;
  LiveView view(out, true);
  auto d = running();
  view.show(d);
  const std::string first = out.str();
  EXPECT_EQ(first.find("\x1b[4F"), std::string::npos) << "nothing to move back over yet";
  view.show(d);
  EXPECT_EQ(out.str(), first) << "an unchanged view is not drawn again";
  d.mutable_services(0)->set_healthy_replicas(2);
  view.show(d);
  const std::string second = out.str().substr(first.size());
  EXPECT_EQ(second.rfind("\x1b[4F", 0), 0u) << "moves up over the 4 lines drawn";
  EXPECT_NE(second.find("2/2 healthy"), std::string::npos);
  // A shorter block clears the lines it no longer uses and ends right after itself.
  d.clear_services();
  view.show(d);
  const std::string third = out.str().substr(first.size() + second.size());
  EXPECT_EQ(third.rfind("\x1b[4F", 0), 0u);
  EXPECT_NE(third.find("\x1b[2K\n\x1b[2K\n\x1b[2F"), std::string::npos) << third;
}

}  // namespace
}  // namespace axion::cli
