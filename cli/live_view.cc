#include "cli/live_view.h"

#include <algorithm>

namespace axion::cli {

namespace v1 = axion::v1;

std::string short_status(v1::DeploymentStatus s) {
  return v1::DeploymentStatus_Name(s).substr(std::string("DEPLOYMENT_STATUS_").size());
}

std::string short_service_status(v1::ServiceStatus s) {
  return v1::ServiceStatus_Name(s).substr(std::string("SERVICE_STATUS_").size());
}

std::string headline(const v1::Deployment& d) {
  std::string line = "deployment " + d.deployment_id() + " (" + d.environment() + ", graph v" +
                     std::to_string(d.graph_version()) + "): " + short_status(d.status());
  // current_step is the index of the step running (or last run), from 0.
  if (d.total_steps() > 0 && d.status() != v1::DEPLOYMENT_STATUS_SUCCESS) {
    line += ", step " + std::to_string(std::min(d.current_step() + 1, d.total_steps())) + "/" +
            std::to_string(d.total_steps());
  }
  if (d.weight() > 0 && d.weight() < 100) line += ", " + std::to_string(d.weight()) + "% traffic";
  if (d.paused()) line += ", paused (axion promote)";
  if (d.status() == v1::DEPLOYMENT_STATUS_FAILED && d.has_failure()) {
    line += "\n  failed: " + d.failure().reason();
    if (!d.failure().service().empty()) line += " (service " + d.failure().service() + ")";
  }
  return line;
}

std::string progress_bar(std::uint64_t done, std::uint64_t total, int width) {
  const auto cells = static_cast<std::uint64_t>(std::max(width, 1));
  const std::uint64_t filled = total == 0 ? 0 : std::min(done, total) * cells / total;
  return "[" + std::string(filled, '#') + std::string(cells - filled, '-') + "]";
}

std::vector<std::string> live_lines(const v1::Deployment& d) {
  std::vector<std::string> lines;
  std::string head = headline(d);
  for (std::size_t nl; (nl = head.find('\n')) != std::string::npos; head = head.substr(nl + 1)) {
    lines.push_back(head.substr(0, nl));
  }
  lines.push_back(head);
  const bool ended = d.status() == v1::DEPLOYMENT_STATUS_SUCCESS;
  // Steps completed: the current one counts once the deployment is past it.
  const std::uint64_t steps = d.total_steps();
  const std::uint64_t done = ended ? steps : d.current_step();
  lines.push_back("  rollout  " + progress_bar(done, steps, 30) + " " + std::to_string(done) + "/" +
                  std::to_string(steps) + " steps");
  std::size_t width = 0;
  for (const auto& s : d.services()) width = std::max(width, s.service().size());
  for (const auto& s : d.services()) {
    std::string name = s.service();
    name.resize(width, ' ');
    std::string status = short_service_status(s.status());
    status.resize(10, ' ');
    std::string line = "  " + name + "  " + status + " " +
                       progress_bar(s.healthy_replicas(), s.desired_replicas(), 10) + " " +
                       std::to_string(s.healthy_replicas()) + "/" +
                       std::to_string(s.desired_replicas()) + " healthy";
    if (!s.detail().empty()) line += "  " + s.detail();
    lines.push_back(line.substr(0, 160));
  }
  return lines;
}

void LiveView::show(const v1::Deployment& d) {
  if (!terminal_) {
    const std::string line = headline(d);
    if (line != last_headline_) out_ << line << "\n" << std::flush;
    last_headline_ = line;
    return;
  }
  auto lines = live_lines(d);
  if (lines == drawn_) return;
  // Back to the block's first line, then each line cleared and drawn again.
  if (!drawn_.empty()) out_ << "\x1b[" << drawn_.size() << "F";
  for (const auto& l : lines) out_ << "\x1b[2K" << l << "\n";
  for (std::size_t i = lines.size(); i < drawn_.size(); ++i) out_ << "\x1b[2K\n";
  if (drawn_.size() > lines.size()) out_ << "\x1b[" << drawn_.size() - lines.size() << "F";
  out_ << std::flush;
  drawn_ = std::move(lines);
}

}  // namespace axion::cli
