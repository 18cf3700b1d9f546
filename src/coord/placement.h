// Placement: choose a node for a task, or say no with a reason per node
// (paper §4.1.3, Fig. 10-13).
//
//   1. predict, for every live node, the task's serving latency and training
//      time on that node *with this task added* (LatencyModel below);
//   2. filter by the `require` expression (dead nodes never qualify);
//   3. rank by `prefer` (max/min of an attribute, or best effort = lowest
//      load score); ties are broken by load score, then by name.
//
// Co-location (Fig. 13): because the prediction counts the tasks already on
// a node plus this one, a node stops qualifying for `latency_ms <= X` once
// one more task would push its predicted latency past X.
//
// Pure functions over values: no clock, no I/O; thread-safe.
#ifndef MLIOT_COORD_PLACEMENT_H_
#define MLIOT_COORD_PLACEMENT_H_

#include <map>
#include <string>
#include <vector>

#include "coord/policy.h"

namespace mliot {

// What a node measured about itself when it joined (paper §4.1.1), and what
// it learned since from serving.
struct NodeBenchmark {
  // Single-row latency of a representative ensemble, ms, on an idle node:
  // one figure for image tasks and one for sensor (tabular) tasks.
  double image_predict_ms = 0.3;
  double sensor_predict_ms = 0.05;
  // One loopback gRPC call on the node (both ends): a request's cost beyond
  // the model. 0 when the node did not measure it.
  double request_ms = 0;
  // Training speed relative to the reference machine (the 2-core dev box):
  // 2.0 means twice as fast.
  double train_speed = 1.0;
  // CPU ms a request cost the node's serving workers, per data type, learned
  // from the tasks it served (node/serve_cost.h); 0 until it has served one.
  // Replaces the *_predict_ms guess once known.
  double image_serve_ms = 0;
  double sensor_serve_ms = 0;
};

struct TaskProfile {
  bool image = false;    // the task's rows have a 2-D shape
  double budget_s = 60;  // the training budget the spec asks for
};

// latency_ms = rtt_ms + max(serve_ms + request_ms, serve_ms * demand / capacity)
// (+ throttled, below), where serve_ms is the CPU a request costs the node
// (learned from its serving workers, else the benchmark's model time) and
// request_ms the rest of a round trip (client, transport; the benchmark's
// loopback call). Idle, a request costs its own time; once the node's CPU is
// the bottleneck, each served task counts as a client keeping one request in
// flight, so with `tasks_after` of them (including this one) beside `other`
// cores of other work, each gets capacity / demand of the CPU: demand =
// tasks_after + other. Capacity is the node's CPU quota when it runs under
// one (a container, a testbed device), else its cores; busy is the CPU in
// use, in those cores (under a quota cpu% of it, else the load average), and
// other = busy less what its serving workers use (they are counted as
// tasks). train_s = budget_s / train_speed * max(1, (busy + 1) / capacity).
// A node under a quota below one core that other work already saturates
// (other >= 90 % of the quota) adds the throttled part of a CFS period,
// 100 ms x (1 - quota): on the testbed's M1 a request beside a training
// waited that long.
inline constexpr double kCfsPeriodMs = 100;
inline constexpr double kSaturated = 0.9;
double PredictLatencyMs(const NodeView& node, const NodeBenchmark& bench, const TaskProfile& task,
                        int tasks_after);
double PredictTrainS(const NodeView& node, const NodeBenchmark& bench, const TaskProfile& task);

struct PlacementCandidate {
  NodeView node;  // latency_ms / train_s are filled in by Place()
  NodeBenchmark bench;
};

struct Placement {
  bool accepted = false;
  std::string node;                    // when accepted
  double latency_ms = 0;               // predicted on `node`, when accepted
  std::vector<std::string> ranking;    // the best eligible nodes, best first
  std::map<std::string, std::string> reasons;  // node -> why it was not eligible
};

// How many ranked nodes the coordinator keeps (answers, stores, logs).
inline constexpr size_t kRankingKept = 10;

// Filters `candidates` by `require` (a reason for each node left out) and
// ranks the rest by `prefer`, ties by load, then name; `ranking` holds the
// best `keep` of them (only those are sorted).
Placement Place(std::vector<PlacementCandidate> candidates, const RequireExpr& require,
                const PreferRule& prefer, const TaskProfile& task, size_t keep = kRankingKept);

}  // namespace mliot

#endif  // MLIOT_COORD_PLACEMENT_H_
