#include "coord/store.h"

#include <sqlite3.h>

#include <filesystem>
#include <iterator>
#include <map>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "auth/secrets.h"
#include "common/status_util.h"
#include "nlohmann/json.hpp"

namespace mliot {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Numbered schema migrations, applied in order; migration i (1-based) moves
// the database from user_version i-1 to i. Never edit a released migration:
// append a new one.
constexpr const char* kMigrations[] = {
    // 1: nodes and tasks.
    R"sql(
      CREATE TABLE nodes (
        name               TEXT PRIMARY KEY NOT NULL,
        address            TEXT NOT NULL,
        cores              INTEGER NOT NULL,
        memory_mb          REAL NOT NULL,
        gpu                INTEGER NOT NULL,
        arch               TEXT NOT NULL,
        rtt_ms             REAL NOT NULL,
        labels             TEXT NOT NULL DEFAULT '{}',
        isolation          TEXT NOT NULL,
        image_predict_ms   REAL NOT NULL,
        sensor_predict_ms  REAL NOT NULL,
        train_speed        REAL NOT NULL,
        registered_unix_ms INTEGER NOT NULL,
        last_seen_unix_ms  INTEGER NOT NULL
      );
      CREATE TABLE tasks (
        name            TEXT PRIMARY KEY NOT NULL,
        spec_yaml       TEXT NOT NULL,
        node            TEXT NOT NULL,
        state           TEXT NOT NULL,
        version         INTEGER NOT NULL,
        token           TEXT NOT NULL,
        ranking         TEXT NOT NULL,
        message         TEXT NOT NULL,
        created_unix_ms INTEGER NOT NULL,
        updated_unix_ms INTEGER NOT NULL
      );
    )sql",
    // 2: the coordinator looks up the tasks placed on a node when the node
    // disappears.
    R"sql(
      CREATE INDEX tasks_by_node ON tasks(node);
    )sql",
    // 3: model lifecycle (src/lifecycle/): a pinned version and the last
    // rollback command, which must survive a restart.
    R"sql(
      ALTER TABLE tasks ADD COLUMN pinned_version INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE tasks ADD COLUMN rollback_to INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE tasks ADD COLUMN rollback_seq INTEGER NOT NULL DEFAULT 0;
    )sql",
    // 4: least privilege (src/auth/): task tokens kept as hashes (the old
    // plain `token` column is emptied as rows are rewritten), and node
    // credentials.
    R"sql(
      ALTER TABLE tasks ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE tasks ADD COLUMN token_sha256 TEXT NOT NULL DEFAULT '';
      ALTER TABLE tasks ADD COLUMN previous_token_sha256 TEXT NOT NULL DEFAULT '';
      ALTER TABLE tasks ADD COLUMN previous_valid_until_ms INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE node_credentials (
        name           TEXT PRIMARY KEY NOT NULL,
        token_sha256   TEXT NOT NULL,
        revoked        INTEGER NOT NULL,
        issued_unix_ms INTEGER NOT NULL
      );
    )sql",
};
constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr const char* kPutNodeSql = R"sql(
  INSERT INTO nodes (name, address, cores, memory_mb, gpu, arch, rtt_ms, labels, isolation,
                     image_predict_ms, sensor_predict_ms, train_speed, registered_unix_ms,
                     last_seen_unix_ms)
  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
  ON CONFLICT(name) DO UPDATE SET
    address = excluded.address, cores = excluded.cores, memory_mb = excluded.memory_mb,
    gpu = excluded.gpu, arch = excluded.arch, rtt_ms = excluded.rtt_ms,
    labels = excluded.labels, isolation = excluded.isolation,
    image_predict_ms = excluded.image_predict_ms,
    sensor_predict_ms = excluded.sensor_predict_ms, train_speed = excluded.train_speed,
    registered_unix_ms = excluded.registered_unix_ms,
    last_seen_unix_ms = excluded.last_seen_unix_ms
)sql";
constexpr const char* kListNodesSql = R"sql(
  SELECT name, address, cores, memory_mb, gpu, arch, rtt_ms, labels, isolation,
         image_predict_ms, sensor_predict_ms, train_speed, registered_unix_ms,
         last_seen_unix_ms
  FROM nodes ORDER BY name
)sql";
constexpr const char* kDeleteNodeSql = "DELETE FROM nodes WHERE name = ?1";

