// The edge proxy's desired state as values, and the pure functions over it: validating a
// ProxySpec into a Route, rendering the HAProxy configuration (byte-for-byte the same for the
// same table), and deciding whether a new table can be applied through HAProxy's runtime API or
// needs a reload. Nothing here does I/O, so every rule is tested in milliseconds.
//
// Everything that reaches haproxy.cfg passed these checks first: names are DNS labels, addresses
// are IPv4 literals (or "localhost"), numbers are in range — no input can add a line, a word or
// a quote to the configuration.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "axion/v1/agent.pb.h"
#include "common/status.h"

namespace axion::agent::proxy {

// HAProxy's largest server weight.
inline constexpr std::uint32_t kMaxWeight = 256;

enum class ProxyMode { kHttp, kTcp };

struct Backend {
  std::string instance_id;  // the HAProxy server name
  std::string host;         // IPv4 literal ("localhost" is stored as 127.0.0.1)
  std::uint16_t port = 0;
  std::uint32_t weight = 0;  // 0 = drained: no new requests
  std::string address() const { return host + ":" + std::to_string(port); }
  bool operator==(const Backend&) const = default;
};

struct Route {
  std::string service;
  std::uint16_t listen_port = 0;
  ProxyMode mode = ProxyMode::kTcp;
  std::vector<Backend> backends;  // in the order the spec gave them
  bool operator==(const Route&) const = default;
};

// The desired services, by service name (std::map: rendering order is deterministic).
using ProxyTable = std::map<std::string, Route>;

// Validates a SWITCH_TRAFFIC spec; INVALID_ARGUMENT naming the field and what is allowed.
// Protocol HTTP => http mode (per-request balancing); TCP or unset => tcp; UDP is refused.
Result<Route> validate_proxy_spec(const axion::v1::ProxySpec& spec);

// Whether `route` can join `table` (replacing the route of the same service): FAILED_PRECONDITION
// if another service already listens on its port.
Status check_fits(const ProxyTable& table, const Route& route);

// An IPv4 literal in dotted-quad form ("127.0.0.1"), nothing else.
bool is_ipv4_literal(const std::string& value);

// Whether a filesystem path can be written into haproxy.cfg as one word: absolute, printable
// ASCII, none of whitespace, quotes, '#', '\\' or '$' (HAProxy would interpret them).
bool is_safe_config_path(const std::string& path);

struct RenderOptions {
  std::string admin_socket;                // stats socket with level admin (is_safe_config_path)
  std::string bind_address = "127.0.0.1";  // IPv4 literal the frontends listen on
};

// The whole haproxy.cfg. REQUIRES: routes from validate_proxy_spec, options checked by
// check_render_options. Same input => same bytes.
std::string render_haproxy_config(const ProxyTable& table, const RenderOptions& options);
Status check_render_options(const RenderOptions& options);

// HAProxy's names for a service's frontend and backend sections.
std::string frontend_name(const std::string& service);
std::string backend_name(const std::string& service);

// Whether going from the table HAProxy loaded to `desired` needs a reload: a service, a server,
// a listen port or a mode was added, removed or changed. Weights and server addresses do not:
// they change through the runtime API.
bool needs_reload(const ProxyTable& loaded, const ProxyTable& desired);

// What changed from `before` to `after`, for a task's detail: "web: added server v3
// (127.0.0.1:8003, weight 10); v1 weight 100->0"; "no change" if nothing did.
std::string describe_change(const ProxyTable& before, const ProxyTable& after);

// One server as `show servers state` reports it.
struct ServerState {
  std::string backend;
  std::string server;
  std::string host;
  std::uint16_t port = 0;
  std::uint32_t weight = 0;  // the user weight (what `set server ... weight` sets)
};
// Parses `show servers state` output by its header line ("# be_id be_name srv_id ...").
std::vector<ServerState> parse_servers_state(const std::string& text);
// The "Pid: N" of `show info`; 0 if absent.
int parse_info_pid(const std::string& text);
// How the running servers differ from `desired` ("be_web/v2: weight 0, want 50"); empty if
// every desired server runs with its address and weight and no other server is configured.
std::string mismatch(const ProxyTable& desired, const std::vector<ServerState>& running);

}  // namespace axion::agent::proxy
