// ServeCost: what a request costs this node, learned from its serving
// workers (placement's latency model, coord/placement.h).
//
// Each serving worker writes its answered requests and its CPU seconds
// (bundle loads excluded) to `serve.stats` every second; the agent feeds
// them here at each heartbeat. Over an interval (one heartbeat) with at
// least kMinRequests new requests, a worker's cost is the CPU it used per
// request; an interval with fewer is mostly idle and skipped. Each worker
// keeps an EWMA of it (an interval of fewer than kFullRequests weighs
// less), and the node one per data type (image, sensor) over all its
// workers, which outlives the tasks: a node that served sensor tasks knows
// what the next one will cost.
//
// Pure logic, no I/O; not thread-safe (the agent's loop owns it).
#ifndef MLIOT_NODE_SERVE_COST_H_
#define MLIOT_NODE_SERVE_COST_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mliot {

struct ServeStats {
  int64_t requests = 0;
  double cpu_s = 0;
};

// Parses "REQUESTS CPU_S" (one line, as the serving worker writes it).
absl::StatusOr<ServeStats> ParseServeStats(absl::string_view text);

class ServeCost {
 public:
  static constexpr int64_t kMinRequests = 50;
  static constexpr double kFullRequests = 500;
  static constexpr double kAlpha = 0.3;

  // A worker's cumulative counters now (each heartbeat). A counter that
  // went back (the worker restarted) starts the worker's interval again.
  void Observe(const std::string& task, bool image, const ServeStats& now);
  // Forgets a task's worker (its node-level share stays).
  void Forget(const std::string& task) { workers_.erase(task); }

  // CPU ms per request; 0 when not learned yet.
  double TaskMs(const std::string& task) const;
  double ImageMs() const { return image_ms_; }
  double SensorMs() const { return sensor_ms_; }

 private:
  struct Worker {
    ServeStats base;  // start of the open interval
    double ms = 0;
  };
  std::map<std::string, Worker> workers_;
  double image_ms_ = 0, sensor_ms_ = 0;
};

}  // namespace mliot

#endif  // MLIOT_NODE_SERVE_COST_H_
