// A coordinator and one node as child processes of this binary, for the
// benchmarks that measure a real cluster (lifecycle, serving), with an admin
// channel to the coordinator.
#ifndef MLIOT_BENCH_BENCH_CLUSTER_H_
#define MLIOT_BENCH_BENCH_CLUSTER_H_

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "mliot/v1/coordinator.grpc.pb.h"

namespace mliot::bench {

// Calls `done` every 100 ms until it is true; DeadlineExceeded naming
// `what` after `timeout_s`.
absl::Status WaitUntil(const std::function<bool()>& done, double timeout_s, const std::string& what);

class BenchCluster {
 public:
  ~BenchCluster();

  // Starts both under `dir` (logs: coordinator.log, node.log) and waits
  // until the node is registered and alive.
  absl::Status Start(const std::string& dir);

  v1::Coordinator::Stub& coordinator() { return *stub_; }
  absl::StatusOr<v1::TaskInfo> Task(const std::string& task);
  std::vector<v1::VersionStatus> Versions(const std::string& task);
  // The version serving (or pinned) now; 0 when none.
  int64_t Serving(const std::string& task);
  // The node as the coordinator lists it.
  absl::StatusOr<v1::NodeSummary> Node();
  pid_t node_pid() const { return node_; }

 private:
  std::string address_;
  pid_t coordinator_ = 0;
  pid_t node_ = 0;
  std::unique_ptr<v1::Coordinator::Stub> stub_;
};

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_BENCH_CLUSTER_H_
