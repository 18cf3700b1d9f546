// A serving worker's request metrics, per bundle version: the worker
// records them (no lock on the request path once a version has its slot)
// and writes a snapshot every second (TASK_DIR/serve.metrics); the node
// agent reads the snapshots at scrape time and exports them as Prometheus
// families labelled by task and version.
#ifndef MLIOT_METRICS_SERVING_METRICS_H_
#define MLIOT_METRICS_SERVING_METRICS_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "metrics/metrics.h"
#include "mliot/v1/serving.pb.h"

namespace mliot::metrics {

class ServingRecorder {
 public:
  struct Counters {
    std::atomic<int64_t> requests{0}, failures{0}, rows{0};
    AtomicHistogram featurize, compute, end_to_end;
  };
  // The counters of a version (created on its first request).
  Counters& For(int64_t version);
  void Feedback(int64_t rows);
  v1::ServingMetrics Snapshot() const;

 private:
  mutable absl::Mutex mu_;
  std::map<int64_t, std::unique_ptr<Counters>> versions_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> feedback_rows_{0}, feedback_calls_{0};
};

// The Prometheus families of every task's snapshot (task name, snapshot).
std::vector<prometheus::MetricFamily> ServingFamilies(
    const std::vector<std::pair<std::string, v1::ServingMetrics>>& tasks);

}  // namespace mliot::metrics

#endif  // MLIOT_METRICS_SERVING_METRICS_H_
