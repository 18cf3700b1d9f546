#include "coord/store.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "auth/secrets.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mliot {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "/store_test_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr) << std::strerror(errno);
    dir_ = tmpl;
    path_ = dir_ + "/data/coordinator.db";  // `data/` does not exist yet
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<Store> OpenOrDie() {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }

  std::string dir_;
  std::string path_;
};

// A raw connection for looking under the store, or for tampering with it.
class RawDb {
 public:
  explicit RawDb(const std::string& path) {
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  }
  ~RawDb() { sqlite3_close_v2(db_); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;

  void Exec(const std::string& sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error ? error : "");
    sqlite3_free(error);
  }
  // The first column of the first row, as text ("" when there is no row).
  std::string Query(const std::string& sql) {
    sqlite3_stmt* stmt = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db_, sql.c_str(), -1, &stmt, nullptr), SQLITE_OK) << sql;
    std::string result;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0));
      if (text != nullptr) result = text;
    }
    sqlite3_finalize(stmt);
    return result;
  }

 private:
  sqlite3* db_ = nullptr;
};

NodeRecord SampleNode(const std::string& name) {
  NodeRecord node;
  node.name = name;
  node.address = "10.0.0.7:7070";
  node.cores = 8;
  node.memory_mb = 15872.5;
  node.gpu = true;
  node.arch = "aarch64";
  node.rtt_ms = 1.25;
  node.labels = {{"zone", "lab-2"}, {"camera", "yes"}, {"quote\"key", "ünïcode \\ value"}};
  node.isolation = "none: cgroup v2 not delegated";
  node.image_predict_ms = 3.5;
  node.sensor_predict_ms = 0.125;
  node.train_speed = 0.75;
  node.registered_unix_ms = 1700000000123;
  node.last_seen_unix_ms = 1700000999456;
  return node;
}

TaskRecord SampleTask(const std::string& name) {
  TaskRecord task;
  task.name = name;
  task.spec_yaml = "name: " + name + "\nmodel:\n  kind: random_forest\n";
  task.node = "edge-1";
  task.state = TaskState::kServing;
  task.version = 7;
  task.token_generation = 2;
  task.token_sha256 = std::string(64, 'a');
  task.previous_token_sha256 = std::string(64, 'b');
  task.previous_valid_until_unix_ms = 1700000000003;
  task.ranking = R"(["edge-1","edge-2"])";
  task.message = "it's 'quoted'; DROP TABLE tasks; --";
  task.created_unix_ms = 1700000000001;
  task.updated_unix_ms = 1700000000002;
  task.pinned_version = 3;
  task.rollback_to = 2;
  task.rollback_seq = 4;
  return task;
}

void ExpectNodesEqual(const NodeRecord& a, const NodeRecord& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.address, b.address);
  EXPECT_EQ(a.cores, b.cores);
  EXPECT_EQ(a.memory_mb, b.memory_mb);
  EXPECT_EQ(a.gpu, b.gpu);
  EXPECT_EQ(a.arch, b.arch);
  EXPECT_EQ(a.rtt_ms, b.rtt_ms);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.isolation, b.isolation);
  EXPECT_EQ(a.image_predict_ms, b.image_predict_ms);
  EXPECT_EQ(a.sensor_predict_ms, b.sensor_predict_ms);
  EXPECT_EQ(a.train_speed, b.train_speed);
  EXPECT_EQ(a.registered_unix_ms, b.registered_unix_ms);
  EXPECT_EQ(a.last_seen_unix_ms, b.last_seen_unix_ms);
}

void ExpectTasksEqual(const TaskRecord& a, const TaskRecord& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.spec_yaml, b.spec_yaml);
  EXPECT_EQ(a.node, b.node);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.version, b.version);
  EXPECT_EQ(a.token_generation, b.token_generation);
  EXPECT_EQ(a.token_sha256, b.token_sha256);
  EXPECT_EQ(a.previous_token_sha256, b.previous_token_sha256);
  EXPECT_EQ(a.previous_valid_until_unix_ms, b.previous_valid_until_unix_ms);
  EXPECT_EQ(a.ranking, b.ranking);
  EXPECT_EQ(a.message, b.message);
  EXPECT_EQ(a.created_unix_ms, b.created_unix_ms);
  EXPECT_EQ(a.updated_unix_ms, b.updated_unix_ms);
  EXPECT_EQ(a.pinned_version, b.pinned_version);
  EXPECT_EQ(a.rollback_to, b.rollback_to);
  EXPECT_EQ(a.rollback_seq, b.rollback_seq);
}

