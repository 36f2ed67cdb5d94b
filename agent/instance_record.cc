#include "agent/instance_record.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "agent/state_store.h"

namespace axion::agent {

namespace {

constexpr const char* kRecordFile = "instance.json";

}  // namespace

bool InstanceRecord::operator==(const InstanceRecord& o) const {
  return instance_id == o.instance_id && service == o.service && deployment_id == o.deployment_id &&
         task_id == o.task_id && spec_hash == o.spec_hash && pid == o.pid &&
         start_time == o.start_time && ports == o.ports && state == o.state &&
         restart_count == o.restart_count && started_at_ms == o.started_at_ms &&
         finished == o.finished && terminal_state == o.terminal_state && detail == o.detail &&
         exit_code == o.exit_code && output == o.output &&
         google::protobuf::util::MessageDifferencer::Equals(spec, o.spec);
}

std::string record_to_json(const InstanceRecord& r) {
  nlohmann::json ports = nlohmann::json::array();
  for (const auto& p : r.ports) {
    ports.push_back(
        {{"name", p.name}, {"container_port", p.container_port}, {"host_port", p.host_port}});
  }
  std::string spec_json;
  // A ProcessSpec always converts; the status is checked all the same.
  if (!google::protobuf::util::MessageToJsonString(r.spec, &spec_json).ok()) spec_json = "{}";
  const nlohmann::json j = {
      {"instance_id", r.instance_id},
      {"service", r.service},
      {"deployment_id", r.deployment_id},
      {"task_id", r.task_id},
      {"spec_hash", r.spec_hash},
      {"pid", r.pid},
      {"start_time", r.start_time},
      {"ports", ports},
      {"state", r.state},
      {"restart_count", r.restart_count},
      {"started_at_ms", r.started_at_ms},
      {"finished", r.finished},
      {"terminal_state", r.terminal_state},
      {"detail", r.detail},
      {"exit_code", r.exit_code},
      {"output", r.output},
      {"spec", nlohmann::json::parse(spec_json)},
  };
  // error_handler::replace: a service's output tail need not be valid UTF-8.
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

Result<InstanceRecord> record_from_json(std::string_view text) {
  try {
    const auto j = nlohmann::json::parse(text);
    InstanceRecord r;
    r.instance_id = j.at("instance_id").get<std::string>();
    r.service = j.value("service", "");
    r.deployment_id = j.value("deployment_id", "");
    r.task_id = j.at("task_id").get<std::string>();
    r.spec_hash = j.value("spec_hash", "");
    r.pid = j.at("pid").get<int>();
    r.start_time = j.at("start_time").get<std::uint64_t>();
    for (const auto& p : j.value("ports", nlohmann::json::array())) {
      r.ports.push_back({p.at("name").get<std::string>(),
                         p.at("container_port").get<std::uint32_t>(),
                         p.at("host_port").get<std::uint32_t>()});
    }
    r.state = j.value("state", "");
    r.restart_count = j.value("restart_count", 0u);
    r.started_at_ms = j.value("started_at_ms", std::int64_t{0});
    r.finished = j.value("finished", false);
    r.terminal_state = j.value("terminal_state", 0);
    r.detail = j.value("detail", "");
    r.exit_code = j.value("exit_code", 0);
    r.output = j.value("output", "");
    if (j.contains("spec")) {
      const auto st = google::protobuf::util::JsonStringToMessage(j.at("spec").dump(), &r.spec);
      if (!st.ok()) return invalid_argument("its spec is damaged: " + st.ToString());
    }
    return r;
  } catch (const nlohmann::json::exception& e) {
    return invalid_argument(std::string("not an instance record: ") + e.what());
  }
}

std::string spec_hash(const axion::v1::ProcessSpec& spec) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);  // map fields (env, labels) in key order
    spec.SerializeToCodedStream(&out);
  }
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return hex;
}

Status save_record(const std::string& dir, const InstanceRecord& record) {
  return write_file_atomically((std::filesystem::path(dir) / kRecordFile).string(),
                               record_to_json(record));
}

Result<InstanceRecord> load_record(const std::string& dir) {
  const auto path = std::filesystem::path(dir) / kRecordFile;
  std::ifstream in(path);
  if (!in) return not_found("no instance record at " + path.string());
  std::stringstream body;
  body << in.rdbuf();
  auto r = record_from_json(body.str());
  if (!r.ok()) return invalid_argument(path.string() + ": " + r.status().message());
  return r;
}

}  // namespace axion::agent