constexpr const char* kPutTaskSql = R"sql(
  INSERT INTO tasks (name, spec_yaml, node, state, version, token, ranking, message,
                     created_unix_ms, updated_unix_ms, pinned_version, rollback_to, rollback_seq,
                     token_generation, token_sha256, previous_token_sha256, previous_valid_until_ms)
  VALUES (?1, ?2, ?3, ?4, ?5, '', ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
  ON CONFLICT(name) DO UPDATE SET
    spec_yaml = excluded.spec_yaml, node = excluded.node, state = excluded.state,
    version = excluded.version, token = excluded.token, ranking = excluded.ranking,
    message = excluded.message, created_unix_ms = excluded.created_unix_ms,
    updated_unix_ms = excluded.updated_unix_ms, pinned_version = excluded.pinned_version,
    rollback_to = excluded.rollback_to, rollback_seq = excluded.rollback_seq,
    token_generation = excluded.token_generation, token_sha256 = excluded.token_sha256,
    previous_token_sha256 = excluded.previous_token_sha256,
    previous_valid_until_ms = excluded.previous_valid_until_ms
)sql";
constexpr const char* kGetTaskSql = R"sql(
  SELECT name, spec_yaml, node, state, version, token, ranking, message, created_unix_ms,
         updated_unix_ms, pinned_version, rollback_to, rollback_seq, token_generation, token_sha256,
         previous_token_sha256, previous_valid_until_ms
  FROM tasks WHERE name = ?1
)sql";
constexpr const char* kListTasksSql = R"sql(
  SELECT name, spec_yaml, node, state, version, token, ranking, message, created_unix_ms,
         updated_unix_ms, pinned_version, rollback_to, rollback_seq, token_generation, token_sha256,
         previous_token_sha256, previous_valid_until_ms
  FROM tasks ORDER BY name
)sql";
constexpr const char* kDeleteTaskSql = "DELETE FROM tasks WHERE name = ?1";
constexpr const char* kPutNodeCredentialSql = R"sql(
  INSERT INTO node_credentials (name, token_sha256, revoked, issued_unix_ms) VALUES (?1, ?2, ?3, ?4)
  ON CONFLICT(name) DO UPDATE SET
    token_sha256 = excluded.token_sha256, revoked = excluded.revoked, issued_unix_ms = excluded.issued_unix_ms
)sql";
constexpr const char* kListNodeCredentialsSql =
    "SELECT name, token_sha256, revoked, issued_unix_ms FROM node_credentials ORDER BY name";

constexpr TaskState kAllStates[] = {TaskState::kPending, TaskState::kTraining, TaskState::kServing,
                                    TaskState::kFailed};

// Maps a SQLite result code onto what the caller should do about it.
absl::Status SqliteError(sqlite3* db, int rc, const std::string& path, absl::string_view op) {
  const char* detail = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  const std::string message =
      absl::StrCat("store ", path, ": ", op, ": ", detail, " (sqlite code ", rc, ")");
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::UnavailableError(message);
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
      return absl::DataLossError(message);
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return absl::FailedPreconditionError(message);
    case SQLITE_FULL:
      return absl::ResourceExhaustedError(message);
    default:
      return absl::InternalError(message);
  }
}

// Resets a cached statement and drops its bindings when the call is done with
// it, whichever way the call returns.
class ScopedReset {
 public:
  explicit ScopedReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~ScopedReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  sqlite3_stmt* stmt_;
};

