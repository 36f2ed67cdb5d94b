// Graph-level validation (commands/graph_validation.h): counts, unique names, host-port clashes,
// edges, the start-order cycle check and the total size; per-service checks are in
// service_validation.cc. Also the image reference syntax check.
#include "commands/graph_validation.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "commands/field_checks.h"

namespace axion::commands {

namespace {

using axion::v1::Edge;
using axion::v1::Service;
using google::protobuf::RepeatedPtrField;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }

// A path component of a repository name: [a-z0-9]+ joined by '.', '_' or '-'.
bool repo_component_ok(std::string_view c) {
  if (c.empty() || !lower_alnum(c.front()) || !lower_alnum(c.back())) return false;
  for (char ch : c) {
    if (!lower_alnum(ch) && ch != '.' && ch != '_' && ch != '-') return false;
  }
  return true;
}

// A registry host, optionally with a port: "ghcr.io", "localhost:5000".
bool registry_ok(std::string_view c) {
  const auto colon = c.find(':');
  const std::string_view host = c.substr(0, colon);
  if (host.empty() || !alnum(host.front()) || !alnum(host.back())) return false;
  for (char ch : host) {
    if (!alnum(ch) && ch != '.' && ch != '-') return false;
  }
  if (colon == std::string_view::npos) return true;
  const std::string_view port = c.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  for (char ch : port) {
    if (ch < '0' || ch > '9') return false;
  }
  return true;
}

std::string service_list(const std::map<std::string, int>& names) {
  std::string out;
  int n = 0;
  for (const auto& [name, i] : names) {
    if (n == 10) return out + ", ...";
    out += (n++ ? ", " : "") + name;
  }
  return out;
}

Status check_names_and_host_ports(const RepeatedPtrField<Service>& services,
                                  std::map<std::string, int>& index_of) {
  std::map<std::pair<bool, std::uint32_t>, int> host_port_owner;  // (udp, port) -> service
  for (int i = 0; i < services.size(); ++i) {
    const Service& s = services[i];
    const std::string base = "services[" + std::to_string(i) + "]";
    if (auto [it, fresh] = index_of.emplace(s.name(), i); !fresh) {
      return invalid_field(base + ".name", "service name '" + s.name() + "' is used by services[" +
                                               std::to_string(it->second) + "] and " + base +
                                               ": service names must be unique");
    }
    for (int p = 0; p < s.ports_size(); ++p) {
      const auto& port = s.ports(p);
      if (!port.has_host_port()) continue;
      const bool udp = port.protocol() == axion::v1::PORT_PROTOCOL_UDP;
      auto [it, fresh] = host_port_owner.emplace(std::make_pair(udp, port.host_port()), i);
      if (!fresh) {
        const Service& other = services[it->second];
        return invalid_field(
            base + ".ports[" + std::to_string(p) + "].host_port",
            "host port " + std::to_string(port.host_port()) + (udp ? "/udp" : "/tcp") +
                " is claimed twice: by service '" + other.name() + "' and by service '" +
                s.name() + "'; a host port can be published only once");
      }
    }
  }
  return ok_status();
}

Status check_edges(const RepeatedPtrField<Service>& services, const RepeatedPtrField<Edge>& edges,
                   const std::map<std::string, int>& index_of) {
  std::map<std::tuple<std::string, std::string, int, std::uint32_t>, int> seen;
  for (int j = 0; j < edges.size(); ++j) {
    const Edge& e = edges[j];
    const std::string f = "edges[" + std::to_string(j) + "]";
    if (e.kind() == axion::v1::EDGE_KIND_UNSPECIFIED || !axion::v1::EdgeKind_IsValid(e.kind()))
      return invalid_field(f + ".kind", "edge " + std::to_string(j) + " has kind " +
                                            std::to_string(e.kind()) +
                                            ": use START_ORDER or TRAFFIC");
    for (const auto& [end, name] :
         {std::pair{"from_service", &e.from_service()}, std::pair{"to_service", &e.to_service()}}) {
      if (!index_of.contains(*name))
        return invalid_field(f + "." + end, "edge " + std::to_string(j) + ": " + end + " " +
                                                quote(*name) +
                                                " is not a service of this graph (services: " +
                                                service_list(index_of) + ")");
    }
    if (e.from_service() == e.to_service())
      return invalid_field(f + ".to_service", "edge " + std::to_string(j) + " connects service '" +
                                                  e.from_service() +
                                                  "' to itself; self-edges are not allowed");
    if (e.kind() == axion::v1::EDGE_KIND_TRAFFIC) {
      const Service& to = services[index_of.at(e.to_service())];
      bool declared = false;
      for (const auto& p : to.ports()) declared = declared || p.container_port() == e.port();
      if (!declared)
        return invalid_field(f + ".port", "edge " + std::to_string(j) + ": service '" +
                                              e.to_service() + "' declares no container port " +
                                              std::to_string(e.port()) +
                                              "; a TRAFFIC edge must name one of its ports");
    } else if (e.port() != 0) {
      return invalid_field(f + ".port", "edge " + std::to_string(j) +
                                            ": port applies only to TRAFFIC edges; leave it 0");
    }
    auto [it, fresh] = seen.emplace(
        std::make_tuple(e.from_service(), e.to_service(), static_cast<int>(e.kind()), e.port()), j);
    if (!fresh)
      return invalid_field(f, "edge " + std::to_string(j) + " (" + e.from_service() + " -> " +
                                  e.to_service() + ") duplicates edges[" +
                                  std::to_string(it->second) + "]");
  }
  return ok_status();
}

// Depth-first search for a start-order cycle. Deterministic: services in given order, edges in
// given order. Depth is bounded by the service count (<= max_services), so recursion is safe.
struct CycleFinder {
  std::vector<std::vector<std::pair<int, int>>> out;  // service -> (to service, edge index)
  std::vector<int> color;                             // 0 new, 1 on stack, 2 done
  std::vector<int> stack;
  int closing_edge = -1;
  std::vector<int> cycle;

