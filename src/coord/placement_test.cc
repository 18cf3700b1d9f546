#include "coord/placement.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

RequireExpr Require(const std::string& text) {
  absl::StatusOr<RequireExpr> expr = RequireExpr::Parse(text);
  EXPECT_TRUE(expr.ok()) << expr.status();
  return expr.ok() ? *expr : *RequireExpr::Parse("");
}

PreferRule Prefer(const std::string& text) {
  absl::StatusOr<PreferRule> rule = PreferRule::Parse(text);
  EXPECT_TRUE(rule.ok()) << rule.status();
  return rule.ok() ? *rule : *PreferRule::Parse("");
}

PlacementCandidate Emulated(const std::string& name, const std::string& locality, int cores,
                            double memory_mb, double rtt_ms) {
  PlacementCandidate c;
  c.node.name = name;
  c.node.labels = std::make_shared<const NodeLabels>(NodeLabels{{"locality", locality}});
  c.node.cores = cores;
  c.node.memory_mb = memory_mb;
  c.node.rtt_ms = rtt_ms;
  c.node.free_cpu = cores;
  c.bench.image_predict_ms = 0.3;
  return c;
}

TaskProfile ImageTask() {
  TaskProfile task;
  task.image = true;
  return task;
}

TEST(PredictTest, LatencyGrowsOnceCoresAreOversubscribed) {
  NodeView node;
  node.cores = 4;
  node.rtt_ms = 3;
  const NodeBenchmark bench;  // image 0.3 ms, sensor 0.05 ms
  TaskProfile sensor;
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 1), 3.3);
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 4), 3.3);
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 8), 3 + 0.3 * 2);
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, sensor, 1), 3.05);
  NodeBenchmark with_request = bench;
  with_request.request_ms = 0.1;  // a measured loopback call adds to every request
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, with_request, sensor, 1), 3.15);
  node.load = 2;  // (6 tasks + load 2) / 4 cores
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 6), 3 + 0.3 * 2);
  node.load = 0;
  node.cores = 0;  // not reported: counted as one core
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 2), 3 + 0.3 * 2);
}

TEST(PredictTest, UnderACpuQuotaTheQuotaIsTheCapacity) {
  // A device declaring 4 cores but limited to an eighth of one (a testbed
  // M1): one served task already oversubscribes it eightfold.
  NodeView node;
  node.cores = 4;
  node.cpu_quota = 0.125;
  node.rtt_ms = 3;
  const NodeBenchmark bench;  // image 0.3 ms
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 1), 3 + 0.3 * 8);
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 2), 3 + 0.3 * 16);
  // Busy at half its quota (cpu is a percent of the quota): 1 task + 0.0625 cores.
  node.cpu = 50;
  node.load = 2;  // the share times the declared cores: not used under a quota
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 1), 3 + 0.3 * 8.5);
  EXPECT_DOUBLE_EQ(PredictTrainS(node, bench, TaskProfile{.image = false, .budget_s = 10}),
                   10 * 8.5);
  // Saturated (a training uses the whole quota): a request waits out the
  // throttled 87.5 ms of a CFS period.
  node.cpu = 100;
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 1), 3 + 0.3 * 9 + 87.5);
  // A quota of a core or more is not throttled that way.
  node.cpu_quota = 2;
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 1), 3 + 0.3 * 1.5);
}

