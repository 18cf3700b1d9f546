// Store: the coordinator's durable state in SQLite (WAL mode), so that a
// coordinator restarted on the same data directory recovers nodes, tasks and
// placements. Bundles and task data are files under the data directory; the
// store records where they are.
//
//   MLIOT_ASSIGN_OR_RETURN(auto store, Store::Open(data_dir + "/coordinator.db"));
//   MLIOT_RETURN_IF_ERROR(store->PutTask(task));
//
// Schema changes are numbered migrations applied in order at Open() and
// recorded in `PRAGMA user_version`; opening a database written by a newer
// mliot is FailedPrecondition. Every method is one transaction: a crash
// leaves either the old or the new state, never half of a write.
//
// Thread-safety: all methods are thread-safe (one connection, one mutex).
#ifndef MLIOT_COORD_STORE_H_
#define MLIOT_COORD_STORE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mliot {

struct NodeRecord {
  std::string name;
  std::string address;  // the node agent's gRPC address
  int cores = 0;
  double memory_mb = 0;
  bool gpu = false;
  std::string arch;
  double rtt_ms = 0;
  std::map<std::string, std::string> labels;
  std::string isolation;  // "cgroup-v2", "cgroup-v1", "none: <reason>"
  // Benchmark results (see coord/placement.h NodeBenchmark).
  double image_predict_ms = 0;
  double sensor_predict_ms = 0;
  double train_speed = 1;
  int64_t registered_unix_ms = 0;
  int64_t last_seen_unix_ms = 0;
};

enum class TaskState { kPending, kTraining, kServing, kFailed };
const char* TaskStateName(TaskState state);  // "pending", "training", ...
// The inverse of TaskStateName; InvalidArgument listing the valid names.
absl::StatusOr<TaskState> ParseTaskState(absl::string_view name);

struct TaskRecord {
  std::string name;
  std::string spec_yaml;  // as submitted
  std::string node;       // placement; empty while pending
  TaskState state = TaskState::kPending;
  int64_t version = 0;  // the bundle version serving (as last reported)
  // The bearer token for predict/feedback is never stored: its SHA-256 is,
  // and the coordinator derives the token itself from its secret key and
  // the generation (auth/credentials.h). Rows from before keep their hash
  // with generation -1 (the token cannot be shown again; rotate it).
  int64_t token_generation = 0;
  std::string token_sha256;
  std::string previous_token_sha256;  // after a rotation, accepted until...
  int64_t previous_valid_until_unix_ms = 0;
  std::string ranking;  // JSON list of eligible nodes at placement, best first
  std::string message;  // last error or note, for `mliot tasks`
  int64_t created_unix_ms = 0;
  int64_t updated_unix_ms = 0;
  // Model lifecycle commands (src/lifecycle/), carried to the node.
  int64_t pinned_version = 0;  // 0: not pinned
  int64_t rollback_to = 0;     // the last rollback's target
  int64_t rollback_seq = 0;    // how many rollbacks were asked for
};

// A node's credential (auth/roles.h): only its hash is kept.
struct NodeCredentialRecord {
  std::string name;
  std::string token_sha256;
  bool revoked = false;
  int64_t issued_unix_ms = 0;
};

// Errors from every method: Unavailable when the database stayed locked by
// another connection past the busy timeout (retry); DataLoss when a stored row
// cannot be read back (unknown task state, malformed labels) or the file is
// not a SQLite database; Internal for other SQLite failures. Messages name
// the file and the operation.
class Store {
 public:
  // Opens or creates the database at `path` (parent directories are created),
  // then applies pending migrations. FailedPrecondition when the file was
  // written by a newer schema; DataLoss when it is not a SQLite database (the
  // file is left untouched). ":memory:" opens a private in-memory store.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const std::string& path);
  ~Store();

  // Insert or replace by name; InvalidArgument for an empty name or labels
  // that are not valid UTF-8.
  absl::Status PutNode(const NodeRecord& node);
  absl::StatusOr<std::vector<NodeRecord>> ListNodes();  // ordered by name
  absl::Status DeleteNode(const std::string& name);     // NotFound when absent

  absl::Status PutTask(const TaskRecord& task);                 // insert or replace by name
  absl::StatusOr<TaskRecord> GetTask(const std::string& name);  // NotFound
  absl::StatusOr<std::vector<TaskRecord>> ListTasks();          // ordered by name
  absl::Status DeleteTask(const std::string& name);             // NotFound when absent

  absl::Status PutNodeCredential(const NodeCredentialRecord& credential);  // insert or replace by name
  absl::StatusOr<std::vector<NodeCredentialRecord>> ListNodeCredentials();

  // The schema version this build writes.
  static int SchemaVersion();

 private:
  Store() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mliot

#endif  // MLIOT_COORD_STORE_H_
