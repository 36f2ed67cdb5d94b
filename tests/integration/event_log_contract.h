// The fixture of the EventLog contract suite: every TEST_P in event_log_contract_test.cc and
// event_log_trailer_test.cc runs against each backend of all_log_backends() (one binary).
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/integration/log_backends.h"

namespace axion::testing {

using events::EventLog;
using events::OffsetCommit;
using events::Record;
using events::TopicPartition;
using std::chrono::milliseconds;

class EventLogContract : public ::testing::TestWithParam<LogBackend> {
 protected:
  void SetUp() override {
    dir_ = scratch_dir("log-" + GetParam().name);
    reopen();
  }

  // Destroys the current instance (as a process exit would) and opens the log again.
  void reopen() {
    log_.reset();
    auto opened = GetParam().open(dir_);
    ASSERT_TRUE(opened.ok()) << opened.status().to_string();
    log_ = std::move(opened).value();
  }

  std::string topic(int partitions) {
    std::string name = unique_name("contract");
    Status s = log_->ensure_topic({name, partitions});
    EXPECT_TRUE(s.ok()) << s.to_string();
    return name;
  }

  std::unique_ptr<events::Producer> producer(const std::string& txid) {
    auto p = log_->open_producer(txid);
    EXPECT_TRUE(p.ok()) << p.status().to_string();
    return p.ok() ? std::move(p).value() : nullptr;
  }

  static std::vector<Record> records(const std::string& topic, const std::string& key, int n,
                                     int first = 0) {
    std::vector<Record> out;
    for (int i = first; i < first + n; ++i) {
      out.push_back({topic, key, "value-" + std::to_string(i), {{"seq", std::to_string(i)}}, {}});
    }
    return out;
  }

  std::int64_t end(const TopicPartition& tp) {
    auto e = log_->end_offset(tp);
    EXPECT_TRUE(e.ok()) << e.status().to_string();
    return e.ok() ? *e : -1;
  }

  std::string dir_;
  std::unique_ptr<EventLog> log_;
};


}  // namespace axion::testing
