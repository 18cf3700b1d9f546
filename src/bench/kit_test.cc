// The kit: interleaving order, medians and ranges, and the peer runner's
// answers to a missing script, a hanging peer, garbage and a missing module.
#include "bench/kit.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot::bench {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(KitTest, StepsAlternateRoundByRound) {
  std::vector<std::string> order;
  int clock = 0;  // a fake clock: each step advances it by its own cost
  std::vector<Step> steps = {
      [&]() -> absl::StatusOr<nlohmann::json> {
        order.push_back("mliot");
        clock += 1;
        return nlohmann::json{{"t", clock}};
      },
      [&]() -> absl::StatusOr<nlohmann::json> {
        order.push_back("peer");
        clock += 10;
        return nlohmann::json{{"t", clock}};
      }};
  std::vector<std::vector<nlohmann::json>> reports;
  ASSERT_TRUE(RunInterleaved(3, steps, &reports).ok());
  EXPECT_THAT(order, ElementsAre("mliot", "peer", "mliot", "peer", "mliot", "peer"));
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports[0][1]["t"], 12);
  EXPECT_EQ(reports[1][2]["t"], 33);
}

TEST(KitTest, AnErrorStopsTheRun) {
  int calls = 0;
  std::vector<Step> steps = {[&]() -> absl::StatusOr<nlohmann::json> {
    if (++calls == 2) return absl::InternalError("boom");
    return nlohmann::json::object();
  }};
  std::vector<std::vector<nlohmann::json>> reports;
  EXPECT_THAT(RunInterleaved(5, steps, &reports).message(), HasSubstr("boom"));
  EXPECT_EQ(calls, 2);
}

TEST(KitTest, SummaryIsTheMedianWithItsRange) {
  std::vector<nlohmann::json> runs = {
      {{"a", {{"ms", 3.0}, {"name", "x"}}}, {"n", 5}, {"list", {1.0, 10.0}}},
      {{"a", {{"ms", 1.0}, {"name", "y"}}}, {"n", 5}, {"list", {2.0, 30.0}}},
      {{"a", {{"ms", 2.0}, {"name", "z"}}}, {"n", 5}, {"list", {3.0, 20.0}}},
  };
  const nlohmann::json s = Summarize(runs);
  EXPECT_EQ(s["a"]["ms"], 2.0);
  EXPECT_EQ(s["a"]["name"], "x");  // not a number: the first run's
  EXPECT_EQ(s["n"], 5);
  EXPECT_EQ(s["list"][1], 20.0);
  EXPECT_EQ(s["range"]["a.ms"], nlohmann::json({1.0, 3.0}));
  EXPECT_EQ(s["range"]["list[1]"], nlohmann::json({10.0, 30.0}));
  EXPECT_EQ(s["repeats"], 3);
  // Even counts: the mean of the middle two.
  const nlohmann::json even = Summarize({{{"x", 1.0}}, {{"x", 4.0}}, {{"x", 2.0}}, {{"x", 3.0}}});
  EXPECT_EQ(even["x"], 2.5);
  // One run: returned as it is.
  EXPECT_FALSE(Summarize({{{"x", 1.0}}}).contains("range"));
}

TEST(KitTest, ATrueFigureMustHoldInEveryRound) {
  const nlohmann::json s = Summarize({{{"ok", true}}, {{"ok", false}}, {{"ok", true}}});
  EXPECT_EQ(s["ok"], false);
  EXPECT_EQ(Summarize({{{"ok", true}}, {{"ok", true}}})["ok"], true);
}

TEST(KitTest, LargestAndSmallestReadTheRangeWhenThereIsOne) {
  const nlohmann::json s = Summarize({{{"in", {{"lost", 0}}}}, {{"in", {{"lost", 4}}}}, {{"in", {{"lost", 0}}}}});
  EXPECT_EQ(s["in"]["lost"], 0);  // the median hides the round that lost 4
  EXPECT_EQ(Largest(s, "in.lost"), 4.0);
  EXPECT_EQ(Smallest(s, "in.lost"), 0.0);
  const nlohmann::json one = {{"in", {{"lost", 2}}}};
  EXPECT_EQ(Largest(one, "in.lost"), 2.0);
  EXPECT_EQ(Largest(one, "in.missing"), 0.0);
}

TEST(KitTest, RunRepeatedAddsTheMachine) {
  int calls = 0;
  absl::StatusOr<nlohmann::json> r = RunRepeated(3, [&]() -> absl::StatusOr<nlohmann::json> {
    return nlohmann::json{{"x", ++calls}};
  });
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(calls, 3);
  EXPECT_EQ((*r)["x"], 2);
  EXPECT_EQ((*r)["repeats"], 3);
  EXPECT_TRUE((*r)["machine"].contains("cores"));
  absl::StatusOr<nlohmann::json> once = RunRepeated(1, [&]() -> absl::StatusOr<nlohmann::json> {
    return nlohmann::json{{"x", 7}};
  });
  ASSERT_TRUE(once.ok());
  EXPECT_EQ((*once)["x"], 7);
  EXPECT_FALSE(once->contains("range"));
  EXPECT_TRUE(once->contains("machine"));
}

class PeerRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("mliot_kit_test_" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_ / "bench" / "peers");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  PeerRun Peer(const std::string& name, const std::string& body) {
    std::ofstream(dir_ / "bench" / "peers" / name) << body;
    return PeerRun{.script = name, .timeout = std::chrono::seconds(5), .source_dir = dir_.string()};
  }
  std::filesystem::path dir_;
};

TEST_F(PeerRunnerTest, ParsesTheLastJsonLine) {
  auto r = RunPeer(Peer("ok.py", "print('warming up')\nprint('{\"x\": 2}')\n"));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ((*r)["x"], 2);
}

TEST_F(PeerRunnerTest, MissingScript) {
  auto r = RunPeer(PeerRun{.script = "nonexistent_peer.py", .source_dir = dir_.string()});
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(r.status().message(), HasSubstr("nonexistent_peer.py not found"));
}

TEST_F(PeerRunnerTest, GarbageIsAClearError) {
  auto r = RunPeer(Peer("garbage.py", "print('accuracy: high')\n"));
  EXPECT_THAT(r.status().message(), HasSubstr("printed no JSON on its last line (got 'accuracy: high')"));
}

TEST_F(PeerRunnerTest, AHangingPeerIsKilledAtItsTimeout) {
  PeerRun run = Peer("hang.py", "import time\ntime.sleep(60)\n");
  run.timeout = std::chrono::seconds(1);
  const auto start = std::chrono::steady_clock::now();
  auto r = RunPeer(run);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(PeerRunnerTest, AMissingModuleNamesTheDebianPackage) {
  auto r = RunPeer(Peer("needs.py", "raise ModuleNotFoundError(\"No module named 'sklearn'\")\n"));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("python3-sklearn"));
  auto failed = RunPeer(Peer("fails.py", "import sys\nsys.exit('bad data')\n"));
  EXPECT_THAT(failed.status().message(), HasSubstr("bad data"));
}

TEST(MachineFactsTest, HasEveryField) {
  const nlohmann::json m = MachineFacts();
  for (const char* key : {"cpu_model", "cores", "memory_gib", "kernel", "build_type", "commit"}) {
    EXPECT_TRUE(m.contains(key)) << key;
  }
  EXPECT_GE(m["cores"].get<int>(), 1);
}

}  // namespace
}  // namespace mliot::bench