  bool visit(int v) {
    color[v] = 1;
    stack.push_back(v);
    for (const auto& [w, edge] : out[v]) {
      if (color[w] == 1) {
        auto from = std::find(stack.begin(), stack.end(), w);
        cycle.assign(from, stack.end());
        cycle.push_back(w);
        closing_edge = edge;
        return true;
      }
      if (color[w] == 0 && visit(w)) return true;
    }
    stack.pop_back();
    color[v] = 2;
    return false;
  }
};

Status check_start_order(const RepeatedPtrField<Service>& services,
                         const RepeatedPtrField<Edge>& edges,
                         const std::map<std::string, int>& index_of) {
  CycleFinder finder;
  finder.out.resize(services.size());
  finder.color.assign(services.size(), 0);
  for (int j = 0; j < edges.size(); ++j) {
    // TRAFFIC implies start order (project.proto), so both kinds take part.
    finder.out[index_of.at(edges[j].from_service())].emplace_back(
        index_of.at(edges[j].to_service()), j);
  }
  for (int v = 0; v < services.size(); ++v) {
    if (finder.color[v] != 0 || !finder.visit(v)) continue;
    std::string path;
    for (int s : finder.cycle) path += (path.empty() ? "" : " -> ") + services[s].name();
    return invalid_field("edges[" + std::to_string(finder.closing_edge) + "]",
                         "start-order cycle: " + path +
                             ": each service would wait for the next to start; remove one of "
                             "these edges (TRAFFIC edges imply start order too)");
  }
  return ok_status();
}

}  // namespace