TEST(PredictTest, ALearnedServingCostReplacesTheBenchmarkGuess) {
  // fig13's M4: half a core. Its serving workers measured 0.1 ms of CPU a
  // sensor request; the rest of a round trip (client, transport) is 0.05 ms.
  NodeView node;
  node.cores = 8;
  node.cpu_quota = 0.5;
  NodeBenchmark bench;  // sensor guess 0.05 ms
  bench.request_ms = 0.05;
  const TaskProfile sensor;
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, sensor, 1), 0.1);  // max(0.05 + 0.05, 0.05 * 2)
  bench.sensor_serve_ms = 0.1;
  // One task: the CPU is not the bottleneck yet, a request costs its own time...
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, sensor, 1), 0.2);  // max(0.15, 0.1 * 2)
  // ...then each task adds its share of the quota: 0.1 ms * n / 0.5.
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, sensor, 4), 0.8);
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, sensor, 6), 1.2);
  // Image tasks keep their own figure.
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, ImageTask(), 1), 0.3 * 2);
  // The node's CPU is busy with its serving workers (0.4 of its 0.5
  // cores): they are among the 4 tasks already, not counted twice.
  node.cpu = 80;
  node.serving_cpu = 0.4;
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, sensor, 4), 0.8);
  node.serving_cpu = 0.1;  // the rest is other work: 0.3 cores more demand
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, sensor, 4), 0.1 * 4.3 / 0.5);
  node.cpu = 0;
  node.serving_cpu = 0;
  // On a node with the cores to spare, the request's own time.
  node.cpu_quota = 0;
  EXPECT_DOUBLE_EQ(PredictLatencyMs(node, bench, sensor, 4), 0.15);
}

TEST(PredictTest, TrainingTimeScalesWithSpeedAndLoad) {
  NodeView node;
  node.cores = 4;
  NodeBenchmark bench;
  bench.train_speed = 2;
  TaskProfile task;
  task.budget_s = 60;
  EXPECT_DOUBLE_EQ(PredictTrainS(node, bench, task), 30);
  node.load = 7;  // (7 + 1) / 4 = 2
  EXPECT_DOUBLE_EQ(PredictTrainS(node, bench, task), 60);
  bench.train_speed = 0;  // not measured: the reference speed
  node.load = 0;
  EXPECT_DOUBLE_EQ(PredictTrainS(node, bench, task), 60);
}

// The three emulated nodes (paper Table 3: M1, M2, M5), idle.
std::vector<PlacementCandidate> ThreeNodes() {
  return {Emulated("A", "local", 4, 4096, 3), Emulated("B", "local", 4, 8192, 14),
          Emulated("C", "cloud", 16, 32768, 84)};
}

TEST(PlaceTest, LocalityWithMaxMemoryPicksTheBiggerLocalNode) {
  const Placement p =
      Place(ThreeNodes(), Require("locality == 'local'"), Prefer("max(memory_mb)"), ImageTask());
  EXPECT_TRUE(p.accepted);
  EXPECT_EQ(p.node, "B");
  EXPECT_THAT(p.ranking, ElementsAre("B", "A"));
  EXPECT_THAT(p.reasons, ElementsAre(Pair("C", "locality 'cloud' != 'local'")));
  // The prediction on the chosen node comes with the answer: B's rtt 14 ms
  // plus its single-row image latency.
  EXPECT_DOUBLE_EQ(p.latency_ms, 14 + NodeBenchmark{}.image_predict_ms);
}

TEST(PlaceTest, LatencyThresholdPicksTheNearNode) {
  const Placement p =
      Place(ThreeNodes(), Require("latency_ms <= 10"), Prefer("best_effort"), ImageTask());
  EXPECT_TRUE(p.accepted);
  EXPECT_EQ(p.node, "A");
  EXPECT_THAT(p.ranking, ElementsAre("A"));
  EXPECT_THAT(p.reasons, UnorderedElementsAre(Pair("B", "latency_ms 14.3 > 10"),
                                              Pair("C", "latency_ms 84.3 > 10")));
}

TEST(PlaceTest, MaxMemoryAlonePicksTheCloudNode) {
  const Placement p = Place(ThreeNodes(), Require(""), Prefer("max(memory_mb)"), ImageTask());
  EXPECT_TRUE(p.accepted);
  EXPECT_EQ(p.node, "C");
  EXPECT_THAT(p.ranking, ElementsAre("C", "B", "A"));
  EXPECT_THAT(p.reasons, IsEmpty());
}

