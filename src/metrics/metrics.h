// Prometheus metrics: what every mliot process exports at /metrics
// (docs/METRICS.md lists each metric and its Triton counterpart). Built on
// prometheus-cpp's registry and text serializer; this file adds the one
// set of latency buckets every histogram uses, a lock-free histogram for
// hot paths whose counts travel between processes, and the exposition
// (registries plus collectors read at scrape time, plus mliot_build_info).
#ifndef MLIOT_METRICS_METRICS_H_
#define MLIOT_METRICS_METRICS_H_

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "mliot/v1/serving.pb.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace mliot::metrics {

// Upper bounds in seconds: 50 us to 10 s, roughly x2.5 apart (+Inf implied).
const std::vector<double>& LatencyBuckets();
inline constexpr size_t kLatencyBuckets = 17;  // LatencyBuckets().size() + 1 (+Inf)

// A histogram over LatencyBuckets() that a request thread can observe
// without a lock or an allocation.
class AtomicHistogram {
 public:
  void Observe(double seconds);
  void ToProto(v1::LatencyHistogram* out) const;

 private:
  std::array<std::atomic<int64_t>, kLatencyBuckets> counts_{};
  std::atomic<double> sum_{0};
};

// A Prometheus histogram sample from counts per bucket (not cumulative).
prometheus::ClientMetric HistogramMetric(const v1::LatencyHistogram& h, std::vector<prometheus::ClientMetric::Label> labels);

// What a process serves at /metrics: its registry, collectors called at
// each scrape, and mliot_build_info{version, role}.
class Exposition {
 public:
  explicit Exposition(std::string role);
  prometheus::Registry& registry() { return *registry_; }
  void AddCollector(std::function<std::vector<prometheus::MetricFamily>()> collect);
  // The text format (version 0.0.4).
  std::string Text() const;

 private:
  std::string role_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::vector<std::function<std::vector<prometheus::MetricFamily>()>> collectors_;
};

// A family of one type, for collectors.
prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type);
prometheus::ClientMetric Sample(double value, std::vector<prometheus::ClientMetric::Label> labels);

}  // namespace mliot::metrics

#endif  // MLIOT_METRICS_METRICS_H_
