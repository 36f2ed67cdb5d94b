// Exactly-once under kill -9: a processor child process consumes an input topic and appends one
// output per input together with its consumed offsets. The test kills it with SIGKILL at random
// moments, restarts it (same transactional id, same group) and finally lets one run to the end;
// every input must then have exactly one output — on the embedded log and on the real broker.
// The binary re-executes itself as the child (`--processor-child ...`), so no fork happens in a
// process that already runs log threads.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "tests/integration/log_backends.h"

extern char** environ;

namespace axion::testing {
namespace {

using std::chrono::milliseconds;

std::string g_self;  // path of this test binary
constexpr std::size_t kRecordsPerAppend = 10;

struct ChildArgs {
  std::string backend, dir, in, out, group, txid;
};

// The processor: poll, append one output per input plus the offsets, until caught up.
int run_processor(const ChildArgs& a) {
  auto log = log_backend(a.backend).open(a.dir);
  if (!log.ok()) return 10;
  auto producer = (*log)->open_producer(a.txid);
  if (!producer.ok()) return 11;
  auto consumer = (*log)->subscribe(a.group, {a.in});
  if (!consumer.ok()) return 12;
  auto partitions = (*log)->partition_count(a.in);
  if (!partitions.ok()) return 13;
  int idle_polls = 0;
  for (;;) {
    auto batch = (*consumer)->poll(milliseconds(200));
    if (!batch.ok()) return 14;
    if (batch->empty()) {
      // Done once the group's committed offsets reach the end of every input partition.
      bool done = true;
      for (std::int32_t p = 0; p < *partitions; ++p) {
        auto end = (*log)->end_offset({a.in, p});
        auto committed = (*log)->committed_offset(a.group, {a.in, p});
        if (!end.ok() || !committed.ok()) return 15;
        done = done && committed->value_or(0) >= *end;
      }
      if (done && ++idle_polls >= 2) return 0;
      continue;
    }
    // Small transactions, so a kill lands inside one as often as between two.
    for (std::size_t first = 0; first < batch->size(); first += kRecordsPerAppend) {
      std::vector<events::Record> outputs;
      std::map<events::TopicPartition, std::int64_t> next;
      for (std::size_t i = first; i < std::min(batch->size(), first + kRecordsPerAppend); ++i) {
        const auto& r = (*batch)[i];
        outputs.push_back({a.out, r.key, r.tp.to_string() + "@" + std::to_string(r.offset), {}, {}});
        next[r.tp] = r.offset + 1;
      }
      events::OffsetCommit offsets{a.group, {}, consumer->get()};
      for (const auto& [tp, o] : next) offsets.offsets.push_back({tp, o});
      auto appended = (*producer)->append(std::move(outputs), &offsets);
      if (!appended.ok()) {
        if (appended.status().code() == StatusCode::kFailedPrecondition) return 16;  // fenced
        // Not committed: rewind every assigned partition to its committed offset, poll again.
        for (const auto& tp : (*consumer)->assignment()) {
          auto committed = (*log)->committed_offset(a.group, tp);
          if (committed.ok()) (void)(*consumer)->seek(tp, committed->value_or(0));
        }
        break;
      }
    }
  }
}

pid_t spawn_child(const ChildArgs& a) {
  std::vector<std::string> args = {g_self, "--processor-child", a.backend, a.dir, a.in,
                                   a.out,  a.group,             a.txid};
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, g_self.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

int wait_child(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

class ExactlyOnceUnderKill : public ::testing::TestWithParam<LogBackend> {};

TEST_P(ExactlyOnceUnderKill, EveryInputHasExactlyOneOutputAfterRepeatedKills) {
  const LogBackend& backend = GetParam();
  ChildArgs a{backend.name,           scratch_dir("kill-" + backend.name), unique_name("in"),
              unique_name("out"),     unique_name("group"),                unique_name("tx")};
  constexpr int kInputs = 3000;
  {
    auto log = backend.open(a.dir);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    ASSERT_TRUE((*log)->ensure_topic({a.in, 3}).ok());
    ASSERT_TRUE((*log)->ensure_topic({a.out, 3}).ok());
    auto p = (*log)->open_producer(unique_name("seed"));
    ASSERT_TRUE(p.ok());
    for (int chunk = 0; chunk < kInputs / 100; ++chunk) {
      std::vector<events::Record> inputs;
      for (int i = 0; i < 100; ++i) {
        inputs.push_back({a.in, "k" + std::to_string(chunk * 100 + i), "input", {}, {}});
      }
      ASSERT_TRUE((*p)->append(std::move(inputs)).ok());
    }
  }  // the embedded log allows one process at a time: close before the children run

  std::mt19937 rng(std::random_device{}());
  // Kill moments spread over the processing time of each backend (a Kafka consumer needs a few
  // seconds to join its group; the embedded log starts in milliseconds).
  std::uniform_int_distribution<int> delay_ms(backend.name == "kafka" ? 3000 : 20,
                                              backend.name == "kafka" ? 9000 : 250);
  for (int kill_round = 0; kill_round < 4; ++kill_round) {
    pid_t child = spawn_child(a);
    ASSERT_GT(child, 0);
    std::this_thread::sleep_for(milliseconds(delay_ms(rng)));  // the kill moment is the test input
    kill(child, SIGKILL);
    const int code = wait_child(child);
    ASSERT_TRUE(code == -SIGKILL || code == 0) << "child failed with " << code;
  }
  pid_t last = spawn_child(a);
  ASSERT_GT(last, 0);
  ASSERT_EQ(wait_child(last), 0);

  auto log = backend.open(a.dir);
  ASSERT_TRUE(log.ok());
  auto outputs = read_all(**log, a.out);
  ASSERT_TRUE(outputs.ok()) << outputs.status().to_string();
  std::map<std::string, int> seen;
  for (const auto& r : *outputs) ++seen[r.value];
  auto inputs = read_all(**log, a.in);
  ASSERT_TRUE(inputs.ok());
  ASSERT_EQ(inputs->size(), static_cast<std::size_t>(kInputs));
  int missing = 0, duplicated = 0;
  for (const auto& r : *inputs) {
    const int n = seen[r.tp.to_string() + "@" + std::to_string(r.offset)];
    missing += n == 0;
    duplicated += n > 1;
  }
  EXPECT_EQ(missing, 0);
  EXPECT_EQ(duplicated, 0);
  EXPECT_EQ(outputs->size(), static_cast<std::size_t>(kInputs));
}

INSTANTIATE_TEST_SUITE_P(AllBackends, ExactlyOnceUnderKill, ::testing::ValuesIn(all_log_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace axion::testing

int main(int argc, char** argv) {
  axion::testing::g_self = "/proc/self/exe";
  char resolved[4096] = {};
  if (ssize_t n = readlink("/proc/self/exe", resolved, sizeof resolved - 1); n > 0) {
    axion::testing::g_self = std::string(resolved, static_cast<std::size_t>(n));
  }
  if (argc == 8 && std::strcmp(argv[1], "--processor-child") == 0) {
    return axion::testing::run_processor({argv[2], argv[3], argv[4], argv[5], argv[6], argv[7]});
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
