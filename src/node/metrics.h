// Node metrics sampled from /proc: CPU use across all cores (from
// /proc/stat deltas), memory use (/proc/meminfo MemAvailable), and the
// 1-minute load average.
//
// In a container: when the node's own control group (/proc/self/cgroup;
// cgroup v1 or v2) has a CPU quota, CPU use is the group's (its workers
// included) as a percent of that quota, and `load` is that share times the
// device's cores (a device busy on all its cores has load = cores, as a
// saturated machine's load average would be); when the group has a memory
// limit below the host's memory, memory use is the group's against that
// limit. A node of the emulated testbed thus reports its device, not the
// host it shares with the others.
#ifndef MLIOT_NODE_METRICS_H_
#define MLIOT_NODE_METRICS_H_

#include <cstdint>
#include <string>

namespace mliot {

struct HostMetrics {
  double cpu = 0;   // percent of all cores, since the previous Sample()
  double mem = 0;   // percent of memory in use
  double load = 0;  // 1-minute load average
  double memory_mb = 0;  // total memory
  int cores = 0;
};

// The node's control group, as far as the metrics need it.
struct CgroupFiles {
  std::string cpu_quota;   // v1 cpu.cfs_quota_us (period beside it) or v2 cpu.max
  std::string cpu_usage;   // v1 cpuacct.usage (ns) or v2 cpu.stat (usage_usec)
  std::string mem_limit;   // v1 memory.limit_in_bytes or v2 memory.max
  std::string mem_usage;   // v1 memory.usage_in_bytes or v2 memory.current
  bool v2 = false;
};

// The files of the group that `proc_cgroup` (the text of /proc/self/cgroup)
// names, under `root` (/sys/fs/cgroup); files that do not exist are left empty.
CgroupFiles FindCgroupFiles(const std::string& proc_cgroup, const std::string& root = "/sys/fs/cgroup");

class MetricsSampler {
 public:
  // The group of this process (/proc/self/cgroup).
  MetricsSampler();
  // A given group (tests).
  explicit MetricsSampler(CgroupFiles group);
  // The device's core count (what the node declares): `load` in a group
  // with a CPU quota is the quota's busy share times this.
  void set_device_cores(int cores) { device_cores_ = cores; }

  HostMetrics Sample();

  // The CPU quota of the node's own group, in cores; 0 when it has none.
  double quota_cores() const { return quota_cores_; }

 private:
  uint64_t last_total_ = 0;
  uint64_t last_idle_ = 0;
  CgroupFiles group_;
  double quota_cores_ = 0;  // > 0: the group's CPU quota
  double last_usage_s_ = -1;
  double last_wall_s_ = 0;
  int device_cores_ = 0;
};

}  // namespace mliot

#endif  // MLIOT_NODE_METRICS_H_