namespace detail {

std::string image_reference_problem(const std::string& image, std::size_t max_bytes) {
  if (auto p = token_problem(image, max_bytes); !p.empty()) return p;
  std::string_view rest = image;
  if (const auto at = rest.find('@'); at != std::string_view::npos) {
    const std::string_view digest = rest.substr(at + 1);
    rest = rest.substr(0, at);
    const auto colon = digest.find(':');
    if (colon == std::string_view::npos || colon == 0) return "the digest needs algorithm:hex";
    for (char c : digest.substr(0, colon)) {
      if (!lower_alnum(c) && c != '+' && c != '.' && c != '_' && c != '-')
        return "the digest algorithm is malformed";
    }
    const std::string_view hex = digest.substr(colon + 1);
    if (hex.size() < 32) return "the digest is shorter than 32 hex digits";
    for (char c : hex) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return "the digest is not hex";
    }
  }
  const auto slash = rest.rfind('/');
  const auto colon = rest.rfind(':');
  if (colon != std::string_view::npos && (slash == std::string_view::npos || colon > slash)) {
    const std::string_view tag = rest.substr(colon + 1);
    rest = rest.substr(0, colon);
    if (tag.empty() || tag.size() > 128 || tag.front() == '.' || tag.front() == '-')
      return "the tag is empty, too long or starts with '.' or '-'";
    for (char c : tag) {
      if (!alnum(c) && c != '_' && c != '.' && c != '-') return "the tag has an invalid character";
    }
  }
  if (rest.empty()) return "the name is empty";
  std::vector<std::string_view> parts;
  for (std::size_t start = 0;;) {
    const auto end = rest.find('/', start);
    parts.push_back(rest.substr(start, end == std::string_view::npos ? end : end - start));
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  std::size_t first = 0;
  if (parts.size() > 1 && (parts[0].find_first_of(".:") != std::string_view::npos ||
                           parts[0] == "localhost")) {
    if (!registry_ok(parts[0])) return "the registry host is malformed";
    first = 1;
  }
  for (std::size_t i = first; i < parts.size(); ++i) {
    if (!repo_component_ok(parts[i]))
      return "the name must be lowercase letters and digits, separated by '/', '.', '_' or '-'";
  }
  return {};
}

}  // namespace detail

Status validate_graph(const RepeatedPtrField<Service>& services,
                      const RepeatedPtrField<Edge>& edges, const GraphLimits& limits) {
  if (services.empty())
    return invalid_field("services", "a graph needs at least one service");
  if (static_cast<std::size_t>(services.size()) > limits.max_services)
    return invalid_field("services", "the graph has " + std::to_string(services.size()) +
                                         " services; at most " +
                                         std::to_string(limits.max_services) + " are allowed");
  if (static_cast<std::size_t>(edges.size()) > limits.max_edges)
    return invalid_field("edges", "the graph has " + std::to_string(edges.size()) +
                                      " edges; at most " + std::to_string(limits.max_edges) +
                                      " are allowed");
  for (int i = 0; i < services.size(); ++i) {
    AXION_RETURN_IF_ERROR(detail::validate_service(services[i], i, limits));
  }
  std::map<std::string, int> index_of;
  AXION_RETURN_IF_ERROR(check_names_and_host_ports(services, index_of));
  AXION_RETURN_IF_ERROR(check_edges(services, edges, index_of));
  AXION_RETURN_IF_ERROR(check_start_order(services, edges, index_of));
  std::size_t bytes = 0;
  for (const auto& s : services) bytes += s.ByteSizeLong();
  for (const auto& e : edges) bytes += e.ByteSizeLong();
  if (bytes > limits.max_graph_bytes)
    return invalid_field("services", "the graph is " + std::to_string(bytes) +
                                         " bytes serialized; at most " +
                                         std::to_string(limits.max_graph_bytes) +
                                         " are allowed (large values belong in files or secrets)");
  return ok_status();
}

Status validate_graph(const axion::v1::PublishGraph& command, const GraphLimits& limits) {
  if (const std::string& c = command.commit_hash(); !c.empty()) {
    if (auto p = commit_hash_problem(c); !p.empty())
      return invalid_field("commit_hash", "commit hash " + quote(c) + " is invalid: " + p);
  }
  return validate_graph(command.services(), command.edges(), limits);
}

Status validate_graph(const axion::v1::GraphVersion& graph, const GraphLimits& limits) {
  return validate_graph(graph.services(), graph.edges(), limits);
}

}  // namespace axion::commands
