#include "node/metrics.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"

namespace mliot {
namespace {

std::string Existing(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec) ? path : "";
}

// The first number of a file ("max" and unreadable files: -1).
double ReadNumber(const std::string& path) {
  std::ifstream in(path);
  std::string word;
  if (!(in >> word) || word == "max") return -1;
  try {
    return std::stod(word);
  } catch (...) {
    return -1;
  }
}

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

CgroupFiles FindCgroupFiles(const std::string& proc_cgroup, const std::string& root) {
  CgroupFiles f;
  std::string v2_path;
  for (absl::string_view line : absl::StrSplit(proc_cgroup, '\n', absl::SkipEmpty())) {
    const std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    const std::vector<std::string> controllers = absl::StrSplit(parts[1], ',');
    const auto has = [&](const char* c) {
      return std::find(controllers.begin(), controllers.end(), c) != controllers.end();
    };
    const std::string& path = parts[2];
    if (parts[0] == "0" && parts[1].empty()) v2_path = path;
    if (has("cpu") && f.cpu_quota.empty()) {
      for (const char* dir : {"cpu,cpuacct", "cpu", "cpuacct,cpu"}) {
        if (f.cpu_quota.empty()) f.cpu_quota = Existing(root + "/" + dir + path + "/cpu.cfs_quota_us");
      }
    }
    if (has("cpuacct") && f.cpu_usage.empty()) {
      for (const char* dir : {"cpu,cpuacct", "cpuacct", "cpuacct,cpu"}) {
        if (f.cpu_usage.empty()) f.cpu_usage = Existing(root + "/" + dir + path + "/cpuacct.usage");
      }
    }
    if (has("memory") && f.mem_limit.empty()) {
      f.mem_limit = Existing(root + "/memory" + path + "/memory.limit_in_bytes");
      f.mem_usage = Existing(root + "/memory" + path + "/memory.usage_in_bytes");
    }
  }
  if (f.cpu_quota.empty() && !v2_path.empty()) {
    for (const std::string& base : {root, root + "/unified"}) {
      const std::string dir = base + (v2_path == "/" ? "" : v2_path);
      if (Existing(dir + "/cpu.max").empty()) continue;
      f.v2 = true;
      f.cpu_quota = dir + "/cpu.max";
      f.cpu_usage = Existing(dir + "/cpu.stat");
      f.mem_limit = Existing(dir + "/memory.max");
      f.mem_usage = Existing(dir + "/memory.current");
      break;
    }
  }
  return f;
}

namespace {
CgroupFiles OwnCgroup() {
  std::ifstream in("/proc/self/cgroup");
  return FindCgroupFiles(std::string(std::istreambuf_iterator<char>(in), {}));
}
}  // namespace

MetricsSampler::MetricsSampler() : MetricsSampler(OwnCgroup()) {}

MetricsSampler::MetricsSampler(CgroupFiles group) : group_(std::move(group)) {
  if (group_.cpu_quota.empty() || group_.cpu_usage.empty()) return;
  if (group_.v2) {
    std::ifstream max(group_.cpu_quota);
    std::string quota;
    double period = 0;
    if (max >> quota >> period && quota != "max" && period > 0) {
      quota_cores_ = std::stod(quota) / period;
    }
  } else {
    const std::string dir = std::filesystem::path(group_.cpu_quota).parent_path().string();
    const double quota = ReadNumber(group_.cpu_quota);
    const double period = ReadNumber(dir + "/cpu.cfs_period_us");
    if (quota > 0 && period > 0) quota_cores_ = quota / period;
  }
}

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
  if (quota_cores_ > 0) {
    // The group's CPU time (its workers' included) over the wall time since
    // the previous sample, as a share of its quota.
    double usage_s = -1;
    if (group_.v2) {
      std::ifstream stat(group_.cpu_usage);
      std::string key;
      double value = 0;
      while (stat >> key >> value) {
        if (key == "usage_usec") usage_s = value / 1e6;
      }
    } else {
      const double ns = ReadNumber(group_.cpu_usage);
      if (ns >= 0) usage_s = ns / 1e9;
    }
    const double now = NowSeconds();
    if (usage_s >= 0) {
      m.cpu = 0;
      if (last_usage_s_ >= 0 && now > last_wall_s_) {
        const double share = (usage_s - last_usage_s_) / (now - last_wall_s_) / quota_cores_;
        m.cpu = 100.0 * std::clamp(share, 0.0, 1.0);
      }
      m.load = m.cpu / 100.0 * (device_cores_ > 0 ? device_cores_ : m.cores);
      last_usage_s_ = usage_s;
      last_wall_s_ = now;
    }
  }
  const double limit = group_.mem_limit.empty() ? -1 : ReadNumber(group_.mem_limit);
  if (limit > 0 && limit / 1048576.0 < m.memory_mb) {
    const double used = ReadNumber(group_.mem_usage);
    m.memory_mb = limit / 1048576.0;
    if (used >= 0) m.mem = 100.0 * std::min(1.0, used / limit);
  }
  return m;
}

}  // namespace mliot
