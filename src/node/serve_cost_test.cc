#include "node/serve_cost.h"

#include "gtest/gtest.h"

namespace mliot {
namespace {

TEST(ServeStatsTest, ParsesTheWorkersLineAndNamesABadOne) {
  absl::StatusOr<ServeStats> s = ParseServeStats("1200 3.25\n");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->requests, 1200);
  EXPECT_DOUBLE_EQ(s->cpu_s, 3.25);
  for (const char* bad : {"", "12", "12 x", "-1 2", "1 2 3"}) {
    absl::StatusOr<ServeStats> b = ParseServeStats(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_NE(b.status().message().find("REQUESTS CPU_S"), std::string::npos);
  }
}

TEST(ServeCostTest, LearnsCpuPerRequestPerDataType) {
  ServeCost cost;
  EXPECT_EQ(cost.SensorMs(), 0);
  cost.Observe("a", false, {0, 1.0});       // start: startup CPU is not a request's
  cost.Observe("a", false, {1000, 1.1});    // 100 ms over 1,000 requests
  EXPECT_NEAR(cost.TaskMs("a"), 0.1, 1e-9);
  EXPECT_NEAR(cost.SensorMs(), 0.1, 1e-9);
  EXPECT_EQ(cost.ImageMs(), 0);
  cost.Observe("a", false, {2000, 1.3});    // 0.2 ms: EWMA
  EXPECT_NEAR(cost.TaskMs("a"), 0.3 * 0.2 + 0.7 * 0.1, 1e-9);

  cost.Observe("img", true, {0, 0});
  cost.Observe("img", true, {500, 0.5});
  EXPECT_NEAR(cost.ImageMs(), 1.0, 1e-9);
}

TEST(ServeCostTest, IdleIntervalsTeachNothingAndShortOnesWeighLess) {
  ServeCost cost;
  cost.Observe("a", false, {0, 0});
  cost.Observe("a", false, {1000, 0.1});    // 0.1 ms
  // Idle for a minute: the worker's own upkeep, 20 requests. Skipped, and
  // the next interval starts after it rather than carrying its CPU along.
  cost.Observe("a", false, {1020, 0.4});
  EXPECT_NEAR(cost.TaskMs("a"), 0.1, 1e-9);
  cost.Observe("a", false, {2020, 0.5});    // 0.1 ms again
  EXPECT_NEAR(cost.TaskMs("a"), 0.1, 1e-9);
  // 100 requests at 0.6 ms (the tail of a burst): a fifth of the weight.
  cost.Observe("a", false, {2120, 0.56});
  EXPECT_NEAR(cost.TaskMs("a"), 0.06 * 0.6 + 0.94 * 0.1, 1e-9);
}

TEST(ServeCostTest, ARestartedWorkerStartsOverAndTheNodeKeepsWhatItLearned) {
  ServeCost cost;
  cost.Observe("a", false, {0, 0});
  cost.Observe("a", false, {1000, 0.1});
  cost.Observe("a", false, {10, 0.5});     // restarted: counters went back
  EXPECT_NEAR(cost.TaskMs("a"), 0.1, 1e-9);
  cost.Observe("a", false, {1010, 0.55});  // 0.05 s / 1,000 from the new base
  EXPECT_NEAR(cost.TaskMs("a"), 0.3 * 0.05 + 0.7 * 0.1, 1e-9);
  cost.Forget("a");
  EXPECT_EQ(cost.TaskMs("a"), 0);
  EXPECT_GT(cost.SensorMs(), 0);  // the next sensor task starts from it
}

}  // namespace
}  // namespace mliot
