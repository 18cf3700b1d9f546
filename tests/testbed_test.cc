// The emulated testbed end to end: `mliot up --testbed FILE` with two
// devices (real node processes under cgroup limits, behind delaying
// proxies); one task placed by a locality policy, one by a latency policy;
// predictions through the proxies take the device's round-trip time longer.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "process.h"

namespace mliot::testing {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

void WriteCsv(const std::string& path, int rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> noise(0, 1);
  std::ofstream out(path);
  out << "a,b,c,d,label\n";
  for (int i = 0; i < rows; ++i) {
    const int y = i % 2;
    for (int j = 0; j < 4; ++j) out << (y == 1 ? 1.5 : -1.5) * (j < 2 ? 1 : 0) + noise(rng) << ",";
    out << (y == 1 ? "open" : "closed") << "\n";
  }
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class TestbedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("mliot-testbed-" + std::to_string(getpid()))).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    address_ = "127.0.0.1:" + std::to_string(FreePort());
    WriteCsv(dir_ + "/train.csv", 300, 1);
    WriteCsv(dir_ + "/test.csv", 100, 2);
  }
  void TearDown() override {
    up_ = Process();
    fs::remove_all(dir_);
  }

  RunResult Mliot(std::vector<std::string> args,
                  std::chrono::seconds timeout = std::chrono::seconds(120)) {
    args.insert(args.begin() + 1, {"--coordinator", address_});
    return RunMliot(args, timeout);
  }

  json Last(const RunResult& r) { return json::parse(LastLine(r.out), nullptr, false); }

  std::string dir_, address_;
  Process up_;
};