std::string ColumnText(sqlite3_stmt* stmt, int col) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, col));
  if (text == nullptr) return std::string();
  return std::string(text, static_cast<size_t>(sqlite3_column_bytes(stmt, col)));
}

absl::StatusOr<std::string> LabelsToJson(const NodeRecord& node) {
  nlohmann::json labels = nlohmann::json::object();
  for (const auto& [key, value] : node.labels) labels[key] = value;
  try {
    return labels.dump();
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("node '", node.name, "': labels must be valid UTF-8: ", e.what()));
  }
}

absl::Status LabelsFromJson(const std::string& text, const std::string& node_name,
                            std::map<std::string, std::string>* labels) {
  const nlohmann::json parsed = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return absl::DataLossError(
        absl::StrCat("node '", node_name, "': stored labels are not a JSON object: ", text));
  }
  for (const auto& [key, value] : parsed.items()) {
    if (!value.is_string()) {
      return absl::DataLossError(absl::StrCat("node '", node_name, "': stored label '", key,
                                              "' is not a string: ", value.dump()));
    }
    (*labels)[key] = value.get<std::string>();
  }
  return absl::OkStatus();
}

}  // namespace

const char* TaskStateName(TaskState state) {
  switch (state) {
    case TaskState::kPending:
      return "pending";
    case TaskState::kTraining:
      return "training";
    case TaskState::kServing:
      return "serving";
    case TaskState::kFailed:
      return "failed";
  }
  return "unknown";
}

absl::StatusOr<TaskState> ParseTaskState(absl::string_view name) {
  std::vector<std::string> valid;
  for (TaskState state : kAllStates) {
    if (name == TaskStateName(state)) return state;
    valid.emplace_back(TaskStateName(state));
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown task state '", std::string(name),
                                                 "'; valid states: ", absl::StrJoin(valid, ", ")));
}

struct Store::Impl {
  std::string path;
  absl::Mutex mu;
  Db db ABSL_GUARDED_BY(mu);
  // Cached statements, prepared once at Open(); destroyed before `db`.
  Stmt put_node ABSL_GUARDED_BY(mu);
  Stmt list_nodes ABSL_GUARDED_BY(mu);
  Stmt delete_node ABSL_GUARDED_BY(mu);
  Stmt put_task ABSL_GUARDED_BY(mu);
  Stmt get_task ABSL_GUARDED_BY(mu);
  Stmt list_tasks ABSL_GUARDED_BY(mu);
  Stmt delete_task ABSL_GUARDED_BY(mu);
  Stmt put_node_credential ABSL_GUARDED_BY(mu);
  Stmt list_node_credentials ABSL_GUARDED_BY(mu);

