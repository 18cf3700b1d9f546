// Supervisor: keeps a node's worker processes running.
//
// Each worker is a child process (`mliot worker ...`, spawned with
// posix_spawn) under the node's resource limits. A worker that exits with
// a non-zero status or a signal is restarted after a back-off that doubles
// from 1 s up to 30 s (and resets once it ran for a minute); one that exits
// with status 0 has finished and stays down. Stop() sends SIGTERM, then
// SIGKILL after a grace period.
//
// Thread-safety: all methods are thread-safe; Poll() is called by the
// agent's loop (it reaps children and restarts them).
#ifndef MLIOT_NODE_SUPERVISOR_H_
#define MLIOT_NODE_SUPERVISOR_H_

#include <sys/types.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "node/resource_limits.h"

namespace mliot {

struct WorkerSpec {
  std::string id;                 // unique, e.g. "<task>/train"
  std::vector<std::string> argv;  // argv[0] is the executable
  std::string log_path;           // stdout and stderr are appended here
  Limits limits;
};

struct WorkerState {
  std::string id;
  pid_t pid = 0;          // 0 while down
  int restarts = 0;
  bool finished = false;  // exited with status 0
  double cpu_percent = 0; // of one core, since the previous Poll
  double rss_mb = 0;
};

class Supervisor {
 public:
  explicit Supervisor(ResourceLimiter* limiter) : limiter_(limiter) {}
  ~Supervisor();

  absl::Status Start(const WorkerSpec& spec);
  // Stops and forgets the worker; a no-op for unknown ids.
  void Stop(const std::string& id);
  void StopAll();
  bool Has(const std::string& id) const;

  // Reaps exited children, restarts crashed ones when their back-off has
  // passed, and samples CPU and RSS.
  void Poll();
  std::vector<WorkerState> States() const;

 private:
  struct Worker {
    WorkerSpec spec;
    WorkerState state;
    double restart_at = 0;     // monotonic seconds; 0: not scheduled
    double started_at = 0;
    double backoff_s = 1;
    uint64_t last_cpu_ticks = 0;
    double last_sample_at = 0;
  };
  absl::Status Spawn(Worker& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ResourceLimiter* limiter_;  // not owned; may be null
  mutable absl::Mutex mu_;
  std::map<std::string, Worker> workers_ ABSL_GUARDED_BY(mu_);
};

// CPU ticks (utime + stime) and RSS of a process from /proc; false if gone.
bool ProcessUsage(pid_t pid, uint64_t* cpu_ticks, double* rss_mb);

}  // namespace mliot

#endif  // MLIOT_NODE_SUPERVISOR_H_
