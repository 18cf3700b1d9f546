#include "node/metrics.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace mliot {

HostMetrics MetricsSampler::Sample() {
  HostMetrics m;
  m.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  {
    std::ifstream stat("/proc/stat");
    std::string cpu;
    uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    stat >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
    const uint64_t total = user + nice + system + idle + iowait + irq + softirq + steal;
    const uint64_t idle_all = idle + iowait;
    if (last_total_ > 0 && total > last_total_) {
      m.cpu = 100.0 * (1.0 - static_cast<double>(idle_all - last_idle_) /
                                 static_cast<double>(total - last_total_));
    }
    last_total_ = total;
    last_idle_ = idle_all;
  }
  {
    std::ifstream meminfo("/proc/meminfo");
    std::string key, unit;
    double value = 0, total = 0, available = 0;
    while (meminfo >> key >> value >> unit) {
      if (key == "MemTotal:") total = value;
      if (key == "MemAvailable:") available = value;
    }
    m.memory_mb = total / 1024.0;
    if (total > 0) m.mem = 100.0 * (1.0 - available / total);
  }
  {
    std::ifstream loadavg("/proc/loadavg");
    loadavg >> m.load;
  }
  return m;
}

}  // namespace mliot
