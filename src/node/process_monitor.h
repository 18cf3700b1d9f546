// Resource monitor (issue 4, item 8; the thesis's resource figures): one
// process's CPU, RSS, disk read/write and network receive/transmit, sampled
// every interval from /proc and written as CSV rows.
//
// Network bytes come from /proc/PID/net/dev, i.e. the process's network
// namespace (all its interfaces, loopback included): on a shared host that
// counts other processes' traffic too, which the CSV header says.
#ifndef MLIOT_NODE_PROCESS_MONITOR_H_
#define MLIOT_NODE_PROCESS_MONITOR_H_

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace mliot {

struct ProcessCounters {
  uint64_t cpu_ticks = 0;
  double rss_mb = 0;
  uint64_t read_bytes = 0, write_bytes = 0;  // storage I/O (/proc/PID/io)
  uint64_t rx_bytes = 0, tx_bytes = 0;       // namespace-wide (/proc/PID/net/dev)
};

// Reads the counters now; nullopt when the process is gone.
std::optional<ProcessCounters> ReadProcessCounters(pid_t pid);

struct ResourceRow {
  double t_s = 0;           // since monitoring started
  int processes = 1;        // processes summed in this row
  double cpu_percent = 0;   // of one core (200 = two cores busy)
  double rss_mb = 0;
  double read_mb_s = 0, write_mb_s = 0;
  double rx_mb_s = 0, tx_mb_s = 0;
};

std::string ResourceCsvHeader();
std::string ResourceCsvRow(const ResourceRow& row);

// The processes to watch, asked again at every sample (a task's workers may
// restart); nullopt ends the monitoring (the process or task is gone).
using PidSource = std::function<std::optional<std::vector<pid_t>>()>;

// One process, until it exits.
PidSource SingleProcess(pid_t pid);

// Samples the sum over `pids` every `interval_s` until the source ends,
// `stop` is set, or `duration_s` (> 0) has passed; each row goes to `sink`.
absl::Status MonitorProcesses(const PidSource& pids, double interval_s, double duration_s,
                              const std::atomic<bool>& stop, const std::function<void(const ResourceRow&)>& sink);

// Samples `pid` every `interval_s` until it exits, `stop` is set, or
// `duration_s` (> 0) has passed; each row goes to `sink`.
absl::Status MonitorProcess(pid_t pid, double interval_s, double duration_s, const std::atomic<bool>& stop,
                            const std::function<void(const ResourceRow&)>& sink);

}  // namespace mliot

#endif  // MLIOT_NODE_PROCESS_MONITOR_H_
