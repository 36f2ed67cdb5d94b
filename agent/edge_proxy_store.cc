#include "agent/edge_proxy_store.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/state_store.h"

namespace axion::agent::proxy {

namespace {

using nlohmann::json;

json table_to_json(const ProxyTable& table) {
  json out = json::object();
  for (const auto& [service, route] : table) {
    json backends = json::array();
    for (const Backend& b : route.backends) {
      backends.push_back(
          {{"instance_id", b.instance_id}, {"address", b.address()}, {"weight", b.weight}});
    }
    out[service] = {{"listen_port", route.listen_port},
                    {"protocol", route.mode == ProxyMode::kHttp ? "http" : "tcp"},
                    {"backends", std::move(backends)}};
  }
  return out;
}

// Goes through validate_proxy_spec, like a task's spec does.
Result<ProxyTable> table_from_json(const json& in, const std::string& what) {
  if (!in.is_object()) return data_loss(what + " is not a JSON object");
  ProxyTable table;
  for (const auto& [service, route] : in.items()) {
    axion::v1::ProxySpec spec;
    spec.set_service(service);
    spec.set_listen_port(route.value("listen_port", 0u));
    spec.set_protocol(route.value("protocol", "") == "http" ? axion::v1::PORT_PROTOCOL_HTTP
                                                            : axion::v1::PORT_PROTOCOL_TCP);
    for (const auto& b : route.value("backends", json::array())) {
      auto* backend = spec.add_backends();
      backend->set_instance_id(b.value("instance_id", ""));
      backend->set_address(b.value("address", ""));
      backend->set_weight(b.value("weight", 0u));
    }
    auto valid = validate_proxy_spec(spec);
    if (!valid.ok()) {
      return data_loss(what + " has an invalid service: " + valid.status().message());
    }
    table.emplace(service, std::move(*valid));
  }
  return table;
}

}  // namespace

std::string state_to_json(const ProxyState& state) {
  const json out = {{"version", 1},
                    {"desired", table_to_json(state.desired)},
                    {"loaded", table_to_json(state.loaded)}};
  return out.dump(2) + "\n";
}

Result<ProxyState> state_from_json(const std::string& text) {
  try {
    const json in = json::parse(text);
    if (!in.is_object() || in.value("version", 0) != 1) {
      return data_loss("the proxy state is not a version 1 state object");
    }
    ProxyState state;
    auto desired = table_from_json(in.value("desired", json::object()), "the desired table");
    if (!desired.ok()) return desired.status();
    auto loaded = table_from_json(in.value("loaded", json::object()), "the loaded table");
    if (!loaded.ok()) return loaded.status();
    state.desired = std::move(*desired);
    state.loaded = std::move(*loaded);
    return state;
  } catch (const json::exception& e) {
    return data_loss(std::string("the proxy state is not valid JSON of the expected shape: ") +
                     e.what());
  }
}

Result<ProxyState> load_state(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    if (!std::filesystem::exists(path)) return ProxyState{};
    return unavailable("cannot read " + path + ": check its permissions");
  }
  std::ostringstream text;
  text << in.rdbuf();
  auto state = state_from_json(text.str());
  if (!state.ok()) {
    return data_loss(path + ": " + state.status().message() +
                     " (remove the file; the next SWITCH_TRAFFIC tasks rebuild it)");
  }
  return state;
}

Status save_state(const std::string& path, const ProxyState& state) {
  return agent::write_file_atomically(path, state_to_json(state));
}

}  // namespace axion::agent::proxy
