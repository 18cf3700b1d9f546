// ResourceLimiter: CPU and memory limits for worker processes, through
// Linux control groups.
//
// Detect() probes, in order:
//   cgroup-v2  a writable unified hierarchy (/sys/fs/cgroup or
//              /sys/fs/cgroup/unified) whose cgroup.controllers offers cpu
//              and memory (enabled into the subtree mliot creates);
//   cgroup-v1  writable `cpu` and `memory` controller hierarchies
//              (/sys/fs/cgroup/cpu,cpuacct or /sys/fs/cgroup/cpu, and
//              /sys/fs/cgroup/memory);
//   none       with the reason (e.g. "none: /sys/fs/cgroup is read-only"),
//              shown by `mliot nodes` so the fallback is never silent.
// On these machines cgroup v1 `cpu` and `memory` are mounted writable next
// to a v2 `unified` hierarchy without controllers, so v1 is what applies.
//
// Groups live under <root>/<prefix>/<name>; Apply() creates the group, sets
// cpu.max / cpu.cfs_quota_us and memory.max / memory.limit_in_bytes, and
// moves the pid in. Remove() moves nothing and deletes the (empty) group.
//
// Thread-safety: all methods are thread-safe.
#ifndef MLIOT_NODE_RESOURCE_LIMITS_H_
#define MLIOT_NODE_RESOURCE_LIMITS_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace mliot {

struct Limits {
  double cpus = 0;        // 0: unlimited; 0.5 = half a core
  int64_t memory_mb = 0;  // 0: unlimited
};

struct Usage {
  double cpu_seconds = 0;    // total CPU time of the group
  int64_t memory_bytes = 0;  // current memory use of the group
};

class ResourceLimiter {
 public:
  virtual ~ResourceLimiter() = default;

  // Probes the machine; `prefix` separates e.g. several emulated nodes (one
  // directory name, or several joined by '/'). Creates <root>/<prefix>; the
  // limiter's destructor removes it again if it is empty. Never fails: an
  // invalid prefix or unusable cgroups give a "none: <reason>" limiter.
  static std::unique_ptr<ResourceLimiter> Detect(const std::string& prefix = "mliot");

  // "cgroup-v2", "cgroup-v1" or "none: <reason>".
  virtual std::string isolation() const = 0;

  // Creates group `name` (or updates its limits if it exists) and moves `pid`
  // into it. InvalidArgument for a name that is not one directory name
  // (empty, ".", "..", containing '/'), a pid <= 0 or negative limits;
  // NotFound if the process does not exist; otherwise the failing file with
  // its errno text. With "none" isolation nothing is enforced: OkStatus.
  virtual absl::Status Apply(const std::string& name, pid_t pid, const Limits& limits) = 0;

  // Usage of the group (with "none": of the applied process alone, from
  // /proc). NotFound if there is no such group.
  virtual absl::StatusOr<Usage> Read(const std::string& name) const = 0;

  // Deletes the group. FailedPrecondition, with nothing removed, while it
  // still holds processes; NotFound if there is no such group.
  virtual absl::Status Remove(const std::string& name) = 0;
};

}  // namespace mliot

#endif  // MLIOT_NODE_RESOURCE_LIMITS_H_