TEST(TaskStateTest, NamesRoundTrip) {
  for (TaskState state :
       {TaskState::kPending, TaskState::kTraining, TaskState::kServing, TaskState::kFailed}) {
    absl::StatusOr<TaskState> parsed = ParseTaskState(TaskStateName(state));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, state);
  }
  EXPECT_STREQ(TaskStateName(TaskState::kServing), "serving");
  absl::StatusOr<TaskState> bad = ParseTaskState("Serving");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("pending, training, serving, failed"));
}

TEST_F(StoreTest, OpenCreatesDirectoryWalAndLatestSchema) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(std::filesystem::exists(path_));
  RawDb raw(path_);
  EXPECT_EQ(raw.Query("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw.Query("PRAGMA user_version"), std::to_string(Store::SchemaVersion()));
  EXPECT_GE(Store::SchemaVersion(), 2);
  EXPECT_EQ(raw.Query("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                      "name = 'tasks_by_node'"),
            "tasks_by_node");
}

TEST_F(StoreTest, NodeRoundTripsEveryField) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  const NodeRecord node = SampleNode("edge-1");
  ASSERT_TRUE(store->PutNode(node).ok());
  absl::StatusOr<std::vector<NodeRecord>> nodes = store->ListNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 1u);
  ExpectNodesEqual((*nodes)[0], node);

  NodeRecord bare;  // defaults and no labels survive too
  bare.name = "bare";
  ASSERT_TRUE(store->PutNode(bare).ok());
  nodes = store->ListNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 2u);
  ExpectNodesEqual((*nodes)[0], bare);
}

TEST_F(StoreTest, TaskRoundTripsEveryFieldAndState) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  int i = 0;
  for (TaskState state :
       {TaskState::kPending, TaskState::kTraining, TaskState::kServing, TaskState::kFailed}) {
    TaskRecord task = SampleTask(absl::StrCat("task-", i++));
    task.state = state;
    task.spec_yaml += std::string("binary\0tail", 11);  // embedded NUL survives
    ASSERT_TRUE(store->PutTask(task).ok());
    absl::StatusOr<TaskRecord> got = store->GetTask(task.name);
    ASSERT_TRUE(got.ok()) << got.status();
    ExpectTasksEqual(*got, task);
  }
  RawDb raw(path_);
  EXPECT_EQ(raw.Query("SELECT state FROM tasks WHERE name = 'task-2'"), "serving");
}

TEST_F(StoreTest, PutReplacesByName) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  TaskRecord task = SampleTask("t");
  ASSERT_TRUE(store->PutTask(task).ok());
  task.state = TaskState::kFailed;
  task.version = 8;
  task.node = "";
  task.message = "out of memory";
  ASSERT_TRUE(store->PutTask(task).ok());
  absl::StatusOr<std::vector<TaskRecord>> tasks = store->ListTasks();
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->size(), 1u);
  ExpectTasksEqual((*tasks)[0], task);

  NodeRecord node = SampleNode("n");
  ASSERT_TRUE(store->PutNode(node).ok());
  node.labels = {{"only", "this"}};
  node.last_seen_unix_ms += 5000;
  ASSERT_TRUE(store->PutNode(node).ok());
  absl::StatusOr<std::vector<NodeRecord>> nodes = store->ListNodes();
  ASSERT_TRUE(nodes.ok()) << nodes.status();
  ASSERT_EQ(nodes->size(), 1u);
  ExpectNodesEqual((*nodes)[0], node);
}