  absl::Status Error(int rc, absl::string_view op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    return SqliteError(db.get(), rc, path, op);
  }
  absl::Status Exec(const char* sql, absl::string_view op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::StatusOr<Stmt> Prepare(const char* sql, absl::string_view op)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Runs a statement that returns one integer (a PRAGMA query).
  absl::StatusOr<int64_t> QueryInt(const char* sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status Configure() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status ApplyMigration(int version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // The body of ApplyMigration, run inside its transaction.
  absl::Status MigrateInTransaction(int version) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // Runs a write statement whose parameters are bound; returns sqlite3_changes.
  absl::StatusOr<int> StepWrite(sqlite3_stmt* stmt, absl::string_view op)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::StatusOr<TaskRecord> ReadTask(sqlite3_stmt* stmt) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
};

absl::Status Store::Impl::Exec(const char* sql, absl::string_view op) {
  const int rc = sqlite3_exec(db.get(), sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return Error(rc, op);
  return absl::OkStatus();
}

absl::StatusOr<Stmt> Store::Impl::Prepare(const char* sql, absl::string_view op) {
  sqlite3_stmt* raw = nullptr;
  const int rc = sqlite3_prepare_v3(db.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  Stmt stmt(raw);
  if (rc != SQLITE_OK) return Error(rc, absl::StrCat("prepare ", op));
  return stmt;
}

absl::StatusOr<int64_t> Store::Impl::QueryInt(const char* sql) {
  MLIOT_ASSIGN_OR_RETURN(Stmt stmt, Prepare(sql, sql));
  const int rc = sqlite3_step(stmt.get());
  if (rc != SQLITE_ROW) return Error(rc, sql);
  return sqlite3_column_int64(stmt.get(), 0);
}

absl::Status Store::Impl::Configure() {
  sqlite3_extended_result_codes(db.get(), 1);
  const int rc = sqlite3_busy_timeout(db.get(), 5000);
  if (rc != SQLITE_OK) return Error(rc, "set busy timeout");
  // The first statement reads the file header, so a file that is not a
  // database fails here, before anything is written to it.
  MLIOT_ASSIGN_OR_RETURN(Stmt wal, Prepare("PRAGMA journal_mode=WAL", "enable WAL journal"));
  const int step = sqlite3_step(wal.get());
  if (step != SQLITE_ROW) return Error(step, "enable WAL journal");
  const std::string mode = ColumnText(wal.get(), 0);
  if (mode != "wal" && !(path == ":memory:" && mode == "memory")) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", path, ": cannot enable the WAL journal (journal_mode is '", mode,
                     "'); the file system may not support shared memory"));
  }
  MLIOT_RETURN_IF_ERROR(Exec("PRAGMA synchronous=NORMAL", "set synchronous=NORMAL"));
  MLIOT_RETURN_IF_ERROR(Exec("PRAGMA foreign_keys=ON", "enable foreign keys"));
  return absl::OkStatus();
}

absl::Status Store::Impl::ApplyMigration(int version) {
  // IMMEDIATE takes the write lock now, so two processes opening the same
  // file cannot both apply the migration.
  MLIOT_RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE", absl::StrCat("begin migration ", version)));
  const absl::Status status = MigrateInTransaction(version);
  if (!status.ok() && !sqlite3_get_autocommit(db.get())) {
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
  return status;
}

absl::Status Store::Impl::MigrateInTransaction(int version) {
  MLIOT_ASSIGN_OR_RETURN(const int64_t current, QueryInt("PRAGMA user_version"));
  if (current < version) {  // else another process got there first
    MLIOT_RETURN_IF_ERROR(
        Exec(kMigrations[version - 1], absl::StrCat("apply schema migration ", version)));
    // PRAGMA takes no bound parameters; `version` is our own integer.
    const std::string set_version = absl::StrCat("PRAGMA user_version = ", version);
    MLIOT_RETURN_IF_ERROR(Exec(set_version.c_str(), "record schema version"));
  }
  return Exec("COMMIT", absl::StrCat("commit migration ", version));
}

absl::Status Store::Impl::Migrate() {
  MLIOT_ASSIGN_OR_RETURN(const int64_t current, QueryInt("PRAGMA user_version"));
  if (current > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", path, " has schema version ", current,
                     ", newer than the version this mliot writes (", kSchemaVersion,
                     "); upgrade mliot or use another data directory"));
  }
  for (int version = static_cast<int>(current) + 1; version <= kSchemaVersion; ++version) {
    MLIOT_RETURN_IF_ERROR(ApplyMigration(version));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> Store::Impl::StepWrite(sqlite3_stmt* stmt, absl::string_view op) {
  const int rc = sqlite3_step(stmt);
  if (rc != SQLITE_DONE) return Error(rc, op);
  return sqlite3_changes(db.get());
}

absl::StatusOr<TaskRecord> Store::Impl::ReadTask(sqlite3_stmt* stmt) {
  TaskRecord task;
  task.name = ColumnText(stmt, 0);
  task.spec_yaml = ColumnText(stmt, 1);
  task.node = ColumnText(stmt, 2);
  const std::string state = ColumnText(stmt, 3);
  absl::StatusOr<TaskState> parsed = ParseTaskState(state);
  if (!parsed.ok()) {
    return absl::DataLossError(
        absl::StrCat("store ", path, ": task '", task.name,
                     "' has an unreadable state: ", parsed.status().message()));
  }
  task.state = *parsed;
  task.version = sqlite3_column_int64(stmt, 4);
  const std::string legacy_token = ColumnText(stmt, 5);
  task.ranking = ColumnText(stmt, 6);
  task.message = ColumnText(stmt, 7);
  task.created_unix_ms = sqlite3_column_int64(stmt, 8);
  task.updated_unix_ms = sqlite3_column_int64(stmt, 9);
  task.pinned_version = sqlite3_column_int64(stmt, 10);
  task.rollback_to = sqlite3_column_int64(stmt, 11);
  task.rollback_seq = sqlite3_column_int64(stmt, 12);
  task.token_generation = sqlite3_column_int64(stmt, 13);
  task.token_sha256 = ColumnText(stmt, 14);
  task.previous_token_sha256 = ColumnText(stmt, 15);
  task.previous_valid_until_unix_ms = sqlite3_column_int64(stmt, 16);
  if (task.token_sha256.empty() && !legacy_token.empty()) {
    // Written before schema 4: keep the token's hash; the plain one goes at the next write.
    task.token_sha256 = auth::Sha256Hex(legacy_token);
    task.token_generation = -1;
  }
  return task;
}

int Store::SchemaVersion() { return kSchemaVersion; }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("store path is empty");
  if (path != ":memory:") {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) {
      std::error_code ec;
      std::filesystem::create_directories(parent, ec);
      if (ec) {
        return absl::FailedPreconditionError(absl::StrCat(
            "store ", path, ": cannot create directory ", parent.string(), ": ", ec.message()));
      }
    }
  }

  auto impl = std::make_unique<Impl>();
  impl->path = path;
  {
    absl::MutexLock lock(&impl->mu);
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(
        path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
        nullptr);
    impl->db.reset(raw);  // closed on every return path, even when the open failed
    if (rc != SQLITE_OK) return impl->Error(rc, "open");
    MLIOT_RETURN_IF_ERROR(impl->Configure());
    MLIOT_RETURN_IF_ERROR(impl->Migrate());

    MLIOT_ASSIGN_OR_RETURN(impl->put_node, impl->Prepare(kPutNodeSql, "put node"));
    MLIOT_ASSIGN_OR_RETURN(impl->list_nodes, impl->Prepare(kListNodesSql, "list nodes"));
    MLIOT_ASSIGN_OR_RETURN(impl->delete_node, impl->Prepare(kDeleteNodeSql, "delete node"));
    MLIOT_ASSIGN_OR_RETURN(impl->put_task, impl->Prepare(kPutTaskSql, "put task"));
    MLIOT_ASSIGN_OR_RETURN(impl->get_task, impl->Prepare(kGetTaskSql, "get task"));
    MLIOT_ASSIGN_OR_RETURN(impl->list_tasks, impl->Prepare(kListTasksSql, "list tasks"));
    MLIOT_ASSIGN_OR_RETURN(impl->delete_task, impl->Prepare(kDeleteTaskSql, "delete task"));
    MLIOT_ASSIGN_OR_RETURN(impl->put_node_credential, impl->Prepare(kPutNodeCredentialSql, "put node credential"));
    MLIOT_ASSIGN_OR_RETURN(impl->list_node_credentials,
                           impl->Prepare(kListNodeCredentialsSql, "list node credentials"));
  }
  std::unique_ptr<Store> store(new Store());  // the constructor is private
  store->impl_ = std::move(impl);
  return store;
}

Store::~Store() = default;

namespace {

void BindText(sqlite3_stmt* stmt, int index, const std::string& value) {
  sqlite3_bind_text(stmt, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}

}  // namespace

absl::Status Store::PutNode(const NodeRecord& node) {
  if (node.name.empty()) return absl::InvalidArgumentError("node name is empty");
  MLIOT_ASSIGN_OR_RETURN(const std::string labels, LabelsToJson(node));
  absl::MutexLock lock(&impl_->mu);
  sqlite3_stmt* stmt = impl_->put_node.get();
  ScopedReset reset(stmt);
  BindText(stmt, 1, node.name);
  BindText(stmt, 2, node.address);
  sqlite3_bind_int64(stmt, 3, node.cores);
  sqlite3_bind_double(stmt, 4, node.memory_mb);
  sqlite3_bind_int(stmt, 5, node.gpu ? 1 : 0);
  BindText(stmt, 6, node.arch);
  sqlite3_bind_double(stmt, 7, node.rtt_ms);
  BindText(stmt, 8, labels);
  BindText(stmt, 9, node.isolation);
  sqlite3_bind_double(stmt, 10, node.image_predict_ms);
  sqlite3_bind_double(stmt, 11, node.sensor_predict_ms);
  sqlite3_bind_double(stmt, 12, node.train_speed);
  sqlite3_bind_int64(stmt, 13, node.registered_unix_ms);
  sqlite3_bind_int64(stmt, 14, node.last_seen_unix_ms);
  return impl_->StepWrite(stmt, absl::StrCat("put node '", node.name, "'")).status();
}

absl::StatusOr<std::vector<NodeRecord>> Store::ListNodes() {
  absl::MutexLock lock(&impl_->mu);
  sqlite3_stmt* stmt = impl_->list_nodes.get();
  ScopedReset reset(stmt);
  std::vector<NodeRecord> nodes;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    NodeRecord node;
    node.name = ColumnText(stmt, 0);
    node.address = ColumnText(stmt, 1);
    node.cores = static_cast<int>(sqlite3_column_int64(stmt, 2));
    node.memory_mb = sqlite3_column_double(stmt, 3);
    node.gpu = sqlite3_column_int(stmt, 4) != 0;
    node.arch = ColumnText(stmt, 5);
    node.rtt_ms = sqlite3_column_double(stmt, 6);
    MLIOT_RETURN_IF_ERROR(Annotate(LabelsFromJson(ColumnText(stmt, 7), node.name, &node.labels),
                                   absl::StrCat("store ", impl_->path)));
    node.isolation = ColumnText(stmt, 8);
    node.image_predict_ms = sqlite3_column_double(stmt, 9);
    node.sensor_predict_ms = sqlite3_column_double(stmt, 10);
    node.train_speed = sqlite3_column_double(stmt, 11);
    node.registered_unix_ms = sqlite3_column_int64(stmt, 12);
    node.last_seen_unix_ms = sqlite3_column_int64(stmt, 13);
    nodes.push_back(std::move(node));
  }
  if (rc != SQLITE_DONE) return impl_->Error(rc, "list nodes");
  return nodes;
}

absl::Status Store::DeleteNode(const std::string& name) {
  absl::MutexLock lock(&impl_->mu);
  sqlite3_stmt* stmt = impl_->delete_node.get();
  ScopedReset reset(stmt);
  BindText(stmt, 1, name);
  MLIOT_ASSIGN_OR_RETURN(const int changes,
                         impl_->StepWrite(stmt, absl::StrCat("delete node '", name, "'")));
  if (changes == 0) return absl::NotFoundError(absl::StrCat("node '", name, "' not found"));
  return absl::OkStatus();
}

absl::Status Store::PutTask(const TaskRecord& task) {
  if (task.name.empty()) return absl::InvalidArgumentError("task name is empty");
  absl::MutexLock lock(&impl_->mu);
  sqlite3_stmt* stmt = impl_->put_task.get();
  ScopedReset reset(stmt);
  BindText(stmt, 1, task.name);
  BindText(stmt, 2, task.spec_yaml);
  BindText(stmt, 3, task.node);
  sqlite3_bind_text(stmt, 4, TaskStateName(task.state), -1, SQLITE_STATIC);
  sqlite3_bind_int64(stmt, 5, task.version);
  BindText(stmt, 7, task.ranking);
  BindText(stmt, 8, task.message);
  sqlite3_bind_int64(stmt, 9, task.created_unix_ms);
  sqlite3_bind_int64(stmt, 10, task.updated_unix_ms);
  sqlite3_bind_int64(stmt, 11, task.pinned_version);
  sqlite3_bind_int64(stmt, 12, task.rollback_to);
  sqlite3_bind_int64(stmt, 13, task.rollback_seq);
  sqlite3_bind_int64(stmt, 14, task.token_generation);
  BindText(stmt, 15, task.token_sha256);
  BindText(stmt, 16, task.previous_token_sha256);
  sqlite3_bind_int64(stmt, 17, task.previous_valid_until_unix_ms);
  return impl_->StepWrite(stmt, absl::StrCat("put task '", task.name, "'")).status();
}

absl::Status Store::PutNodeCredential(const NodeCredentialRecord& credential) {
  if (credential.name.empty()) return absl::InvalidArgumentError("node name is empty");
  absl::MutexLock lock(&impl_->mu);
  sqlite3_stmt* stmt = impl_->put_node_credential.get();
  ScopedReset reset(stmt);
  BindText(stmt, 1, credential.name);
  BindText(stmt, 2, credential.token_sha256);
  sqlite3_bind_int(stmt, 3, credential.revoked ? 1 : 0);
  sqlite3_bind_int64(stmt, 4, credential.issued_unix_ms);
  return impl_->StepWrite(stmt, absl::StrCat("put node credential '", credential.name, "'")).status();
}

absl::StatusOr<std::vector<NodeCredentialRecord>> Store::ListNodeCredentials() {
  absl::MutexLock lock(&impl_->mu);
  sqlite3_stmt* stmt = impl_->list_node_credentials.get();
  ScopedReset reset(stmt);
  std::vector<NodeCredentialRecord> out;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    NodeCredentialRecord c;
    c.name = ColumnText(stmt, 0);
    c.token_sha256 = ColumnText(stmt, 1);
    c.revoked = sqlite3_column_int(stmt, 2) != 0;
    c.issued_unix_ms = sqlite3_column_int64(stmt, 3);
    out.push_back(std::move(c));
  }
  if (rc != SQLITE_DONE) return impl_->Error(rc, "list node credentials");
  return out;
}

absl::StatusOr<TaskRecord> Store::GetTask(const std::string& name) {
  absl::MutexLock lock(&impl_->mu);
  sqlite3_stmt* stmt = impl_->get_task.get();
  ScopedReset reset(stmt);
  BindText(stmt, 1, name);
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_DONE) return absl::NotFoundError(absl::StrCat("task '", name, "' not found"));
  if (rc != SQLITE_ROW) return impl_->Error(rc, absl::StrCat("get task '", name, "'"));
  return impl_->ReadTask(stmt);
}

absl::StatusOr<std::vector<TaskRecord>> Store::ListTasks() {
  absl::MutexLock lock(&impl_->mu);
  sqlite3_stmt* stmt = impl_->list_tasks.get();
  ScopedReset reset(stmt);
  std::vector<TaskRecord> tasks;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    MLIOT_ASSIGN_OR_RETURN(TaskRecord task, impl_->ReadTask(stmt));
    tasks.push_back(std::move(task));
  }
  if (rc != SQLITE_DONE) return impl_->Error(rc, "list tasks");
  return tasks;
}

absl::Status Store::DeleteTask(const std::string& name) {
  absl::MutexLock lock(&impl_->mu);
  sqlite3_stmt* stmt = impl_->delete_task.get();
  ScopedReset reset(stmt);
  BindText(stmt, 1, name);
  MLIOT_ASSIGN_OR_RETURN(const int changes,
                         impl_->StepWrite(stmt, absl::StrCat("delete task '", name, "'")));
  if (changes == 0) return absl::NotFoundError(absl::StrCat("task '", name, "' not found"));
  return absl::OkStatus();
}

}  // namespace mliot
