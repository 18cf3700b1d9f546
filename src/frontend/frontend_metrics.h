// The metrics a protocol front end records itself: calls by protocol, task
// and outcome, their end-to-end latency as the front end saw it, and the
// queue time (end to end less the time inside the serving worker: the hop
// to the worker and the wait for one of its threads).
#ifndef MLIOT_FRONTEND_FRONTEND_METRICS_H_
#define MLIOT_FRONTEND_FRONTEND_METRICS_H_

#include <memory>
#include <string>
#include <vector>

#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace mliot::v2 {

class FrontendMetrics {
 public:
  FrontendMetrics();
  // `code`: "200", "400", ... as HTTP says it (gRPC calls too).
  void Observe(const std::string& protocol, const std::string& task, int code, double seconds,
               double worker_seconds);
  std::vector<prometheus::MetricFamily> Collect() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>* requests_;
  prometheus::Family<prometheus::Histogram>* latency_;
  prometheus::Family<prometheus::Histogram>* queue_;
};

}  // namespace mliot::v2

#endif  // MLIOT_FRONTEND_FRONTEND_METRICS_H_