TEST_F(StoreTest, ListsAreOrderedByName) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  for (const char* name : {"delta", "alpha", "charlie", "bravo"}) {
    ASSERT_TRUE(store->PutTask(SampleTask(name)).ok());
    ASSERT_TRUE(store->PutNode(SampleNode(name)).ok());
  }
  absl::StatusOr<std::vector<TaskRecord>> tasks = store->ListTasks();
  absl::StatusOr<std::vector<NodeRecord>> nodes = store->ListNodes();
  ASSERT_TRUE(tasks.ok() && nodes.ok());
  std::vector<std::string> task_names, node_names;
  for (const auto& t : *tasks) task_names.push_back(t.name);
  for (const auto& n : *nodes) node_names.push_back(n.name);
  const std::vector<std::string> want = {"alpha", "bravo", "charlie", "delta"};
  EXPECT_EQ(task_names, want);
  EXPECT_EQ(node_names, want);
}

TEST_F(StoreTest, DeleteAndNotFound) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutTask(SampleTask("keep")).ok());
  ASSERT_TRUE(store->PutTask(SampleTask("drop")).ok());
  ASSERT_TRUE(store->DeleteTask("drop").ok());

  absl::StatusOr<TaskRecord> gone = store->GetTask("drop");
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(gone.status().message(), "task 'drop' not found");
  absl::Status again = store->DeleteTask("drop");
  EXPECT_EQ(again.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(again.message(), HasSubstr("'drop'"));
  EXPECT_TRUE(store->GetTask("keep").ok());

  ASSERT_TRUE(store->PutNode(SampleNode("n1")).ok());
  ASSERT_TRUE(store->DeleteNode("n1").ok());
  EXPECT_EQ(store->DeleteNode("n1").code(), absl::StatusCode::kNotFound);
  absl::StatusOr<std::vector<NodeRecord>> nodes = store->ListNodes();
  ASSERT_TRUE(nodes.ok());
  EXPECT_TRUE(nodes->empty());
}

TEST_F(StoreTest, RejectsEmptyNamesAndNonUtf8Labels) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->PutTask(TaskRecord{}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->PutNode(NodeRecord{}).code(), absl::StatusCode::kInvalidArgument);
  NodeRecord node = SampleNode("bad-labels");
  node.labels["zone"] = "\xff\xfe";
  absl::Status status = store->PutNode(node);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("UTF-8"));
}

TEST_F(StoreTest, ReopenAfterCloseKeepsData) {
  const NodeRecord node = SampleNode("edge-1");
  const TaskRecord task = SampleTask("mnist");
  {
    auto store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->PutNode(node).ok());
    ASSERT_TRUE(store->PutTask(task).ok());
  }  // the coordinator stops
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<TaskRecord> got = store->GetTask("mnist");
  ASSERT_TRUE(got.ok()) << got.status();
  ExpectTasksEqual(*got, task);
  absl::StatusOr<std::vector<NodeRecord>> nodes = store->ListNodes();
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 1u);
  ExpectNodesEqual((*nodes)[0], node);
}

TEST_F(StoreTest, MigratesAnOlderSchemaKeepingData) {
  {
    auto store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->PutTask(SampleTask("old")).ok());
  }
  {  // roll the file back to how schema version 1 left it
    RawDb raw(path_);
    raw.Exec("DROP INDEX tasks_by_node; ALTER TABLE tasks DROP COLUMN pinned_version; "
             "ALTER TABLE tasks DROP COLUMN rollback_to; ALTER TABLE tasks DROP COLUMN rollback_seq; "
             "ALTER TABLE tasks DROP COLUMN token_generation; ALTER TABLE tasks DROP COLUMN token_sha256; "
             "ALTER TABLE tasks DROP COLUMN previous_token_sha256; "
             "ALTER TABLE tasks DROP COLUMN previous_valid_until_ms; DROP TABLE node_credentials; "
             "UPDATE tasks SET token = 'plain-old-token'; PRAGMA user_version = 1;");
  }
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  absl::StatusOr<TaskRecord> old = store->GetTask("old");
  ASSERT_TRUE(old.ok());
  // A plain token from before schema 4 is kept as its hash only, from the next write on.
  EXPECT_EQ(old->token_sha256, auth::Sha256Hex("plain-old-token"));
  EXPECT_EQ(old->token_generation, -1);
  ASSERT_TRUE(store->PutTask(*old).ok());
  EXPECT_EQ(RawDb(path_).Query("SELECT token FROM tasks WHERE name = 'old'"), "");
  RawDb raw(path_);
  EXPECT_EQ(raw.Query("PRAGMA user_version"), std::to_string(Store::SchemaVersion()));
  EXPECT_EQ(raw.Query("SELECT count(*) FROM sqlite_master WHERE name = 'tasks_by_node'"), "1");
}