TEST_F(TestbedTest, TwoDevicesPlaceByLocalityAndByLatencyAndAddTheirRoundTripTime) {
  const std::string file = dir_ + "/two.yaml";
  std::ofstream(file) << "devices:\n"
                         "  - {name: edge, cores: 0.5, memory_mb: 1024, rtt_ms: 5, declared_cores: "
                         "4, labels: {locality: local}}\n"
                         "  - {name: cloud, cores: 0.5, memory_mb: 2048, rtt_ms: 60, "
                         "declared_cores: 8, labels: {locality: cloud}}\n";
  up_ = Process({"up", "--testbed", file, "--listen", address_, "--data-dir", dir_ + "/state"},
                dir_ + "/up.log");
  setenv("MLIOT_ADMIN_TOKEN_FILE", (dir_ + "/state/admin.token").c_str(), 1);

  // Both devices register (each benchmarks itself under its quota first).
  json nodes;
  const auto start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - start < std::chrono::seconds(120)) {
    nodes = Last(Mliot({"nodes", "--json"}, std::chrono::seconds(10)));
    int alive = 0;
    if (nodes.is_array()) {
      for (const json& n : nodes) alive += n.value("alive", false) ? 1 : 0;
    }
    if (alive == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
  ASSERT_TRUE(nodes.is_array() && nodes.size() == 2) << up_.Log();
  for (const json& n : nodes) {
    const std::string name = n.value("name", "");
    EXPECT_EQ(n.value("cores", 0), name == "edge" ? 4 : 8) << n.dump();
    EXPECT_EQ(n["labels"].value("locality", ""), name == "edge" ? "local" : "cloud") << n.dump();
  }
  // Each node process sits in its own control group with the file's quota.
  const std::string group = "mliot-testbed-" + std::to_string(up_.pid());
  const std::string cpu_root = fs::exists("/sys/fs/cgroup/cpu,cpuacct")
                                   ? "/sys/fs/cgroup/cpu,cpuacct"
                                   : "/sys/fs/cgroup/cpu";
  std::printf("isolation: %s\n", nodes[0].value("isolation", "").c_str());
  if (nodes[0].value("isolation", "") == "cgroup-v1") {
    for (const char* device : {"edge", "cloud"}) {
      const std::string g = cpu_root + "/" + group + "/" + device;
      EXPECT_EQ(std::stol(ReadAll(g + "/cpu.cfs_quota_us")),
                std::stol(ReadAll(g + "/cpu.cfs_period_us")) / 2)
          << g;
      EXPECT_FALSE(ReadAll(g + "/cgroup.procs").empty()) << g;
    }
  }

  // The placement model counts a device's recent CPU (an EWMA over
  // heartbeats), which its benchmark at start leaves high for a while: start
  // from idle devices, as `mliot bench paper` does (one run placed nothing
  // under "latency_ms <= 30" when submitting right after both were alive).
  const auto idle_start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - idle_start < std::chrono::seconds(60)) {
    const json now = Last(Mliot({"nodes", "--json"}, std::chrono::seconds(10)));
    bool idle = now.is_array() && now.size() == 2;
    for (const json& n : now.is_array() ? now : json::array()) idle = idle && n.value("cpu", 100.0) < 25;
    if (idle) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }

  // One task by locality, one by latency.
  auto submit = [&](const std::string& task, const std::string& device) {
    const std::string spec = dir_ + "/" + task + ".yaml";
    std::ofstream(spec)
        << "name: " << task << "\ndata: csv:" << dir_ << "/train.csv\nlabel: label\n"
        << "model:\n  budget_s: 2\n  models: [logreg, knn]\n  hpo: random\ndevice:\n"
        << device;
    return Last(Mliot({"submit", spec, "--json"}));
  };
  const json far = submit("in-the-cloud", "  require: locality == 'cloud'\n");
  EXPECT_EQ(far.value("node", ""), "cloud") << far.dump();
  const json near = submit("fast", "  require: latency_ms <= 30\n");
  EXPECT_EQ(near.value("node", ""), "edge") << near.dump();
  ASSERT_TRUE(near.contains("ranking")) << near.dump();

  // Served where placed, through each device's delay.
  for (const auto& [task, rtt] :
       std::vector<std::pair<std::string, double>>{{"in-the-cloud", 60}, {"fast", 5}}) {
    const RunResult w = Mliot({"wait", "--task", task, "--state", "serving", "--timeout-s", "180"},
                              std::chrono::seconds(200));
    ASSERT_EQ(w.exit_code, 0) << task << "\n" << w.err << "\n" << up_.Log();
    const RunResult p =
        Mliot({"predict", "--task", task, "--data", "csv:" + dir_ + "/test.csv", "--json"});
    ASSERT_EQ(p.exit_code, 0) << p.err;
    const json j = Last(p);
    EXPECT_GT(j.value("accuracy", 0.0), 0.8) << j.dump();
    const double p50 = j["latency_ms"].value("p50", 0.0);
    std::printf("%s on %s (rtt %g ms): predict p50 %.1f ms, p99 %.1f ms, accuracy %.3f\n",
                task.c_str(), j.value("node", "").c_str(), rtt, p50,
                j["latency_ms"].value("p99", 0.0), j.value("accuracy", 0.0));
    EXPECT_GE(p50, rtt) << task << ": " << j.dump();
    EXPECT_LT(p50, rtt + 50) << task << ": " << j.dump();
  }

  // Ctrl-C stops everything: the node processes and their groups go away.
  EXPECT_EQ(up_.Stop(SIGINT), 0);
  EXPECT_FALSE(fs::exists(cpu_root + "/" + group + "/edge"));
}

TEST_F(TestbedTest, ABadFileIsOneLineNamingTheKeyAndStartsNothing) {
  const std::string file = dir_ + "/bad.yaml";
  std::ofstream(file) << "devices:\n  - {name: M1, cores: 0, memory_mb: 512}\n";
  const RunResult r =
      RunMliot({"up", "--testbed", file, "--listen", address_, "--data-dir", dir_ + "/state"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("devices[0].cores: must be > 0"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/state/coordinator"));
}

}  // namespace
}  // namespace mliot::testing
