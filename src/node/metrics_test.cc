#include "node/metrics.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"

namespace mliot {
namespace {

namespace fs = std::filesystem;

class CgroupMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = (fs::temp_directory_path() / ("mliot-metrics-" + std::to_string(getpid()))).string();
    fs::remove_all(root_);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& path, const std::string& text) {
    fs::create_directories(fs::path(root_ + path).parent_path());
    std::ofstream(root_ + path) << text;
  }
  std::string root_;
};

TEST_F(CgroupMetricsTest, FindsTheV1GroupsOfSeparateAndJoinedHierarchies) {
  Write("/cpu/tb/M1/cpu.cfs_quota_us", "12500\n");
  Write("/cpu/tb/M1/cpu.cfs_period_us", "100000\n");
  Write("/cpuacct/tb/M1/cpuacct.usage", "0\n");
  Write("/memory/tb/M1/memory.limit_in_bytes", "1073741824\n");
  Write("/memory/tb/M1/memory.usage_in_bytes", "0\n");
  const CgroupFiles f = FindCgroupFiles(
      "4:memory:/tb/M1\n2:cpuacct:/tb/M1\n1:cpu:/tb/M1\n0::/\n", root_);
  EXPECT_EQ(f.cpu_quota, root_ + "/cpu/tb/M1/cpu.cfs_quota_us");
  EXPECT_EQ(f.cpu_usage, root_ + "/cpuacct/tb/M1/cpuacct.usage");
  EXPECT_EQ(f.mem_limit, root_ + "/memory/tb/M1/memory.limit_in_bytes");
  EXPECT_FALSE(f.v2);

  Write("/cpu,cpuacct/x/cpu.cfs_quota_us", "-1\n");
  Write("/cpu,cpuacct/x/cpuacct.usage", "0\n");
  const CgroupFiles joined = FindCgroupFiles("3:cpu,cpuacct:/x\n", root_);
  EXPECT_EQ(joined.cpu_quota, root_ + "/cpu,cpuacct/x/cpu.cfs_quota_us");
  EXPECT_EQ(joined.cpu_usage, root_ + "/cpu,cpuacct/x/cpuacct.usage");
}

TEST_F(CgroupMetricsTest, FindsAV2Group) {
  Write("/unified/svc/cpu.max", "50000 100000\n");
  Write("/unified/svc/cpu.stat", "usage_usec 0\n");
  Write("/unified/svc/memory.max", "max\n");
  const CgroupFiles f = FindCgroupFiles("0::/svc\n", root_);
  EXPECT_TRUE(f.v2);
  EXPECT_EQ(f.cpu_quota, root_ + "/unified/svc/cpu.max");
  EXPECT_EQ(f.cpu_usage, root_ + "/unified/svc/cpu.stat");
}

TEST_F(CgroupMetricsTest, ReportsTheGroupsUseAgainstItsQuotaAndLimit) {
  Write("/cpu/g/cpu.cfs_quota_us", "50000\n");  // half a core
  Write("/cpu/g/cpu.cfs_period_us", "100000\n");
  Write("/cpuacct/g/cpuacct.usage", "0\n");
  Write("/memory/g/memory.limit_in_bytes", "104857600\n");  // 100 MB
  Write("/memory/g/memory.usage_in_bytes", "26214400\n");   // 25 MB
  MetricsSampler sampler(FindCgroupFiles("3:memory:/g\n2:cpuacct:/g\n1:cpu:/g\n", root_));
  sampler.set_device_cores(4);
  const HostMetrics first = sampler.Sample();
  EXPECT_EQ(first.memory_mb, 100);
  EXPECT_NEAR(first.mem, 25, 1e-9);
  const auto start = std::chrono::steady_clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  // 0.1 s of CPU: a quarter of the half core's 0.2 s when 0.4 s passed.
  Write("/cpuacct/g/cpuacct.usage", "100000000\n");
  const HostMetrics second = sampler.Sample();
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double expected = 100 * 0.1 / wall / 0.5;
  EXPECT_NEAR(second.cpu, expected, 10) << "wall " << wall;
  EXPECT_NEAR(second.load, second.cpu / 100 * 4, 1e-9);
}

TEST_F(CgroupMetricsTest, WithoutAQuotaTheHostIsReported) {
  MetricsSampler sampler{CgroupFiles{}};
  const HostMetrics m = sampler.Sample();
  EXPECT_GT(m.memory_mb, 0);
  EXPECT_GT(m.cores, 0);
}

}  // namespace
}  // namespace mliot
