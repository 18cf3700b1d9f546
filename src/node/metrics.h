// Node metrics sampled from /proc: CPU use across all cores (from
// /proc/stat deltas), memory use (/proc/meminfo MemAvailable), and the
// 1-minute load average.
#ifndef MLIOT_NODE_METRICS_H_
#define MLIOT_NODE_METRICS_H_

#include <cstdint>

namespace mliot {

struct HostMetrics {
  double cpu = 0;   // percent of all cores, since the previous Sample()
  double mem = 0;   // percent of memory in use
  double load = 0;  // 1-minute load average
  double memory_mb = 0;  // total memory
  int cores = 0;
};

class MetricsSampler {
 public:
  HostMetrics Sample();

 private:
  uint64_t last_total_ = 0;
  uint64_t last_idle_ = 0;
};

}  // namespace mliot

#endif  // MLIOT_NODE_METRICS_H_
