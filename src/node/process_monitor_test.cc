#include "node/process_monitor.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace mliot {
namespace {

TEST(ProcessMonitorTest, SeesABusyChildAndStopsWhenItExits) {
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // ~1.5 s of CPU with 64 MB touched.
    std::vector<char> memory(64 << 20, 1);
    volatile uint64_t x = 0;
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
    while (std::chrono::steady_clock::now() < end) {
      for (int i = 0; i < 100000; ++i) x = x + memory[static_cast<size_t>(i) * 613 % memory.size()];
    }
    _exit(0);
  }
  std::vector<ResourceRow> rows;
  std::atomic<bool> stop{false};
  // The child exits on its own; a reaper turns it from a zombie into gone.
  std::thread reaper([child] { waitpid(child, nullptr, 0); });
  const absl::Status s = MonitorProcess(child, 0.2, 30, stop, [&](const ResourceRow& r) { rows.push_back(r); });
  reaper.join();
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_GE(rows.size(), 3u);
  EXPECT_LT(rows.back().t_s, 10) << "did not stop when the process exited";
  double max_cpu = 0, max_rss = 0;
  for (const ResourceRow& r : rows) {
    max_cpu = std::max(max_cpu, r.cpu_percent);
    max_rss = std::max(max_rss, r.rss_mb);
    EXPECT_GE(r.read_mb_s, 0);
    EXPECT_GE(r.rx_mb_s, 0);
  }
  EXPECT_GT(max_cpu, 50);  // one core busy
  EXPECT_GT(max_rss, 60);  // 64 MB touched
  const std::string header = ResourceCsvHeader(), row = ResourceCsvRow(rows[0]);
  EXPECT_EQ(std::count(header.begin(), header.end(), ','), 7);
  EXPECT_EQ(std::count(row.begin(), row.end(), ','), 7);
}

// A task's workers: the rows sum over every process the source names, and
// the monitoring ends when the source says the task is gone.
TEST(ProcessMonitorTest, SumsOverProcessesAndEndsWithTheSource) {
  std::vector<pid_t> children;
  for (int c = 0; c < 2; ++c) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      std::vector<char> memory(32 << 20, 1);  // 32 MB each
      volatile uint64_t x = 0;
      const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (std::chrono::steady_clock::now() < end) x = x + memory[x % memory.size()];
      _exit(0);
    }
    children.push_back(child);
  }
  std::vector<ResourceRow> rows;
  std::atomic<bool> stop{false};
  int asked = 0;
  const absl::Status s = MonitorProcesses(
      [&]() -> std::optional<std::vector<pid_t>> {
        if (++asked > 6) return std::nullopt;  // the task was cancelled
        return children;
      },
      0.2, 30, stop, [&](const ResourceRow& r) { rows.push_back(r); });
  for (pid_t c : children) {
    kill(c, SIGKILL);
    waitpid(c, nullptr, 0);
  }
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_EQ(rows.size(), 5u) << "one row per sample until the source ended";
  for (const ResourceRow& r : rows) {
    EXPECT_EQ(r.processes, 2);
    EXPECT_GT(r.rss_mb, 60) << "RSS summed over both";
  }
  EXPECT_GT(rows.back().cpu_percent, 50);
}

TEST(ProcessMonitorTest, UnknownPidIsAClearError) {
  std::atomic<bool> stop{false};
  const absl::Status s = MonitorProcess(999999999, 1, 1, stop, [](const ResourceRow&) {});
  EXPECT_TRUE(absl::IsNotFound(s)) << s;
  EXPECT_NE(s.message().find("999999999"), std::string::npos);
}

}  // namespace
}  // namespace mliot
