// Coordinator: the Device Selection Layer (paper §4.1) as a gRPC service.
//
//   nodes    register, then heart-beat every second with metrics and task
//            states; each answer is the set of tasks the node should run
//   submit   validates the YAML spec (errors name the field), stores the
//            data files it names, places the task by its device policy or
//            answers no with one reason per node; nothing is stored for a
//            refused or invalid task
//   failover a node silent for --heartbeat-timeout-s is dead: its tasks are
//            placed again on eligible live nodes, which serve the latest
//            bundle the coordinator stores, without re-training
//   state    SQLite (coord/store.h) plus files under the data directory:
//            data/<task>/... and bundles/<task>/<version>/...; a coordinator
//            restarted on the same directory recovers nodes, tasks and
//            placements, and gives every known node one timeout to return
//
// Thread-safety: the service methods run on gRPC's threads; state is
// guarded by one mutex; the failover loop runs on its own thread.
#ifndef MLIOT_COORD_COORDINATOR_H_
#define MLIOT_COORD_COORDINATOR_H_

#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "auth/authorizer.h"
#include "auth/credentials.h"
#include "auth/roles.h"
#include "common/clock.h"
#include "common/grpc_util.h"
#include "coord/node_registry.h"
#include "coord/store.h"
#include "frontend/frontend.h"
#include "metrics/metrics.h"
#include "mliot/v1/node.pb.h"
#include "mliot/v1/coordinator.grpc.pb.h"

namespace mliot {

struct CoordinatorOptions {
  std::string listen = "127.0.0.1:7070";
  // The protocol front end (Open Inference Protocol, /metrics, the
  // dashboard): HTTP here, its v2 gRPC on the next port. "": the gRPC port
  // + 1 on the same host (any free ports when taken).
  std::string http_listen;
  std::string data_dir = ".mliot";
  double heartbeat_timeout_s = 5;
  int heartbeat_interval_ms = 1000;
  // A connection with no call for this long is closed (its client
  // reconnects on its next call). Nodes call every second, so this only
  // reclaims connections whose peer vanished without closing them, e.g. a
  // device that lost power: the coordinator sends no keep-alive pings.
  int connection_idle_ms = 60000;
  TlsOptions tls;
  // Where admin.token and join.token are written (default: data_dir);
  // `mliot up` puts them at the top of its data directory.
  std::string credentials_dir;
  // How long a task's old token keeps working after `mliot token rotate`
  // when the call names no grace period.
  double token_grace_s = 60;
};

// Heartbeat is an asynchronous method served by one thread that polls its
// own completion queue (ServeHeartbeats): the thread that reads a heartbeat
// off the socket also answers it, so a heartbeat costs no hand-off between
// threads. The other methods are synchronous.
class CoordinatorService final : public v1::Coordinator::WithAsyncMethod_Heartbeat<v1::Coordinator::Service> {
 public:
  CoordinatorService(CoordinatorOptions options, const Clock* clock = RealClock());
  ~CoordinatorService() override;

  // Opens the store, restores nodes and tasks, starts the failover loop.
  absl::Status Init();
  void Shutdown();

  grpc::Status RegisterNode(grpc::ServerContext*, const v1::RegisterNodeRequest*,
                            v1::RegisterNodeResponse*) override;
  grpc::Status UploadBundle(grpc::ServerContext*, grpc::ServerReader<v1::FileChunk>*,
                            v1::UploadBundleResponse*) override;
  grpc::Status DownloadBundle(grpc::ServerContext*, const v1::DownloadRequest*,
                              grpc::ServerWriter<v1::FileChunk>*) override;
  grpc::Status DownloadData(grpc::ServerContext*, const v1::DownloadRequest*,
                            grpc::ServerWriter<v1::FileChunk>*) override;
  grpc::Status Submit(grpc::ServerContext*, const v1::SubmitRequest*, v1::SubmitResponse*) override;
  grpc::Status ListNodes(grpc::ServerContext*, const v1::ListNodesRequest*, v1::ListNodesResponse*) override;
  grpc::Status ListTasks(grpc::ServerContext*, const v1::ListTasksRequest*, v1::ListTasksResponse*) override;
  grpc::Status GetTask(grpc::ServerContext*, const v1::GetTaskRequest*, v1::TaskInfo*) override;
  grpc::Status Cancel(grpc::ServerContext*, const v1::CancelRequest*, v1::CancelResponse*) override;
  grpc::Status ListVersions(grpc::ServerContext*, const v1::ListVersionsRequest*,
                            v1::ListVersionsResponse*) override;
  grpc::Status Rollback(grpc::ServerContext*, const v1::RollbackRequest*, v1::RollbackResponse*) override;
  grpc::Status Pin(grpc::ServerContext*, const v1::PinRequest*, v1::PinResponse*) override;
  grpc::Status RotateToken(grpc::ServerContext*, const v1::RotateTokenRequest*, v1::RotateTokenResponse*) override;
  grpc::Status RevokeNode(grpc::ServerContext*, const v1::RevokeNodeRequest*, v1::RevokeNodeResponse*) override;

