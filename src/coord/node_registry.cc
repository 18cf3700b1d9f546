#include "coord/node_registry.h"

namespace mliot {
namespace {

constexpr double kAlpha = 2.0 / (10.0 + 1.0);  // EWMA over ~10 samples

}  // namespace

void NodeRegistry::TouchLocked(Slot& slot) {
  slot.entry.last_seen = clock_->NowSeconds();
  if (slot.entry.alive) {
    live_.splice(live_.end(), live_, slot.in_live);
  } else {
    slot.in_live = live_.insert(live_.end(), &slot);
    slot.entry.alive = true;
  }
}

void NodeRegistry::Register(const v1::NodeInfo& info) {
  absl::MutexLock lock(&mu_);
  auto [it, added] = nodes_.try_emplace(info.name());
  Slot& slot = it->second;
  if (added) {
    slot.entry.alive = false;  // not in live_ yet
    by_name_.emplace(info.name(), &slot);
  }
  NodeEntry& e = slot.entry;
  e.info = info;
  e.labels = std::make_shared<const NodeLabels>(info.labels().begin(), info.labels().end());
  TouchLocked(slot);
}

void NodeRegistry::Restore(const v1::NodeInfo& info) { Register(info); }

bool NodeRegistry::Heartbeat(const v1::HeartbeatRequest& request) {
  absl::MutexLock lock(&mu_);
  auto it = by_name_.find(request.node());
  if (it == by_name_.end()) return false;
  Slot& slot = *it->second;
  NodeEntry& e = slot.entry;
  const v1::NodeMetrics& m = request.metrics();
  double serving_cpu = 0;
  for (const v1::WorkerMetrics& w : m.workers()) {
    if (w.role() == "serve") serving_cpu += w.cpu_percent() / 100;
  }
  if (e.samples == 0) {
    e.metrics.set_cpu(m.cpu());
    e.metrics.set_mem(m.mem());
    e.metrics.set_load(m.load());
    e.serving_cpu = serving_cpu;
  } else {
    e.metrics.set_cpu(kAlpha * m.cpu() + (1 - kAlpha) * e.metrics.cpu());
    e.metrics.set_mem(kAlpha * m.mem() + (1 - kAlpha) * e.metrics.mem());
    e.metrics.set_load(kAlpha * m.load() + (1 - kAlpha) * e.metrics.load());
    e.serving_cpu = kAlpha * serving_cpu + (1 - kAlpha) * e.serving_cpu;
  }
  ++e.samples;
  // Learned by the node (already smoothed there); kept once known.
  if (m.image_serve_ms() > 0) e.metrics.set_image_serve_ms(m.image_serve_ms());
  if (m.sensor_serve_ms() > 0) e.metrics.set_sensor_serve_ms(m.sensor_serve_ms());
  *e.metrics.mutable_workers() = m.workers();
  e.tasks.clear();
  for (const v1::TaskStatus& t : request.tasks()) e.tasks[t.task()] = t;
  TouchLocked(slot);
  return true;
}

std::vector<std::string> NodeRegistry::Sweep() {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> died;
  const double now = clock_->NowSeconds();
  while (!live_.empty() && now - live_.front()->entry.last_seen > timeout_s_) {
    NodeEntry& e = live_.front()->entry;
    e.alive = false;
    e.tasks.clear();
    died.push_back(e.info.name());
    live_.pop_front();
  }
  return died;
}

std::optional<NodeEntry> NodeRegistry::Get(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second->entry;
}

bool NodeRegistry::IsAlive(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = by_name_.find(name);
  return it != by_name_.end() && it->second->entry.alive;
}

std::vector<NodeEntry> NodeRegistry::All() const {
  absl::MutexLock lock(&mu_);
  std::vector<NodeEntry> out;
  out.reserve(nodes_.size());
  for (const auto& [name, slot] : nodes_) out.push_back(slot.entry);
  return out;
}

std::vector<PlacementCandidate> NodeRegistry::Candidates(const std::map<std::string, int>& task_counts) const {
  absl::MutexLock lock(&mu_);
  std::vector<PlacementCandidate> out;
  out.reserve(nodes_.size());
  // Both maps are sorted by name: walk them together instead of a lookup per node.
  auto count = task_counts.begin();
  for (const auto& [name, slot] : nodes_) {
    const NodeEntry& e = slot.entry;
    PlacementCandidate c;
    NodeView& v = c.node;
    v.name = name;
    v.cores = e.info.cores();
    v.memory_mb = e.info.memory_mb();
    v.gpu = e.info.gpu();
    v.arch = e.info.arch();
    v.rtt_ms = e.info.rtt_ms();
    v.cpu_quota = e.info.cpu_quota_cores();
    v.labels = e.labels;
    v.cpu = e.metrics.cpu();
    v.mem = e.metrics.mem();
    v.load = e.metrics.load();
    v.free_cpu = std::max(0.0, v.cores * (1.0 - v.cpu / 100.0));
    v.serving_cpu = e.serving_cpu;
    while (count != task_counts.end() && count->first < name) ++count;
    v.tasks = count != task_counts.end() && count->first == name ? count->second : 0;
    v.alive = e.alive;
    c.bench.image_predict_ms = e.info.benchmark().image_predict_ms();
    c.bench.sensor_predict_ms = e.info.benchmark().sensor_predict_ms();
    c.bench.request_ms = e.info.benchmark().request_ms();
    c.bench.image_serve_ms = e.metrics.image_serve_ms();
    c.bench.sensor_serve_ms = e.metrics.sensor_serve_ms();
    c.bench.train_speed = e.info.benchmark().train_speed() > 0 ? e.info.benchmark().train_speed() : 1.0;
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace mliot
