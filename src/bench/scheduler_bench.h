// bench scheduler: placement latency with many registered nodes, and the
// coordinator's CPU cost of many nodes heart-beating at 1 Hz.
//
//   placement_ms      Place() over `nodes` simulated nodes (the same
//                     candidates + policy + ranking path Submit takes),
//                     for a mix of require/prefer policies
//   heartbeats_per_s  achieved rate of `heartbeat_nodes` simulated nodes,
//                     each heart-beating once a second over loopback gRPC to
//                     a real `mliot coordinator` process; each node has its
//                     own TCP connection, as deployed (`connections` N
//                     shares N among all); the nodes run in node processes
//                     (this binary, `bench scheduler --simulate-nodes`) of at
//                     most 2,500 nodes at nice `client_nice`
//   cpu_fraction      the coordinator's CPU time / wall time over the
//                     heart-beating window (1.0 = one core)
#ifndef MLIOT_BENCH_SCHEDULER_BENCH_H_
#define MLIOT_BENCH_SCHEDULER_BENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct SchedulerBenchOptions {
  int nodes = 1000;
  int heartbeat_nodes = 10000;
  double seconds = 5;
  int warmup_s = 2;
  int placements = 2000;
  int connections = 0;  // 0: one per heart-beating node
  int client_nice = 10;
  int tasks = 0;  // submitted to the heart-beating nodes' coordinator
  int repeat = 1;
  // A node process (internal): simulates nodes FROM:TO against `coordinator`.
  std::string simulate_nodes;
  std::string coordinator;
};

// `make bench-quick`: 200 nodes to place on, 500 heart-beating for 2 s.
void MakeQuick(SchedulerBenchOptions& options);

// {nodes, placement_ms: {p50, p99}, heartbeat_nodes, tasks, heartbeats_per_s,
//  heartbeats_failed, connections, node_processes, cpu_fraction,
//  coordinator_rss_mb, machine, range, repeats}.
absl::StatusOr<nlohmann::json> RunSchedulerBench(const SchedulerBenchOptions& options);

// The node process: registers its nodes, prints "registered", reads the
// start time (Unix ms) from stdin, heart-beats, prints "<sent in the
// window> <failed>", and waits for stdin to close.
absl::Status RunSimulatedNodes(const SchedulerBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_SCHEDULER_BENCH_H_
