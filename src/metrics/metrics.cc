#include "metrics/metrics.h"

#include <algorithm>
#include <sstream>

#include "prometheus/text_serializer.h"

namespace mliot::metrics {

const std::vector<double>& LatencyBuckets() {
  static const auto* kBuckets = new std::vector<double>{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                                        0.005,   0.01,   0.025,   0.05,   0.1,   0.25,
                                                        0.5,     1,      2.5,     10};
  return *kBuckets;
}

void AtomicHistogram::Observe(double seconds) {
  const std::vector<double>& b = LatencyBuckets();
  const auto i = static_cast<size_t>(std::lower_bound(b.begin(), b.end(), seconds) - b.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(seconds, std::memory_order_relaxed);
}

void AtomicHistogram::ToProto(v1::LatencyHistogram* out) const {
  out->clear_counts();
  for (const auto& c : counts_) out->add_counts(c.load(std::memory_order_relaxed));
  out->set_sum_s(sum_.load(std::memory_order_relaxed));
}

prometheus::ClientMetric HistogramMetric(const v1::LatencyHistogram& h,
                                         std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  const std::vector<double>& bounds = LatencyBuckets();
  uint64_t total = 0;
  for (size_t i = 0; i < kLatencyBuckets; ++i) {
    total += i < static_cast<size_t>(h.counts_size()) ? static_cast<uint64_t>(h.counts(static_cast<int>(i))) : 0;
    m.histogram.bucket.push_back(
        {total, i < bounds.size() ? bounds[i] : std::numeric_limits<double>::infinity()});
  }
  m.histogram.sample_count = total;
  m.histogram.sample_sum = h.sum_s();
  return m;
}

Exposition::Exposition(std::string role) : role_(std::move(role)), registry_(std::make_shared<prometheus::Registry>()) {}

void Exposition::AddCollector(std::function<std::vector<prometheus::MetricFamily>()> collect) {
  collectors_.push_back(std::move(collect));
}

prometheus::MetricFamily Family(std::string name, std::string help, prometheus::MetricType type) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

prometheus::ClientMetric Sample(double value, std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  m.counter.value = value;
  m.gauge.value = value;
  return m;
}

std::string Exposition::Text() const {
  std::vector<prometheus::MetricFamily> families = registry_->Collect();
  prometheus::MetricFamily info = Family("mliot_build_info", "mliot's version and this process's role (always 1)",
                                         prometheus::MetricType::Gauge);
  info.metric.push_back(Sample(1, {{"role", role_}, {"version", MLIOT_VERSION}}));
  families.push_back(std::move(info));
  for (const auto& collect : collectors_) {
    for (prometheus::MetricFamily& f : collect()) {
      if (!f.metric.empty()) families.push_back(std::move(f));
    }
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace mliot::metrics