TEST_F(StoreTest, NewerSchemaIsFailedPrecondition) {
  { ASSERT_NE(OpenOrDie(), nullptr); }
  const int newer = Store::SchemaVersion() + 1;
  {
    RawDb raw(path_);
    raw.Exec(absl::StrCat("PRAGMA user_version = ", newer));
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(store.status().message(), AllOf(HasSubstr(path_), HasSubstr(std::to_string(newer)),
                                              HasSubstr(std::to_string(Store::SchemaVersion()))));
  RawDb raw(path_);  // and the file is left as it was
  EXPECT_EQ(raw.Query("PRAGMA user_version"), std::to_string(newer));
}

TEST_F(StoreTest, GarbageFileFailsCleanlyAndIsLeftAlone) {
  std::filesystem::create_directories(std::filesystem::path(path_).parent_path());
  std::string garbage;
  for (int i = 0; i < 200; ++i) garbage += "this is not a SQLite database. ";
  {
    std::ofstream out(path_, std::ios::binary);
    out << garbage;
  }
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  EXPECT_THAT(store.status().message(), AllOf(HasSubstr(path_), HasSubstr("not a database")));
  std::ifstream in(path_, std::ios::binary);
  const std::string after((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(after, garbage);
}

TEST_F(StoreTest, PathThatIsADirectoryFailsCleanly) {
  std::filesystem::create_directories(path_);
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr(path_));
}

TEST_F(StoreTest, UnreadableRowsAreDataLoss) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutTask(SampleTask("t")).ok());
  ASSERT_TRUE(store->PutNode(SampleNode("n")).ok());
  {
    RawDb raw(path_);
    raw.Exec("UPDATE tasks SET state = 'exploded'; UPDATE nodes SET labels = '[1,2]';");
  }
  absl::StatusOr<TaskRecord> task = store->GetTask("t");
  EXPECT_EQ(task.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(task.status().message(), AllOf(HasSubstr("'t'"), HasSubstr("exploded")));
  EXPECT_EQ(store->ListTasks().status().code(), absl::StatusCode::kDataLoss);
  absl::StatusOr<std::vector<NodeRecord>> nodes = store->ListNodes();
  EXPECT_EQ(nodes.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(nodes.status().message(), HasSubstr("'n'"));
}

TEST_F(StoreTest, ConcurrentPutsAllLand) {
  auto store = OpenOrDie();
  ASSERT_NE(store, nullptr);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<std::thread> threads;
  std::vector<int> failures(kThreads, 0);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        TaskRecord task = SampleTask(absl::StrCat("t", t, "-", i));
        task.version = t * 1000 + i;
        if (!store->PutTask(task).ok()) ++failures[t];
        if (!store->ListTasks().ok()) ++failures[t];  // readers interleave with writers
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
  absl::StatusOr<std::vector<TaskRecord>> tasks = store->ListTasks();
  ASSERT_TRUE(tasks.ok()) << tasks.status();
  ASSERT_EQ(tasks->size(), static_cast<size_t>(kThreads * kPerThread));
  for (const TaskRecord& task : *tasks) {
    int t = 0, i = 0;
    ASSERT_EQ(sscanf(task.name.c_str(), "t%d-%d", &t, &i), 2) << task.name;
    EXPECT_EQ(task.version, t * 1000 + i);
  }
}

// What the crash test's writer puts in write number `seq`: every field is a
// function of (task index, round), so the reader can tell a complete row from
// a torn one. The spec spans several pages so a torn write would show.
constexpr int kCrashTasks = 40;

TaskRecord CrashTask(int64_t seq) {
  const int64_t index = seq % kCrashTasks;
  const int64_t round = seq / kCrashTasks;
  TaskRecord task;
  task.name = absl::StrCat("task-", index);
  task.version = round;
  task.state = static_cast<TaskState>(round % 4);
  task.node = absl::StrCat("node-", (index + round) % 5);
  std::string spec = absl::StrCat("name: ", task.name, "\nround: ", round, "\n");
  while (spec.size() < 12000) spec += absl::StrCat("# padding ", index, "/", round, "\n");
  task.spec_yaml = spec;
  task.token_sha256 = absl::StrCat("token-", index, "-", round);
  task.ranking = absl::StrCat("[\"node-", (index + round) % 5, "\"]");
  task.message = absl::StrCat("seq ", seq);
  task.created_unix_ms = 1000 + index;
  task.updated_unix_ms = 1000000 + seq;
  return task;
}

// The writer: opens the store and writes forever, reporting each write that
// returned OK on `ack_fd`. Never returns.
[[noreturn]] void RunCrashWriter(const std::string& path, int64_t first_seq, int ack_fd) {
  absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(path);
  if (!store.ok()) _exit(3);
  for (int64_t seq = first_seq;; ++seq) {
    if (!(*store)->PutTask(CrashTask(seq)).ok()) _exit(4);
    if (write(ack_fd, &seq, sizeof(seq)) != sizeof(seq)) _exit(5);
  }
}

TEST_F(StoreTest, SurvivesWriterKilledMidWrite) {
  int64_t next_seq = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    SCOPED_TRACE(absl::StrCat("attempt ", attempt));
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(fds[0]);
      RunCrashWriter(path_, next_seq, fds[1]);
    }
    close(fds[1]);
    // Let the writer get well into its loop, then kill it without warning.
    const int64_t kill_after = next_seq + 150 + attempt * 37;
    int64_t last_acked = next_seq - 1;
    int64_t seq;
    while (last_acked < kill_after && read(fds[0], &seq, sizeof(seq)) == sizeof(seq)) {
      last_acked = seq;
    }
    ASSERT_EQ(kill(pid, SIGKILL), 0);
    while (read(fds[0], &seq, sizeof(seq)) == sizeof(seq)) last_acked = seq;
    close(fds[0]);
    int wstatus = 0;
    ASSERT_EQ(waitpid(pid, &wstatus, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)
        << "the writer stopped by itself, status " << wstatus;
    ASSERT_GE(last_acked, kill_after);

    // The coordinator restarts: the file opens, and every row is one of the
    // writer's complete writes. Each acknowledged write is there; the one
    // write in flight at the kill may or may not be.
    auto store = OpenOrDie();
    ASSERT_NE(store, nullptr);
    absl::StatusOr<std::vector<TaskRecord>> tasks = store->ListTasks();
    ASSERT_TRUE(tasks.ok()) << tasks.status();
    ASSERT_EQ(tasks->size(), static_cast<size_t>(kCrashTasks));
    int64_t max_seq = last_acked;
    for (const TaskRecord& task : *tasks) {
      const int64_t seq_in_row = task.updated_unix_ms - 1000000;
      ASSERT_GE(seq_in_row, 0) << task.name;
      ExpectTasksEqual(task, CrashTask(seq_in_row));
      // The latest acknowledged write of this task, or the in-flight one.
      const int64_t index = seq_in_row % kCrashTasks;
      int64_t latest_acked =
          last_acked - ((last_acked - index) % kCrashTasks + kCrashTasks) % kCrashTasks;
      if (seq_in_row == last_acked + 1) {
        max_seq = seq_in_row;
      } else {
        EXPECT_EQ(seq_in_row, latest_acked) << task.name;
      }
    }
    next_seq = max_seq + 1;
  }
}

}  // namespace
}  // namespace mliot
