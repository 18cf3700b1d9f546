#include "node/process_monitor.h"

#include <unistd.h>

#include <chrono>
#include <fstream>
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
  return "t_s,cpu_percent,rss_mb,disk_read_mb_s,disk_write_mb_s,net_rx_mb_s_namespace,net_tx_mb_s_namespace";
}

std::string ResourceCsvRow(const ResourceRow& r) {
  return absl::StrFormat("%.3f,%.2f,%.2f,%.4f,%.4f,%.4f,%.4f", r.t_s, r.cpu_percent, r.rss_mb, r.read_mb_s,
                         r.write_mb_s, r.rx_mb_s, r.tx_mb_s);
}

absl::Status MonitorProcess(pid_t pid, double interval_s, double duration_s, const std::atomic<bool>& stop,
                            const std::function<void(const ResourceRow&)>& sink) {
  if (interval_s <= 0) return absl::InvalidArgumentError(absl::StrCat("--interval-s ", interval_s, ": must be > 0"));
  std::optional<ProcessCounters> prev = ReadProcessCounters(pid);
  if (!prev.has_value()) return absl::NotFoundError(absl::StrCat("--pid ", pid, ": no such process"));
  const double ticks_per_s = static_cast<double>(sysconf(_SC_CLK_TCK));
  const auto start = std::chrono::steady_clock::now();
  auto last = start;
  for (int64_t k = 1; !stop.load(); ++k) {
    std::this_thread::sleep_until(start + std::chrono::duration<double>(k * interval_s));
    const std::optional<ProcessCounters> now = ReadProcessCounters(pid);
    if (!now.has_value()) break;  // the process exited
    const auto t = std::chrono::steady_clock::now();
    const double dt = std::chrono::duration<double>(t - last).count();
    last = t;
    auto rate = [dt](uint64_t a, uint64_t b) { return b >= a ? static_cast<double>(b - a) / 1e6 / dt : 0.0; };
    ResourceRow row;
    row.t_s = std::chrono::duration<double>(t - start).count();
    row.cpu_percent = 100.0 * static_cast<double>(now->cpu_ticks - prev->cpu_ticks) / ticks_per_s / dt;
    row.rss_mb = now->rss_mb;
    row.read_mb_s = rate(prev->read_bytes, now->read_bytes);
    row.write_mb_s = rate(prev->write_bytes, now->write_bytes);
    row.rx_mb_s = rate(prev->rx_bytes, now->rx_bytes);
    row.tx_mb_s = rate(prev->tx_bytes, now->tx_bytes);
    sink(row);
    prev = now;
    if (duration_s > 0 && row.t_s >= duration_s) break;
  }
  return absl::OkStatus();
}

}  // namespace mliot
