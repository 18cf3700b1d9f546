#include "frontend/frontend_metrics.h"

#include "metrics/metrics.h"

namespace mliot::v2 {

FrontendMetrics::FrontendMetrics() : registry_(std::make_shared<prometheus::Registry>()) {
  requests_ = &prometheus::BuildCounter()
                   .Name("mliot_frontend_requests_total")
                   .Help("Inference calls a protocol front end answered, by protocol, task and HTTP status")
                   .Register(*registry_);
  latency_ = &prometheus::BuildHistogram()
                  .Name("mliot_frontend_request_seconds")
                  .Help("Inference calls end to end as the front end saw them, by protocol and task")
                  .Register(*registry_);
  queue_ = &prometheus::BuildHistogram()
                .Name("mliot_inference_queue_seconds")
                .Help("Time a call spent outside the serving worker's handler: the hop from the front end and "
                      "the wait for a worker thread")
                .Register(*registry_);
}

void FrontendMetrics::Observe(const std::string& protocol, const std::string& task, int code, double seconds,
                              double worker_seconds) {
  requests_->Add({{"protocol", protocol}, {"task", task}, {"code", std::to_string(code)}}).Increment();
  if (code != 200) return;
  const prometheus::Histogram::BucketBoundaries& b = metrics::LatencyBuckets();
  latency_->Add({{"protocol", protocol}, {"task", task}}, b).Observe(seconds);
  queue_->Add({{"task", task}}, b).Observe(std::max(0.0, seconds - worker_seconds));
}

std::vector<prometheus::MetricFamily> FrontendMetrics::Collect() const { return registry_->Collect(); }

}  // namespace mliot::v2
