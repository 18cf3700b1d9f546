// NodeAgent: the Training-Serving Layer on one device (paper §4.2).
//
// Start() benchmarks the device, serves the Node health endpoint and
// registers with the coordinator. Run() then heart-beats every second with
// the node's metrics and task states; each answer is the full set of tasks
// the node should run, and the agent reconciles:
//   * a new task gets a directory <data_dir>/tasks/<task>/ with its spec,
//     token and data files (downloaded from the coordinator), or, when the
//     coordinator already stores a bundle for it (it ran elsewhere before),
//     that bundle, which is served without re-training;
//   * it starts a training worker at once and a serving worker as soon as
//     the bundle has a version, each a `mliot worker` child process under
//     the node's resource limits, restarted with back-off if it crashes;
//   * every new bundle version is uploaded to the coordinator;
//   * tasks no longer assigned are stopped.
// When the coordinator is unreachable the workers keep serving and the agent
// retries; if the coordinator forgot the node (a restart) it registers again.
#ifndef MLIOT_NODE_AGENT_H_
#define MLIOT_NODE_AGENT_H_

#include <atomic>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "auth/authorizer.h"
#include "lifecycle/version_catalog.h"
#include "common/grpc_util.h"
#include "mliot/v1/coordinator.grpc.pb.h"
#include "node/metrics.h"
#include "node/node_frontend.h"
#include "node/resource_limits.h"
#include "node/serve_cost.h"
#include "node/supervisor.h"
#include "testbed/delay_proxy.h"

namespace mliot {

struct AgentOptions {
  std::string coordinator;   // host:port
  std::string listen = "127.0.0.1:0";
  // The protocol front end's HTTP endpoint (Open Inference Protocol,
  // /metrics); its v2 gRPC port is the next one. "": the node's gRPC port
  // + 1 on the same host (any free ports when that is 0).
  std::string http_listen;
  std::string data_dir;
  std::string name;
  std::map<std::string, std::string> labels;
  int cores = 0;             // 0: detected
  double memory_mb = 0;      // 0: detected
  double rtt_ms = 0;
  bool gpu = false;
  std::string benchmark = "quick";
  TlsOptions tls;
  // The coordinator's join token (DATA_DIR/join.token there), used once:
  // registering with it gives this node its own credential, kept in
  // data_dir/node.token (0600). Not needed with a node certificate.
  std::string join_token_file;
  std::string self_exe;      // the mliot binary workers run as
  double worker_cpus = 0;    // per-worker CPU limit (0: the declared cores)
  int64_t worker_memory_mb = 0;  // per-worker memory limit (0: none)
  int heartbeat_ms = 1000;
  // The emulated testbed (testbed/testbed.h): a delaying proxy in front of
  // every port this node and its serving workers listen on (0: none), and
  // the control-group prefix its workers' groups go under (default
  // "mliot-NAME"; the testbed nests them in the node's own group).
  double added_rtt_ms = 0;
  std::string cgroup_prefix;
};

class NodeAgent {
 public:
  explicit NodeAgent(AgentOptions options);
  ~NodeAgent();

  absl::Status Start();
  // Heart-beats and reconciles until `stop`; then stops every worker.
  void Run(const std::atomic<bool>& stop);

  const std::string& address() const { return address_; }
  v1::Endpoints endpoints() const { return info_.endpoints(); }
  std::string isolation() const { return limiter_->isolation(); }

 private:
  struct TaskRun {
    v1::TaskAssignment assignment;
    std::string dir;
    bool prepared = false;
    int64_t uploaded_version = 0;
    std::string error;
    bool image = false;  // image data: its requests cost the node's image figure
    // Lifecycle (src/lifecycle/): the catalog of versions, the last rollback
    // command carried out (persisted in rollback.seq), the agent's events.
    std::unique_ptr<VersionCatalog> catalog;
    int64_t rollback_seq = 0;
    int64_t rollback_version = 0;
    std::deque<std::string> events;
    std::string last_logged;  // the serving worker's newest event already in this node's log
    std::chrono::steady_clock::time_point retention_due{};
    std::string tokens_written;  // the `tokens` file's content for the serving worker
  };
  // The device benchmark, run in a child process when self_exe is set.
  absl::StatusOr<v1::NodeBenchmark> Benchmark();
  absl::Status Register();
  // Reads data_dir/node.token, and the join token when it exists.
  absl::Status LoadCredentials();
  // Reads the join token once its file exists (OK while it does not yet);
  // it becomes the bearer while the node has no credential of its own.
  absl::Status LoadJoinTokenLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(cred_mu_);
  // Adds this node's credential to a call to the coordinator.
  void Authorize(grpc::ClientContext& ctx);
  // Whether `sha256` is the hash of the coordinator's wake token for this node.
  bool IsCoordinator(const std::string& sha256);
  absl::Status Prepare(TaskRun& run);
  void Reconcile(const v1::HeartbeatResponse& response);
  void Drive(TaskRun& run);
  v1::TaskStatus StatusOf(const TaskRun& run) const;
  // The heartbeat's metrics: the node's, each worker's, what a request costs.
  void FillMetrics(v1::NodeMetrics* m);
  absl::Status UploadBundle(TaskRun& run, int64_t version);
  // Fetches a stored version from the coordinator into the bundle directory
  // (and data/ when the node has none).
  absl::Status DownloadVersion(TaskRun& run, int64_t version);
  // Carries out the assignment's pin and rollback commands; retention.
  void ApplyLifecycle(TaskRun& run);
  void Event(TaskRun& run, const std::string& text);
  void WakeUp();

  AgentOptions o_;
  std::string address_;
  v1::NodeInfo info_;
  std::unique_ptr<ResourceLimiter> limiter_;
  std::unique_ptr<Supervisor> supervisor_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Coordinator::Stub> coordinator_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<DelayProxy> proxy_;  // with added_rtt_ms
  std::unique_ptr<grpc::Service> node_service_;
  std::unique_ptr<NodeFrontend> frontend_;
  MetricsSampler sampler_;
  ServeCost serve_cost_;  // fed from each serving worker's serve.stats
  std::map<std::string, TaskRun> tasks_;
  bool registered_ = false;
  absl::Mutex cred_mu_;
  std::string bearer_ ABSL_GUARDED_BY(cred_mu_);        // node token, else join token
  bool has_node_token_ ABSL_GUARDED_BY(cred_mu_) = false;
  std::string join_token_ ABSL_GUARDED_BY(cred_mu_);
  std::string wake_sha256_ ABSL_GUARDED_BY(cred_mu_);
  // The Node service's Wake ends the heartbeat interval early.
  // After a rollback or pin, heartbeats follow every 100 ms for a while, so
  // the coordinator hears at once that the node serves the version.
  int fast_heartbeats_ = 0;
  absl::Mutex wake_mu_;
  bool wake_ ABSL_GUARDED_BY(wake_mu_) = false;
};

}  // namespace mliot

#endif  // MLIOT_NODE_AGENT_H_
