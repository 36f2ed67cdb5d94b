// In-process consumer-group coordination for the embedded log: members join and leave, every
// change bumps the group's generation, and each member computes its share with Kafka's range
// assignment (per topic, members sorted by id take contiguous partition ranges).
#include <algorithm>

#include "infra/rocksdb/impl/log_core.h"

namespace axion::infra::rocksdb {

Result<std::uint64_t> LogCore::join_group(const std::string& group,
                                          std::vector<std::string> topics) {
  AXION_RETURN_IF_ERROR(events::validate_identifier("consumer group", group));
  if (topics.empty()) return invalid_argument("subscribe needs at least one topic");
  std::uint64_t id = 0;
  {
    std::lock_guard lock(mu_);
    for (const auto& t : topics) {
      AXION_RETURN_IF_ERROR(events::validate_topic_name(t));
      if (!topics_.contains(t)) {
        return not_found("cannot subscribe to topic '" + t + "': it does not exist");
      }
    }
    id = next_member_id_++;
    Group& g = groups_[group];
    g.members[id] = GroupMember{id, std::move(topics)};
    ++g.generation;
  }
  data_cv_.notify_all();
  return id;
}

void LogCore::leave_group(const std::string& group, std::uint64_t member_id) {
  {
    std::lock_guard lock(mu_);
    auto g = groups_.find(group);
    if (g == groups_.end() || g->second.members.erase(member_id) == 0) return;
    ++g->second.generation;
  }
  data_cv_.notify_all();
}

std::uint64_t LogCore::generation(const std::string& group) {
  std::lock_guard lock(mu_);
  auto g = groups_.find(group);
  return g == groups_.end() ? 0 : g->second.generation;
}

std::pair<std::uint64_t, std::vector<events::TopicPartition>> LogCore::assignment(
    const std::string& group, std::uint64_t member_id) {
  std::lock_guard lock(mu_);
  std::vector<events::TopicPartition> mine;
  auto g = groups_.find(group);
  if (g == groups_.end() || !g->second.members.contains(member_id)) return {0, mine};
  std::set<std::string> all_topics;
  for (const auto& [id, m] : g->second.members) all_topics.insert(m.topics.begin(), m.topics.end());
  for (const std::string& topic : all_topics) {
    std::vector<std::uint64_t> subscribers;  // sorted: members is an ordered map
    for (const auto& [id, m] : g->second.members) {
      if (std::find(m.topics.begin(), m.topics.end(), topic) != m.topics.end()) {
        subscribers.push_back(id);
      }
    }
    auto self = std::find(subscribers.begin(), subscribers.end(), member_id);
    if (self == subscribers.end()) continue;
    const auto index = static_cast<std::int32_t>(self - subscribers.begin());
    const auto count = static_cast<std::int32_t>(subscribers.size());
    const std::int32_t partitions = topics_[topic];
    const std::int32_t per = partitions / count;
    const std::int32_t extra = partitions % count;
    const std::int32_t first = index * per + std::min(index, extra);
    const std::int32_t n = per + (index < extra ? 1 : 0);
    for (std::int32_t p = first; p < first + n; ++p) mine.push_back({topic, p});
  }
  return {g->second.generation, mine};
}

std::vector<events::StoredRecord> LogCore::poll_partitions(
    const std::string& group, std::uint64_t seen_generation,
    const std::map<events::TopicPartition, std::int64_t>& positions, std::size_t max,
    std::chrono::milliseconds timeout, Status* error) {
  std::map<events::TopicPartition, std::int64_t> ends;
  {
    std::unique_lock lock(mu_);
    auto ready = [&] {
      auto g = groups_.find(group);
      if (g != groups_.end() && g->second.generation != seen_generation) return true;
      for (const auto& [tp, pos] : positions) {
        if (ends_[tp] > pos) return true;
      }
      return false;
    };
    data_cv_.wait_for(lock, timeout, ready);
    for (const auto& [tp, pos] : positions) ends[tp] = ends_[tp];
  }
  std::vector<events::StoredRecord> out;
  for (const auto& [tp, pos] : positions) {
    if (out.size() >= max) break;
    auto part = read_locked_range(tp, pos, ends[tp], max - out.size(), error);
    if (!error->ok()) return {};
    std::move(part.begin(), part.end(), std::back_inserter(out));
  }
  return out;
}

}  // namespace axion::infra::rocksdb
