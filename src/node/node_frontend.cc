#include "node/node_frontend.h"

#include "frontend/frontend_metrics.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "metrics/serving_metrics.h"

namespace mliot {

absl::StatusOr<std::unique_ptr<NodeFrontend>> NodeFrontend::Start(const std::string& node,
                                                                  const std::string& http_listen, bool derived,
                                                                  const TlsOptions& tls) {
  std::unique_ptr<NodeFrontend> f(new NodeFrontend());
  f->node_ = node;
  NodeFrontend* self = f.get();
  v2::FrontendOptions o;
  o.http_listen = http_listen;
  o.any_port_if_taken = derived;
  o.tls = tls;
  o.log_name = node;
  o.router.tls = tls;
  o.router.resolve = [self](const std::string& task) -> absl::StatusOr<std::string> {
    absl::MutexLock lock(&self->mu_);
    auto it = self->routes_.find(task);
    if (it == self->routes_.end()) {
      return absl::NotFoundError(absl::StrCat("model '", task, "' is not served on node ", self->node_));
    }
    return it->second;
  };
  o.router.tasks = [self] {
    absl::MutexLock lock(&self->mu_);
    std::vector<std::string> names;
    for (const auto& [task, address] : self->routes_) names.push_back(task);
    return names;
  };
  o.metrics_text = [self] { return self->exposition_.Text(); };
  absl::StatusOr<std::unique_ptr<v2::Frontend>> started = v2::Frontend::Start(std::move(o));
  if (!started.ok()) return started.status();
  f->frontend_ = std::move(*started);
  f->exposition_.AddCollector([self] { return self->frontend_->metrics().Collect(); });
  f->exposition_.AddCollector([self] { return self->Collect(); });
  return f;
}

void NodeFrontend::Update(const std::vector<v1::TaskStatus>& tasks,
                          const std::map<std::string, std::string>& task_dirs, const v1::NodeMetrics& metrics) {
  std::map<std::string, std::string> routes;
  for (const v1::TaskStatus& t : tasks) {
    if (t.phase() == v1::TASK_PHASE_SERVING && !t.serving_address().empty()) routes[t.task()] = t.serving_address();
  }
  const bool any = !routes.empty();
  {
    absl::MutexLock lock(&mu_);
    routes_ = std::move(routes);
    task_dirs_ = task_dirs;
    tasks_ = tasks;
    metrics_ = metrics;
  }
  frontend_->SetServing(any);
}

void NodeFrontend::CountHeartbeat(bool ok) { (ok ? heartbeats_ok_ : heartbeats_failed_).fetch_add(1); }

v1::Endpoints NodeFrontend::endpoints() const {
  v1::Endpoints e;
  e.set_v2_http(frontend_->http_url());
  e.set_v2_grpc(frontend_->grpc_address());
  e.set_metrics(frontend_->http_url() + "/metrics");
  return e;
}

bool NodeFrontend::ready() const {
  absl::MutexLock lock(&mu_);
  return !routes_.empty();
}

std::vector<prometheus::MetricFamily> NodeFrontend::Collect() const {
  using metrics::Family;
  using metrics::Sample;
  using prometheus::MetricType;
  std::vector<std::pair<std::string, v1::ServingMetrics>> serving;
  std::vector<v1::TaskStatus> tasks;
  v1::NodeMetrics m;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [task, dir] : task_dirs_) {
      absl::StatusOr<std::string> bytes = ReadFile(dir + "/serve.metrics");
      v1::ServingMetrics snapshot;
      if (bytes.ok() && snapshot.ParseFromString(*bytes)) serving.emplace_back(task, std::move(snapshot));
    }
    tasks = tasks_;
    m = metrics_;
  }
  std::vector<prometheus::MetricFamily> out = metrics::ServingFamilies(serving);
  auto heartbeats = Family("mliot_node_heartbeats_total", "Heartbeats this node sent, by outcome", MetricType::Counter);
  heartbeats.metric.push_back(Sample(static_cast<double>(heartbeats_ok_.load()), {{"outcome", "ok"}}));
  heartbeats.metric.push_back(Sample(static_cast<double>(heartbeats_failed_.load()), {{"outcome", "failed"}}));
  auto load = Family("mliot_node_load", "The node's load (EWMA of its CPU use against its quota; 1 = full)",
                     MetricType::Gauge);
  load.metric.push_back(Sample(m.load(), {}));
  auto cpu = Family("mliot_node_cpu_ratio", "The node's CPU use, share of all its cores", MetricType::Gauge);
  cpu.metric.push_back(Sample(m.cpu() / 100, {}));
  auto mem = Family("mliot_node_memory_ratio", "The node's memory use, share of its memory", MetricType::Gauge);
  mem.metric.push_back(Sample(m.mem() / 100, {}));
  auto worker_cpu = Family("mliot_worker_cpu_ratio", "A worker process's CPU use, share of one core",
                           MetricType::Gauge);
  auto worker_rss = Family("mliot_worker_resident_memory_bytes", "A worker process's resident memory",
                           MetricType::Gauge);
  auto restarts = Family("mliot_worker_restarts_total", "Times a worker process was restarted", MetricType::Counter);
  for (const v1::WorkerMetrics& w : m.workers()) {
    const std::vector<prometheus::ClientMetric::Label> labels = {{"task", w.task()}, {"role", w.role()}};
    worker_cpu.metric.push_back(Sample(w.cpu_percent() / 100, labels));
    worker_rss.metric.push_back(Sample(w.rss_mb() * (1 << 20), labels));
    restarts.metric.push_back(Sample(w.restarts(), labels));
  }
  auto version = Family("mliot_task_serving_version", "The bundle version a task serves (0: none yet)",
                        MetricType::Gauge);
  auto adaptations = Family("mliot_adaptations_total", "Versions a task's adaptation on feedback produced",
                            MetricType::Counter);
  auto versions = Family("mliot_task_versions", "A task's bundle versions, by lifecycle state", MetricType::Gauge);
  for (const v1::TaskStatus& t : tasks) {
    version.metric.push_back(Sample(static_cast<double>(t.version()), {{"task", t.task()}}));
    int64_t adapted = 0;
    std::map<std::string, int64_t> by_state;
    for (const v1::VersionStatus& v : t.versions()) {
      adapted += absl::StartsWith(v.origin(), "adaptation");
      ++by_state[v.state()];
    }
    adaptations.metric.push_back(Sample(static_cast<double>(adapted), {{"task", t.task()}}));
    for (const auto& [state, n] : by_state) {
      versions.metric.push_back(Sample(static_cast<double>(n), {{"task", t.task()}, {"state", state}}));
    }
  }
  for (auto* f : {&heartbeats, &load, &cpu, &mem, &worker_cpu, &worker_rss, &restarts, &version, &adaptations,
                  &versions}) {
    out.push_back(std::move(*f));
  }
  return out;
}

}  // namespace mliot
