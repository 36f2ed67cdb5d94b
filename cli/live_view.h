// How `axion deploy --watch` / `status --watch` show a deployment while it runs. On a terminal a
// block redrawn in place: the headline, a progress bar of the rollout's steps and one line per
// service with a bar of its healthy replicas. Elsewhere (a pipe, a log file) a line each time
// the headline changes, so the output stays readable and greppable.
#pragma once

#include <cstdint>
#include <ostream>
#include <string>
#include <vector>

#include "axion/v1/deployment.pb.h"

namespace axion::cli {

// "DEPLOYING" for DEPLOYMENT_STATUS_DEPLOYING, "HEALTHY" for SERVICE_STATUS_HEALTHY.
std::string short_status(axion::v1::DeploymentStatus s);
std::string short_service_status(axion::v1::ServiceStatus s);

// "deployment <id> (<env>, graph vN): DEPLOYING, step 2/4, 10% traffic" and why it failed.
std::string headline(const axion::v1::Deployment& d);

// "[#####-----]" with `width` cells, `done` of `total` filled (empty total: all empty).
std::string progress_bar(std::uint64_t done, std::uint64_t total, int width);

// The lines of the terminal block (no trailing newlines).
std::vector<std::string> live_lines(const axion::v1::Deployment& d);

class LiveView {
 public:
  LiveView(std::ostream& out, bool terminal) : out_(out), terminal_(terminal) {}
  // Shows the deployment if what would be shown changed.
  void show(const axion::v1::Deployment& d);

 private:
  std::ostream& out_;
  const bool terminal_;
  std::vector<std::string> drawn_;
  std::string last_headline_;
};

}  // namespace axion::cli