TEST(PlaceTest, NoGpuAnywhereIsRefusedWithAReasonPerNode) {
  const Placement p = Place(ThreeNodes(), Require("gpu == true"), Prefer(""), ImageTask());
  EXPECT_FALSE(p.accepted);
  EXPECT_EQ(p.node, "");
  EXPECT_THAT(p.ranking, IsEmpty());
  EXPECT_THAT(p.reasons,
              UnorderedElementsAre(Pair("A", "gpu false != true"), Pair("B", "gpu false != true"),
                                   Pair("C", "gpu false != true")));
}

TEST(PlaceTest, DeadNodesNeverQualify) {
  std::vector<PlacementCandidate> nodes = ThreeNodes();
  nodes[2].node.alive = false;
  const Placement p = Place(nodes, Require(""), Prefer("max(memory_mb)"), ImageTask());
  EXPECT_EQ(p.node, "B");
  EXPECT_THAT(p.ranking, ElementsAre("B", "A"));
  EXPECT_THAT(p.reasons, ElementsAre(Pair("C", "dead (no heartbeat)")));

  // Even when the policy asks about liveness the other way round.
  const Placement q = Place(nodes, Require("not alive"), Prefer(""), ImageTask());
  EXPECT_FALSE(q.accepted);
  EXPECT_EQ(q.reasons.at("C"), "dead (no heartbeat)");
  EXPECT_EQ(q.reasons.at("A"), "not (alive is true)");
}

TEST(PlaceTest, TrainingTimePredictionUsesTheNodesSpeed) {
  std::vector<PlacementCandidate> nodes = ThreeNodes();
  nodes[1].bench.train_speed = 2;  // B trains twice as fast as the reference
  TaskProfile task = ImageTask();
  task.budget_s = 60;
  const Placement p = Place(nodes, Require("train_s <= 30"), Prefer(""), task);
  EXPECT_EQ(p.node, "B");
  EXPECT_EQ(p.reasons.at("A"), "train_s 60 > 30");
}

TEST(PlaceTest, BestEffortPicksTheLeastLoadedNode) {
  std::vector<PlacementCandidate> nodes = ThreeNodes();
  // Load scores across the three (see LoadScoresTest): A 1.0, B 0, C 0.25.
  auto set = [](PlacementCandidate& c, double cpu, double mem, double load) {
    c.node.cpu = cpu;
    c.node.mem = mem;
    c.node.load = load;
  };
  nodes[0].node.cores = 2;
  set(nodes[0], 50, 60, 4);  // load/core 2
  set(nodes[1], 10, 20, 1);  // load/core 0.25
  set(nodes[2], 30, 20, 4);  // load/core 0.25 on 16 cores
  std::vector<NodeView> views;
  for (const PlacementCandidate& c : nodes) views.push_back(c.node);
  const std::vector<double> scores = LoadScores(views);
  ASSERT_EQ(scores.size(), 3u);
  EXPECT_DOUBLE_EQ(scores[0], 1.0);
  EXPECT_DOUBLE_EQ(scores[1], 0);
  EXPECT_DOUBLE_EQ(scores[2], 0.25);

  const Placement p = Place(nodes, Require(""), Prefer("best_effort"), ImageTask());
  EXPECT_EQ(p.node, "B");
  EXPECT_THAT(p.ranking, ElementsAre("B", "C", "A"));
}

TEST(PlaceTest, TiesBreakByLoadThenName) {
  PlacementCandidate y = Emulated("y", "local", 4, 4096, 3);
  PlacementCandidate z = Emulated("z", "local", 4, 4096, 3);
  PlacementCandidate x = Emulated("x", "local", 4, 4096, 3);
  // Same memory: the less loaded first, then by name whatever the input order.
  x.node.cpu = 80;
  const Placement p = Place({z, x, y}, Require(""), Prefer("max(memory_mb)"), ImageTask());
  EXPECT_THAT(p.ranking, ElementsAre("y", "z", "x"));
  const Placement q = Place({z, y}, Require(""), Prefer("best_effort"), ImageTask());
  EXPECT_THAT(q.ranking, ElementsAre("y", "z"));
}

