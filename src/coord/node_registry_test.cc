#include "coord/node_registry.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

v1::NodeInfo Info(const std::string& name) {
  v1::NodeInfo info;
  info.set_name(name);
  info.set_cores(4);
  (*info.mutable_labels())["locality"] = "local";
  return info;
}

v1::HeartbeatRequest Beat(const std::string& node, double cpu = 0) {
  v1::HeartbeatRequest request;
  request.set_node(node);
  request.mutable_metrics()->set_cpu(cpu);
  return request;
}

class NodeRegistryTest : public ::testing::Test {
 protected:
  FakeClock clock_;
  NodeRegistry registry_{&clock_, /*heartbeat_timeout_s=*/5};
};

TEST_F(NodeRegistryTest, UnknownNodeMustRegisterFirst) {
  EXPECT_FALSE(registry_.Heartbeat(Beat("a")));
  EXPECT_FALSE(registry_.IsAlive("a"));
  EXPECT_EQ(registry_.Get("a"), std::nullopt);
}

TEST_F(NodeRegistryTest, MetricsAreAnEwmaOverTenSamples) {
  registry_.Register(Info("a"));
  ASSERT_TRUE(registry_.Heartbeat(Beat("a", 100)));
  EXPECT_DOUBLE_EQ(registry_.Get("a")->metrics.cpu(), 100);  // the first sample is taken as is
  ASSERT_TRUE(registry_.Heartbeat(Beat("a", 0)));
  EXPECT_DOUBLE_EQ(registry_.Get("a")->metrics.cpu(), 100 * (1 - 2.0 / 11));
}

TEST_F(NodeRegistryTest, ServingCpuAndLearnedCostsReachTheCandidates) {
  registry_.Register(Info("a"));
  v1::HeartbeatRequest beat = Beat("a", 100);
  v1::WorkerMetrics* serve = beat.mutable_metrics()->add_workers();
  serve->set_role("serve");
  serve->set_cpu_percent(50);
  v1::WorkerMetrics* train = beat.mutable_metrics()->add_workers();
  train->set_role("train");
  train->set_cpu_percent(100);
  beat.mutable_metrics()->set_sensor_serve_ms(0.15);
  ASSERT_TRUE(registry_.Heartbeat(beat));
  std::vector<PlacementCandidate> c = registry_.Candidates({});
  ASSERT_EQ(c.size(), 1u);
  EXPECT_DOUBLE_EQ(c[0].node.serving_cpu, 0.5);  // the serving worker's, not the training's
  EXPECT_DOUBLE_EQ(c[0].bench.sensor_serve_ms, 0.15);
  // The clients stop: serving CPU fades as the node's CPU does, and the
  // learned cost stays when a heartbeat does not report one.
  ASSERT_TRUE(registry_.Heartbeat(Beat("a", 0)));
  c = registry_.Candidates({});
  EXPECT_DOUBLE_EQ(c[0].node.serving_cpu, 0.5 * (1 - 2.0 / 11));
  EXPECT_DOUBLE_EQ(c[0].node.cpu, 100 * (1 - 2.0 / 11));
  EXPECT_DOUBLE_EQ(c[0].bench.sensor_serve_ms, 0.15);
}

TEST_F(NodeRegistryTest, SilentNodeDiesOnceAndComesBackWithAHeartbeat) {
  registry_.Register(Info("a"));
  clock_.Advance(5);
  EXPECT_THAT(registry_.Sweep(), IsEmpty());  // silent for exactly the timeout: still alive
  clock_.Advance(0.5);
  EXPECT_THAT(registry_.Sweep(), ElementsAre("a"));
  EXPECT_FALSE(registry_.IsAlive("a"));
  EXPECT_FALSE(registry_.Get("a")->alive);
  clock_.Advance(10);
  EXPECT_THAT(registry_.Sweep(), IsEmpty());  // reported dead once
  ASSERT_TRUE(registry_.Heartbeat(Beat("a")));
  EXPECT_TRUE(registry_.IsAlive("a"));
  clock_.Advance(5.5);
  EXPECT_THAT(registry_.Sweep(), ElementsAre("a"));  // and can die again
}

TEST_F(NodeRegistryTest, SweepFindsExactlyTheSilentNodesAmongMany) {
  // 1,000 nodes heard from at different times, some again later: the ones
  // silent for longer than the timeout die, whatever the order they
  // registered or heart-beat in.
  for (int i = 0; i < 1000; ++i) {
    registry_.Register(Info(absl::StrCat("n", i)));
    if (i % 100 == 99) clock_.Advance(1);  // n0-n99 at t=0, n100-n199 at t=1, ...
  }
  // t = 10: n0-n99 heard from again now; n100-n499, last heard from at
  // t = 1..4, are silent for longer than 5 s; n500-n999 (t = 5..9) are not.
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(registry_.Heartbeat(Beat(absl::StrCat("n", i))));
  std::vector<std::string> died = registry_.Sweep();
  std::vector<std::string> expected;
  for (int i = 100; i < 500; ++i) expected.push_back(absl::StrCat("n", i));
  EXPECT_EQ(died, expected) << "t=" << clock_.NowSeconds();
  for (int i = 0; i < 1000; ++i) {
    EXPECT_EQ(registry_.IsAlive(absl::StrCat("n", i)), i < 100 || i >= 500) << "n" << i;
  }
  EXPECT_EQ(registry_.All().size(), 1000u);
}

TEST_F(NodeRegistryTest, RegisteringAgainRefreshesTheNodeAndKeepsItsMetrics) {
  registry_.Register(Info("a"));
  ASSERT_TRUE(registry_.Heartbeat(Beat("a", 40)));
  clock_.Advance(6);
  ASSERT_THAT(registry_.Sweep(), ElementsAre("a"));
  v1::NodeInfo bigger = Info("a");
  bigger.set_cores(8);
  registry_.Register(bigger);  // a restarted node keeps its name
  EXPECT_TRUE(registry_.IsAlive("a"));
  EXPECT_EQ(registry_.Get("a")->info.cores(), 8);
  EXPECT_DOUBLE_EQ(registry_.Get("a")->metrics.cpu(), 40);
  registry_.Register(bigger);  // registering a live node again moves it, does not duplicate it
  EXPECT_EQ(registry_.All().size(), 1u);
  clock_.Advance(6);
  EXPECT_THAT(registry_.Sweep(), ElementsAre("a"));
}

TEST_F(NodeRegistryTest, CandidatesAreSortedByNameWithTaskCountsAndLiveness) {
  registry_.Register(Info("b"));
  clock_.Advance(6);
  registry_.Register(Info("a"));
  registry_.Register(Info("c"));
  ASSERT_THAT(registry_.Sweep(), ElementsAre("b"));
  std::vector<PlacementCandidate> c = registry_.Candidates({{"a", 2}, {"c", 1}});
  ASSERT_EQ(c.size(), 3u);
  EXPECT_EQ(c[0].node.name, "a");
  EXPECT_EQ(c[0].node.tasks, 2);
  EXPECT_TRUE(c[0].node.alive);
  EXPECT_EQ(c[1].node.name, "b");
  EXPECT_EQ(c[1].node.tasks, 0);
  EXPECT_FALSE(c[1].node.alive);
  EXPECT_EQ(c[2].node.tasks, 1);
  EXPECT_EQ(c[2].node.labels->at("locality"), "local");
}

}  // namespace
}  // namespace mliot