  // For the authorizer (auth/authorizer.h) of the coordinator's server: the
  // identity a token hash stands for, whether a task is placed on a node,
  // whether a node's credentials were revoked.
  std::optional<auth::Identity> IdentityOf(const std::string& token_sha256);
  // The serving worker of a task, for the protocol front end (which proxies
  // to it); NotFound when the task is unknown or not serving.
  absl::StatusOr<std::string> ServingAddressOf(const std::string& task) const;
  std::vector<std::string> ServingTasks() const;
  // The coordinator's own Prometheus families (placements, heartbeats, nodes).
  std::vector<prometheus::MetricFamily> MetricFamilies() const;
  bool NodeHasTask(const std::string& node, const std::string& task) const;
  bool NodeRevoked(const std::string& node) const;
  const auth::CoordinatorSecrets& secrets() const { return *secrets_; }

  // Answers heartbeats arriving on `cq` until the server and then `cq` are
  // shut down; returns once `cq` is drained. Run on one thread per queue.
  void ServeHeartbeats(grpc::ServerCompletionQueue* cq);

  // One failover pass (also run every 250 ms by the loop); public for tests.
  void CheckNodes();

 private:
  void HandleHeartbeat(const v1::HeartbeatRequest& request, v1::HeartbeatResponse* response);

  struct TaskEntry {
    TaskRecord record;
    std::string require, prefer;
    bool image = false;
    double budget_s = 60;
    std::string serving_address;  // from the node's heartbeat
    int64_t stored_version = 0;   // newest complete bundle under bundles/<task>/
    int64_t keep = 5;             // the spec's versions.keep / keep_days
    double keep_days = 0;
    // The node's last report: versions, events, disk use, rollbacks done.
    v1::TaskStatus reported;
    int64_t stored_bytes = 0;     // bundles/<task>/ here
    std::deque<std::string> events;  // the coordinator's own (commands, retention)
  };
  void EventLocked(TaskEntry& task, const std::string& text) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Retention over bundles/<task>/ (never the serving, pinned or newest version).
  void RetainLocked(TaskEntry& task) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Asks the node running `task` to heartbeat now (best effort, in the background).
  void WakeNode(const std::string& node);
  // The versions of a task: the node's report merged with the stored copies.
  std::vector<v1::VersionStatus> VersionsLocked(const TaskEntry& task) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reads the newest stored version from disk; TaskEntry::stored_version
  // caches it so heartbeats do no directory listing.
  int64_t StoredVersion(const std::string& task) const;
  // Places `task` (mu_ held); updates and persists the record.
  bool PlaceLocked(TaskEntry& task, const std::string& exclude, v1::SubmitResponse* response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::map<std::string, int> TaskCountsLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Files task `name` under node `to` instead of `from` in tasks_by_node_
  // (either may be empty: not placed); called on every change of a task's
  // node: submit, failover, cancel.
  void MoveInIndexLocked(const std::string& name, const std::string& from, const std::string& to)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FillInfo(const TaskEntry& task, v1::TaskInfo* info) const;
  void FailoverLoop();
  // Files a task's current (and rotated-out) token hashes for IdentityOf.
  void IndexTokens(const TaskRecord& record);
  void UnindexTokens(const TaskRecord& record);

  CoordinatorOptions o_;
  const Clock* clock_;
  NodeRegistry registry_;
  std::unique_ptr<Store> store_;
  mutable absl::Mutex mu_;
  std::map<std::string, TaskEntry> tasks_ ABSL_GUARDED_BY(mu_);
  // Task names by the node they are placed on: a heartbeat's answer and
  // each node's task count come from here, not from a walk over all tasks.
  std::map<std::string, std::set<std::string>> tasks_by_node_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> stop_{false};
  std::thread failover_;
  std::atomic<int64_t> placed_{0}, refused_{0}, heartbeats_{0};

  std::optional<auth::CoordinatorSecrets> secrets_;
  // Credential hashes -> who; kept apart from mu_ so that a call's check
  // never waits on a store write.
  mutable absl::Mutex auth_mu_;
  struct Holder {
    auth::Identity identity;
    int64_t valid_until_unix_ms = 0;  // 0: no end
  };
  absl::flat_hash_map<std::string, Holder> holders_ ABSL_GUARDED_BY(auth_mu_);
  std::map<std::string, NodeCredentialRecord> node_credentials_ ABSL_GUARDED_BY(auth_mu_);
};

// The coordinator as a running gRPC server.
class Coordinator {
 public:
  explicit Coordinator(CoordinatorOptions options, const Clock* clock = RealClock());
  ~Coordinator();
  // Opens the store and listens. Turns Abseil's mutex deadlock detection
  // off for the whole process (a debug aid that costs ~7 % at 10k nodes).
  absl::Status Start();
  void Shutdown();
  const std::string& address() const { return address_; }  // with the bound port
  // The protocol front end's endpoints (after Start).
  v1::Endpoints endpoints() const;
  CoordinatorService& service() { return *service_; }

 private:
  CoordinatorOptions o_;
  std::unique_ptr<CoordinatorService> service_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<grpc::Server> server_;
  metrics::Exposition exposition_{"coordinator"};
  std::unique_ptr<v2::Frontend> frontend_;
  std::unique_ptr<grpc::ServerCompletionQueue> heartbeat_cq_;
  std::thread heartbeat_thread_;  // one: a second thread on the queue costs more than it adds
  std::string address_;
};

}  // namespace mliot

#endif  // MLIOT_COORD_COORDINATOR_H_
