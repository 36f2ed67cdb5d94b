// The edge proxy's memory across agent restarts, in <state dir>/proxy/table.json: the desired
// table (what the last accepted SWITCH_TRAFFIC tasks asked for) and the table HAProxy last
// loaded from its configuration (what a reload is measured against). Written atomically
// (temporary file, fsync, rename), so a crash leaves the old file or the new one.
#pragma once

#include <string>

#include "agent/edge_proxy_config.h"
#include "common/status.h"

namespace axion::agent::proxy {

struct ProxyState {
  ProxyTable desired;
  ProxyTable loaded;  // empty: HAProxy's loaded configuration is not known (reload to be sure)
  bool operator==(const ProxyState&) const = default;
};

// JSON text of the state; same state => same bytes.
std::string state_to_json(const ProxyState& state);
// Parses and re-validates every route (a hand-edited file cannot smuggle text into
// haproxy.cfg); DATA_LOSS naming what is wrong.
Result<ProxyState> state_from_json(const std::string& text);

// The stored state; an empty one if the file does not exist.
Result<ProxyState> load_state(const std::string& path);
Status save_state(const std::string& path, const ProxyState& state);

}  // namespace axion::agent::proxy
