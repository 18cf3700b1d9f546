#include "node/process_monitor.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "node/supervisor.h"

namespace mliot {
namespace {

bool ReadIo(pid_t pid, uint64_t* read_bytes, uint64_t* write_bytes) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/io"));
  if (!in) return false;
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "read_bytes:") *read_bytes = value;
    if (key == "write_bytes:") *write_bytes = value;
  }
  return true;
}

bool ReadNet(pid_t pid, uint64_t* rx, uint64_t* tx) {
  std::ifstream in(absl::StrCat("/proc/", pid, "/net/dev"));
  if (!in) return false;
  std::string line;
  *rx = *tx = 0;
  for (int i = 0; std::getline(in, line); ++i) {
    if (i < 2) continue;  // two header lines
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::istringstream fields(line.substr(colon + 1));
    uint64_t v[9] = {};
    for (uint64_t& x : v) fields >> x;
    *rx += v[0];  // receive bytes
    *tx += v[8];  // transmit bytes
  }
  return true;
}

}  // namespace

std::optional<ProcessCounters> ReadProcessCounters(pid_t pid) {
  ProcessCounters c;
  if (!ProcessUsage(pid, &c.cpu_ticks, &c.rss_mb)) return std::nullopt;
  ReadIo(pid, &c.read_bytes, &c.write_bytes);  // needs the same user or root; zeros otherwise
  ReadNet(pid, &c.rx_bytes, &c.tx_bytes);
  return c;
}

std::string ResourceCsvHeader() {
  return "t_s,cpu_percent,rss_mb,disk_read_mb_s,disk_write_mb_s,net_rx_mb_s_namespace,net_tx_mb_s_namespace,processes";
}

std::string ResourceCsvRow(const ResourceRow& r) {
  return absl::StrFormat("%.3f,%.2f,%.2f,%.4f,%.4f,%.4f,%.4f,%d", r.t_s, r.cpu_percent, r.rss_mb, r.read_mb_s,
                         r.write_mb_s, r.rx_mb_s, r.tx_mb_s, r.processes);
}

PidSource SingleProcess(pid_t pid) {
  return [pid]() -> std::optional<std::vector<pid_t>> {
    if (!ReadProcessCounters(pid).has_value()) return std::nullopt;
    return std::vector<pid_t>{pid};
  };
}

absl::Status MonitorProcesses(const PidSource& pids, double interval_s, double duration_s,
                              const std::atomic<bool>& stop, const std::function<void(const ResourceRow&)>& sink) {
  if (interval_s <= 0) return absl::InvalidArgumentError(absl::StrCat("--interval-s ", interval_s, ": must be > 0"));
  auto read_all = [&]() -> std::optional<std::map<pid_t, ProcessCounters>> {
    std::optional<std::vector<pid_t>> list = pids();
    if (!list.has_value()) return std::nullopt;
    std::map<pid_t, ProcessCounters> out;
    for (pid_t pid : *list) {
      if (std::optional<ProcessCounters> c = ReadProcessCounters(pid); c.has_value()) out[pid] = *c;
    }
    return out;
  };
  std::optional<std::map<pid_t, ProcessCounters>> prev = read_all();
  if (!prev.has_value()) return absl::NotFoundError("nothing to monitor");
  const double ticks_per_s = static_cast<double>(sysconf(_SC_CLK_TCK));
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  for (int64_t k = 1; !stop.load(); ++k) {
    std::this_thread::sleep_until(start + std::chrono::duration<double>(k * interval_s));
    std::optional<std::map<pid_t, ProcessCounters>> now = read_all();
    if (!now.has_value()) break;  // the process exited / the task is gone
    const auto t = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(t - last).count();
    last = t;
    // Rates over the processes present at both samples (a restarted worker
    // counts from its second sample); RSS over those present now. Network
    // counters are per namespace: counted once, not per process.
    uint64_t cpu = 0, read = 0, write = 0;
    double rss = 0;
    std::optional<std::pair<ProcessCounters, ProcessCounters>> net;
    for (const auto& [pid, c] : *now) {
      rss += c.rss_mb;
      auto before = prev->find(pid);
      if (before == prev->end()) continue;
      const ProcessCounters& b = before->second;
      cpu += c.cpu_ticks >= b.cpu_ticks ? c.cpu_ticks - b.cpu_ticks : 0;
      read += c.read_bytes >= b.read_bytes ? c.read_bytes - b.read_bytes : 0;
      write += c.write_bytes >= b.write_bytes ? c.write_bytes - b.write_bytes : 0;
      if (!net.has_value()) net = std::make_pair(b, c);
    }
    auto rate = [dt](uint64_t a, uint64_t b) { return b >= a ? static_cast<double>(b - a) / 1e6 / dt : 0.0; };
    ResourceRow row;
    row.t_s = std::chrono::duration<double>(t - start).count();
    row.processes = static_cast<int>(now->size());
    row.cpu_percent = 100.0 * static_cast<double>(cpu) / ticks_per_s / dt;
    row.rss_mb = rss;
    row.read_mb_s = static_cast<double>(read) / 1e6 / dt;
    row.write_mb_s = static_cast<double>(write) / 1e6 / dt;
    if (net.has_value()) {
      row.rx_mb_s = rate(net->first.rx_bytes, net->second.rx_bytes);
      row.tx_mb_s = rate(net->first.tx_bytes, net->second.tx_bytes);
    }
    sink(row);
    prev = std::move(now);
    if (duration_s > 0 && row.t_s >= duration_s) break;
  }
  return absl::OkStatus();
}

absl::Status MonitorProcess(pid_t pid, double interval_s, double duration_s, const std::atomic<bool>& stop,
                            const std::function<void(const ResourceRow&)>& sink) {
  if (!ReadProcessCounters(pid).has_value()) return absl::NotFoundError(absl::StrCat("--pid ", pid, ": no such process"));
  return MonitorProcesses(SingleProcess(pid), interval_s, duration_s, stop, sink);
}

}  // namespace mliot