TEST(PlaceTest, RankingKeepsTheBestNodesInTheFullOrder) {
  // 40 nodes, memory in a scrambled order, some ties (broken by load, then
  // name): the kept ranking is the start of the full one.
  std::vector<PlacementCandidate> nodes;
  for (int i = 0; i < 40; ++i) {
    PlacementCandidate c = Emulated("n" + std::to_string(i), "local", 4, 1024.0 * ((i * 7) % 13), 3);
    c.node.cpu = (i * 11) % 5 * 10;
    nodes.push_back(c);
  }
  const Placement all = Place(nodes, Require(""), Prefer("max(memory_mb)"), ImageTask(), nodes.size());
  ASSERT_EQ(all.ranking.size(), 40u);
  const Placement kept = Place(nodes, Require(""), Prefer("max(memory_mb)"), ImageTask());
  ASSERT_EQ(kept.ranking.size(), kRankingKept);
  EXPECT_TRUE(std::equal(kept.ranking.begin(), kept.ranking.end(), all.ranking.begin()));
  EXPECT_EQ(kept.node, all.node);
  const Placement one = Place(nodes, Require(""), Prefer("best_effort"), ImageTask(), 1);
  const Placement every = Place(nodes, Require(""), Prefer("best_effort"), ImageTask(), 1000);
  EXPECT_THAT(one.ranking, ElementsAre(every.ranking.front()));
}

// Places `count` identical tasks one after another, adding each to its node.
std::vector<std::string> PlaceOneByOne(std::vector<PlacementCandidate> nodes,
                                       const RequireExpr& require, const PreferRule& prefer,
                                       int count, Placement* last) {
  std::vector<std::string> chosen;
  for (int i = 0; i < count; ++i) {
    *last = Place(nodes, require, prefer, ImageTask());
    if (!last->accepted) break;
    chosen.push_back(last->node);
    for (PlacementCandidate& c : nodes) {
      if (c.node.name == last->node) ++c.node.tasks;
    }
  }
  return chosen;
}

// Paper Fig. 13 (bottom): with a latency threshold, a node takes tasks until
// one more would push its predicted latency past the threshold.
TEST(PlaceTest, CoLocationStopsWhenOneMoreTaskBreaksTheThreshold) {
  PlacementCandidate m1 = Emulated("M1", "local", 2, 4096, 1);
  PlacementCandidate m2 = Emulated("M2", "local", 2, 4096, 1);
  m1.bench.image_predict_ms = m2.bench.image_predict_ms = 10;
  // latency with k tasks = 1 + 10 * max(1, k / 2): 11, 11, 16, 21, 26, ...
  Placement last;
  const std::vector<std::string> chosen =
      PlaceOneByOne({m1, m2}, Require("latency_ms <= 21"), Prefer("best_effort"), 10, &last);
  EXPECT_THAT(chosen, ElementsAre("M1", "M1", "M1", "M1", "M2", "M2", "M2", "M2"));
  EXPECT_FALSE(last.accepted);
  EXPECT_THAT(last.reasons, UnorderedElementsAre(Pair("M1", "latency_ms 26 > 21"),
                                                 Pair("M2", "latency_ms 26 > 21")));
}

TEST(PlaceTest, CoLocationCountFollowsTheThreshold) {
  PlacementCandidate node = Emulated("M1", "local", 4, 4096, 3);
  node.bench.image_predict_ms = 60;
  for (int k = 4; k <= 9; ++k) {
    // Half-way between the predicted latency with k and with k + 1 tasks.
    const double at_k = PredictLatencyMs(node.node, node.bench, ImageTask(), k);
    const double at_next = PredictLatencyMs(node.node, node.bench, ImageTask(), k + 1);
    ASSERT_LT(at_k, at_next);
    const RequireExpr require = Require("latency_ms < " + std::to_string((at_k + at_next) / 2));
    Placement last;
    const std::vector<std::string> chosen = PlaceOneByOne({node}, require, Prefer(""), 20, &last);
    EXPECT_EQ(chosen.size(), static_cast<size_t>(k)) << require.text();
    EXPECT_FALSE(last.accepted);
    EXPECT_EQ(last.reasons.count("M1"), 1u);
  }
}

}  // namespace
}  // namespace mliot
