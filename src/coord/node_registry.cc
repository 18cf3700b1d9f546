#include "coord/node_registry.h"

namespace mliot {
namespace {

constexpr double kAlpha = 2.0 / (10.0 + 1.0);  // EWMA over ~10 samples

}  // namespace

void NodeRegistry::Register(const v1::NodeInfo& info) {
  absl::MutexLock lock(&mu_);
  NodeEntry& e = nodes_[info.name()];
  e.info = info;
  e.labels = std::make_shared<const NodeLabels>(info.labels().begin(), info.labels().end());
  e.last_seen = clock_->NowSeconds();
  e.alive = true;
}

void NodeRegistry::Restore(const v1::NodeInfo& info) { Register(info); }

bool NodeRegistry::Heartbeat(const v1::HeartbeatRequest& request) {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(request.node());
  if (it == nodes_.end()) return false;
  NodeEntry& e = it->second;
  const v1::NodeMetrics& m = request.metrics();
  if (e.samples == 0) {
    e.metrics.set_cpu(m.cpu());
    e.metrics.set_mem(m.mem());
    e.metrics.set_load(m.load());
  } else {
    e.metrics.set_cpu(kAlpha * m.cpu() + (1 - kAlpha) * e.metrics.cpu());
    e.metrics.set_mem(kAlpha * m.mem() + (1 - kAlpha) * e.metrics.mem());
    e.metrics.set_load(kAlpha * m.load() + (1 - kAlpha) * e.metrics.load());
  }
  ++e.samples;
  *e.metrics.mutable_workers() = m.workers();
  e.tasks.clear();
  for (const v1::TaskStatus& t : request.tasks()) e.tasks[t.task()] = t;
  e.last_seen = clock_->NowSeconds();
  e.alive = true;
  return true;
}

std::vector<std::string> NodeRegistry::Sweep() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> died;
  const double now = clock_->NowSeconds();
  for (auto& [name, e] : nodes_) {
    if (e.alive && now - e.last_seen > timeout_s_) {
      e.alive = false;
      e.tasks.clear();
      died.push_back(name);
    }
  }
  return died;
}

std::optional<NodeEntry> NodeRegistry::Get(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = nodes_.find(name);
  if (it == nodes_.end()) return std::nullopt;
  return it->second;
}

std::vector<NodeEntry> NodeRegistry::All() const {
  absl::MutexLock lock(&mu_);
  std::vector<NodeEntry> out;
  for (const auto& [name, e] : nodes_) out.push_back(e);
  return out;
}

std::vector<PlacementCandidate> NodeRegistry::Candidates(const std::map<std::string, int>& task_counts) const {
  absl::MutexLock lock(&mu_);
  std::vector<PlacementCandidate> out;
  out.reserve(nodes_.size());
  // Both maps are sorted by name: walk them together instead of a lookup per node.
  auto count = task_counts.begin();
  for (const auto& [name, e] : nodes_) {
    PlacementCandidate c;
    NodeView& v = c.node;
    v.name = name;
    v.cores = e.info.cores();
    v.memory_mb = e.info.memory_mb();
    v.gpu = e.info.gpu();
    v.arch = e.info.arch();
    v.rtt_ms = e.info.rtt_ms();
    v.labels = e.labels;
    v.cpu = e.metrics.cpu();
    v.mem = e.metrics.mem();
    v.load = e.metrics.load();
    v.free_cpu = std::max(0.0, v.cores * (1.0 - v.cpu / 100.0));
    while (count != task_counts.end() && count->first < name) ++count;
    v.tasks = count != task_counts.end() && count->first == name ? count->second : 0;
    v.alive = e.alive;
    c.bench.image_predict_ms = e.info.benchmark().image_predict_ms();
    c.bench.sensor_predict_ms = e.info.benchmark().sensor_predict_ms();
    c.bench.train_speed = e.info.benchmark().train_speed() > 0 ? e.info.benchmark().train_speed() : 1.0;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace mliot
