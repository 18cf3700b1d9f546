#include "coord/placement.h"

#include <algorithm>
#include <cstddef>
#include <utility>

namespace mliot {
namespace {

// What the node's CPU can give, in cores: its quota, else its core count.
double Capacity(const NodeView& node) {
  return node.cpu_quota > 0 ? node.cpu_quota : std::max(1, node.cores);
}

// The CPU in use, in the same cores.
double Busy(const NodeView& node) {
  return node.cpu_quota > 0 ? node.cpu / 100.0 * node.cpu_quota : node.load;
}

// The CPU in use by other work than serving (trainings, other processes):
// served tasks are counted by number instead.
double OtherBusy(const NodeView& node) { return std::max(0.0, Busy(node) - node.serving_cpu); }

}  // namespace

double PredictLatencyMs(const NodeView& node, const NodeBenchmark& bench, const TaskProfile& task,
                        int tasks_after) {
  const double learned = task.image ? bench.image_serve_ms : bench.sensor_serve_ms;
  const double serve_ms =
      learned > 0 ? learned : (task.image ? bench.image_predict_ms : bench.sensor_predict_ms);
  const double demand = tasks_after + OtherBusy(node);
  const double own_ms = std::max(serve_ms + bench.request_ms, serve_ms * demand / Capacity(node));
  // A quota below one core that the node already uses up (a training, say)
  // is throttled for the rest of each CFS period: a request waits for the
  // next one.
  const double throttled =
      node.cpu_quota > 0 && node.cpu_quota < 1 && OtherBusy(node) >= kSaturated * node.cpu_quota
          ? kCfsPeriodMs * (1 - node.cpu_quota)
          : 0;
  return node.rtt_ms + own_ms + throttled;
}

double PredictTrainS(const NodeView& node, const NodeBenchmark& bench, const TaskProfile& task) {
  // A node that did not report a speed is taken to be as fast as the reference.
  const double speed = bench.train_speed > 0 ? bench.train_speed : 1.0;
  return task.budget_s / speed * std::max(1.0, (Busy(node) + 1) / Capacity(node));
}

Placement Place(std::vector<PlacementCandidate> candidates, const RequireExpr& require,
                const PreferRule& prefer, const TaskProfile& task, size_t keep) {
  Placement placement;
  std::vector<NodeView> eligible;
  eligible.reserve(candidates.size());
  for (PlacementCandidate& c : candidates) {
    NodeView& node = c.node;
    if (!node.alive) {
      placement.reasons[node.name] = "dead (no heartbeat)";
      continue;
    }
    node.latency_ms = PredictLatencyMs(node, c.bench, task, node.tasks + 1);
    node.train_s = PredictTrainS(node, c.bench, task);
    if (!require.Matches(node)) {
      // Explaining costs string work; only rejected nodes need it.
      std::string why;
      require.Matches(node, &why);
      // Candidates usually arrive sorted by name: the hint makes this O(1).
      placement.reasons.emplace_hint(placement.reasons.end(), node.name, std::move(why));
      continue;
    }
    eligible.push_back(std::move(node));
  }

  // Normalised across the eligible nodes only, so their order does not depend
  // on nodes that could not take the task anyway.
  const std::vector<double> load = LoadScores(eligible);
  struct Ranked {
    double key;
    double load;
    const std::string* name;
    double latency_ms;
  };
  std::vector<Ranked> ranked;
  ranked.reserve(eligible.size());
  for (size_t i = 0; i < eligible.size(); ++i) {
    double key = 0;
    switch (prefer.kind()) {
      case PreferRule::Kind::kBestEffort:
        key = load[i];
        break;
      case PreferRule::Kind::kMin:
        key = prefer.Key(eligible[i]);
        break;
      case PreferRule::Kind::kMax:
        key = -prefer.Key(eligible[i]);
        break;
    }
    ranked.push_back({key, load[i], &eligible[i].name, eligible[i].latency_ms});
  }
  const auto top = ranked.begin() + static_cast<std::ptrdiff_t>(std::min(keep, ranked.size()));
  std::partial_sort(ranked.begin(), top, ranked.end(), [](const Ranked& a, const Ranked& b) {
    if (a.key != b.key) return a.key < b.key;
    if (a.load != b.load) return a.load < b.load;
    return *a.name < *b.name;
  });
  placement.ranking.reserve(top - ranked.begin());
  for (auto r = ranked.begin(); r != top; ++r) placement.ranking.push_back(*r->name);
  if (!placement.ranking.empty()) {
    placement.accepted = true;
    placement.node = placement.ranking.front();
    placement.latency_ms = ranked.front().latency_ms;
  }
  return placement;
}

}  // namespace mliot
