#include "metrics/serving_metrics.h"

#include "absl/strings/str_cat.h"

namespace mliot::metrics {

ServingRecorder::Counters& ServingRecorder::For(int64_t version) {
  absl::MutexLock lock(&mu_);
  std::unique_ptr<Counters>& c = versions_[version];
  if (!c) c = std::make_unique<Counters>();
  return *c;
}

void ServingRecorder::Feedback(int64_t rows) {
  feedback_rows_.fetch_add(rows, std::memory_order_relaxed);
  feedback_calls_.fetch_add(1, std::memory_order_relaxed);
}

v1::ServingMetrics ServingRecorder::Snapshot() const {
  v1::ServingMetrics out;
  absl::MutexLock lock(&mu_);
  for (const auto& [version, c] : versions_) {
    v1::ServingMetrics::Version* v = out.add_versions();
    v->set_version(version);
    v->set_requests(c->requests.load(std::memory_order_relaxed));
    v->set_failures(c->failures.load(std::memory_order_relaxed));
    v->set_rows(c->rows.load(std::memory_order_relaxed));
    c->featurize.ToProto(v->mutable_featurize());
    c->compute.ToProto(v->mutable_compute());
    c->end_to_end.ToProto(v->mutable_end_to_end());
  }
  out.set_feedback_rows(feedback_rows_.load(std::memory_order_relaxed));
  out.set_feedback_calls(feedback_calls_.load(std::memory_order_relaxed));
  return out;
}

std::vector<prometheus::MetricFamily> ServingFamilies(
    const std::vector<std::pair<std::string, v1::ServingMetrics>>& tasks) {
  using prometheus::MetricType;
  auto requests = Family("mliot_inference_requests_total", "Requests a task's serving worker answered, by version",
                         MetricType::Counter);
  auto failures = Family("mliot_inference_failures_total",
                         "Requests a task's serving worker refused (bad input) or failed, by version",
                         MetricType::Counter);
  auto rows = Family("mliot_inference_rows_total", "Predictions made (rows or raw-input windows), by version",
                     MetricType::Counter);
  auto featurize = Family("mliot_inference_featurize_seconds",
                          "Time turning raw input into feature rows (raw-input tasks), by version",
                          MetricType::Histogram);
  auto compute = Family("mliot_inference_compute_seconds",
                        "Time in preprocessing, the background detector and the ensemble, by version",
                        MetricType::Histogram);
  auto end_to_end = Family("mliot_inference_request_seconds",
                           "Time inside the serving worker from request to answer, by version",
                           MetricType::Histogram);
  auto feedback = Family("mliot_feedback_rows_total", "Labelled feedback rows a task received", MetricType::Counter);
  for (const auto& [task, m] : tasks) {
    for (const v1::ServingMetrics::Version& v : m.versions()) {
      const std::vector<prometheus::ClientMetric::Label> labels = {{"task", task},
                                                                   {"version", absl::StrCat(v.version())}};
      requests.metric.push_back(Sample(static_cast<double>(v.requests()), labels));
      failures.metric.push_back(Sample(static_cast<double>(v.failures()), labels));
      rows.metric.push_back(Sample(static_cast<double>(v.rows()), labels));
      featurize.metric.push_back(HistogramMetric(v.featurize(), labels));
      compute.metric.push_back(HistogramMetric(v.compute(), labels));
      end_to_end.metric.push_back(HistogramMetric(v.end_to_end(), labels));
    }
    feedback.metric.push_back(Sample(static_cast<double>(m.feedback_rows()), {{"task", task}}));
  }
  return {requests, failures, rows, featurize, compute, end_to_end, feedback};
}

}  // namespace mliot::metrics
