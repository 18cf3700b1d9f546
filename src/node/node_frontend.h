// NodeFrontend: a node's protocol endpoints (frontend/frontend.h) and its
// Prometheus metrics. The agent hands it each heartbeat's view (the tasks'
// statuses, the node's metrics); from it the front end knows which task's
// serving worker listens where, whether the node is ready, and what
// /metrics reports: the workers' request metrics (read from each task's
// serve.metrics at scrape time) and the node's own figures.
#ifndef MLIOT_NODE_NODE_FRONTEND_H_
#define MLIOT_NODE_NODE_FRONTEND_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_util.h"
#include "frontend/frontend.h"
#include "metrics/metrics.h"
#include "mliot/v1/node.pb.h"

namespace mliot {

class NodeFrontend {
 public:
  // `http_listen`: HOST:PORT of the HTTP endpoint; its v2 gRPC port is the
  // next one (any free ones with port 0).
  // `derived`: the address was not asked for; a taken port is replaced by
  // any free one.
  static absl::StatusOr<std::unique_ptr<NodeFrontend>> Start(const std::string& node, const std::string& http_listen,
                                                             bool derived, const TlsOptions& tls);

  // The view of one heartbeat: each task's status and directory.
  void Update(const std::vector<v1::TaskStatus>& tasks, const std::map<std::string, std::string>& task_dirs,
              const v1::NodeMetrics& metrics);
  void CountHeartbeat(bool ok);

  v1::Endpoints endpoints() const;
  bool ready() const;

 private:
  NodeFrontend() = default;
  std::vector<prometheus::MetricFamily> Collect() const;

  std::string node_;
  metrics::Exposition exposition_{"node"};
  std::unique_ptr<v2::Frontend> frontend_;
  mutable absl::Mutex mu_;
  std::map<std::string, std::string> routes_ ABSL_GUARDED_BY(mu_);     // serving task -> worker address
  std::map<std::string, std::string> task_dirs_ ABSL_GUARDED_BY(mu_);  // every task -> its directory
  std::vector<v1::TaskStatus> tasks_ ABSL_GUARDED_BY(mu_);
  v1::NodeMetrics metrics_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> heartbeats_ok_{0}, heartbeats_failed_{0};
};

}  // namespace mliot

#endif  // MLIOT_NODE_NODE_FRONTEND_H_
