#include "coord/coordinator.h"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <cctype>

#include "frontend/frontend_metrics.h"
#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "auth/authorizer.h"
#include "auth/secrets.h"
#include "common/file_transfer.h"
#include "common/status_util.h"
#include "coord/placement.h"
#include "lifecycle/lifecycle_state.h"
#include "lifecycle/publish.h"
#include "lifecycle/retention.h"
#include "lifecycle/version_catalog.h"
#include "mliot/v1/bundle.pb.h"
#include "mliot/v1/node.grpc.pb.h"
#include "coord/policy.h"
#include "nlohmann/json.hpp"
#include "serve/bundle_reader.h"
#include "train/task_spec.h"

namespace mliot {
namespace fs = std::filesystem;
namespace {

void Log(const std::string& line) {
  std::fprintf(stderr, "coordinator: %s\n", line.c_str());
  std::fflush(stderr);
}

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Node names: 1-64 of A-Z, a-z, 0-9, '.', '_' and '-'.
bool ValidNodeName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  }
  return true;
}

TaskState StateOf(v1::TaskPhase phase) {
  switch (phase) {
    case v1::TASK_PHASE_SERVING:
      return TaskState::kServing;
    case v1::TASK_PHASE_FAILED:
      return TaskState::kFailed;
    case v1::TASK_PHASE_TRAINING:
      return TaskState::kTraining;
    default:
      return TaskState::kPending;
  }
}

v1::TaskPhase PhaseOf(TaskState state) {
  switch (state) {
    case TaskState::kServing:
      return v1::TASK_PHASE_SERVING;
    case TaskState::kFailed:
      return v1::TASK_PHASE_FAILED;
    case TaskState::kTraining:
      return v1::TASK_PHASE_TRAINING;
    default:
      return v1::TASK_PHASE_PENDING;
  }
}

NodeRecord ToRecord(const v1::NodeInfo& info) {
  NodeRecord r;
  r.name = info.name();
  r.address = info.address();
  r.cores = info.cores();
  r.memory_mb = info.memory_mb();
  r.gpu = info.gpu();
  r.arch = info.arch();
  r.rtt_ms = info.rtt_ms();
  r.labels.insert(info.labels().begin(), info.labels().end());
  r.isolation = info.isolation();
  r.image_predict_ms = info.benchmark().image_predict_ms();
  r.sensor_predict_ms = info.benchmark().sensor_predict_ms();
  r.train_speed = info.benchmark().train_speed();
  r.registered_unix_ms = UnixMs();
  r.last_seen_unix_ms = UnixMs();
  return r;
}

v1::NodeInfo FromRecord(const NodeRecord& r) {
  v1::NodeInfo info;
  info.set_name(r.name);
  info.set_address(r.address);
  info.set_cores(r.cores);
  info.set_memory_mb(r.memory_mb);
  info.set_gpu(r.gpu);
  info.set_arch(r.arch);
  info.set_rtt_ms(r.rtt_ms);
  for (const auto& [k, v] : r.labels) (*info.mutable_labels())[k] = v;
  info.set_isolation(r.isolation);
  info.mutable_benchmark()->set_image_predict_ms(r.image_predict_ms);
  info.mutable_benchmark()->set_sensor_predict_ms(r.sensor_predict_ms);
  info.mutable_benchmark()->set_train_speed(r.train_speed);
  return info;
}

grpc::Status TaskNotFound(const std::string& task) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("task '", task, "' not found"));
}

// How many nodes' reasons a refused task's stored message names.
constexpr size_t kReasonsKept = 10;

}  // namespace

CoordinatorService::CoordinatorService(CoordinatorOptions options, const Clock* clock)
    : o_(std::move(options)), clock_(clock), registry_(clock, o_.heartbeat_timeout_s) {}

CoordinatorService::~CoordinatorService() { Shutdown(); }

absl::Status CoordinatorService::Init() {
  std::error_code ec;
  fs::create_directories(o_.data_dir, ec);
  if (ec) return absl::UnavailableError(absl::StrCat(o_.data_dir, ": cannot create: ", ec.message()));
  fs::permissions(o_.data_dir, fs::perms::owner_all, ec);  // 0700: tasks' data and the secrets
  MLIOT_ASSIGN_OR_RETURN(auth::CoordinatorSecrets secrets,
                         auth::CoordinatorSecrets::Load(o_.data_dir, o_.credentials_dir.empty() ? o_.data_dir
                                                                                                : o_.credentials_dir));
  secrets_ = std::move(secrets);
  MLIOT_ASSIGN_OR_RETURN(store_, Store::Open(o_.data_dir + "/coordinator.db"));
  MLIOT_ASSIGN_OR_RETURN(std::vector<NodeCredentialRecord> credentials, store_->ListNodeCredentials());
  {
    absl::MutexLock lock(&auth_mu_);
    holders_[secrets_->admin_sha256()] = {auth::Identity{auth::kAdmin, ""}, 0};
    holders_[secrets_->join_sha256()] = {auth::Identity{auth::kJoin, ""}, 0};
    for (NodeCredentialRecord& c : credentials) {
      if (!c.revoked) holders_[c.token_sha256] = {auth::Identity{auth::kNode, c.name}, 0};
      node_credentials_[c.name] = std::move(c);
    }
  }
  MLIOT_ASSIGN_OR_RETURN(std::vector<NodeRecord> nodes, store_->ListNodes());
  for (const NodeRecord& n : nodes) registry_.Restore(FromRecord(n));
  MLIOT_ASSIGN_OR_RETURN(std::vector<TaskRecord> tasks, store_->ListTasks());
  absl::MutexLock lock(&mu_);
  for (TaskRecord& r : tasks) {
    absl::StatusOr<TaskSpec> spec = ParseTaskSpec(r.spec_yaml);
    TaskEntry e;
    if (spec.ok()) {
      e.require = spec->require;
      e.prefer = spec->prefer;
      e.image = IsImageData(spec->data);
      e.budget_s = spec->budget_s;
      e.keep = spec->versions.keep;
      e.keep_days = spec->versions.keep_days;
    }
    if (r.token_generation < 0) (void)store_->PutTask(r);  // drops a plain token kept before schema 4
    IndexTokens(r);
    e.record = std::move(r);
    e.stored_version = StoredVersion(e.record.name);
    e.stored_bytes = DirectoryBytes(absl::StrCat(o_.data_dir, "/bundles/", e.record.name));
    MoveInIndexLocked(e.record.name, "", e.record.node);
    tasks_[e.record.name] = std::move(e);
  }
  if (!nodes.empty() || !tasks.empty()) {
    Log(absl::StrCat("recovered ", nodes.size(), " nodes and ", tasks.size(), " tasks from ", o_.data_dir));
  }
  failover_ = std::thread([this] { FailoverLoop(); });
  return absl::OkStatus();
}

void CoordinatorService::Shutdown() {
  stop_.store(true);
  if (failover_.joinable()) failover_.join();
}

void CoordinatorService::FailoverLoop() {
  while (!stop_.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    CheckNodes();
  }
}

std::map<std::string, int> CoordinatorService::TaskCountsLocked() const {
  std::map<std::string, int> counts;
  for (const auto& [node, names] : tasks_by_node_) counts.emplace_hint(counts.end(), node, names.size());
  return counts;
}

void CoordinatorService::MoveInIndexLocked(const std::string& name, const std::string& from,
                                           const std::string& to) {
  if (auto it = tasks_by_node_.find(from); it != tasks_by_node_.end()) {
    it->second.erase(name);
    if (it->second.empty()) tasks_by_node_.erase(it);
  }
  if (!to.empty()) tasks_by_node_[to].insert(name);
}

int64_t CoordinatorService::StoredVersion(const std::string& task) const {
  absl::StatusOr<int64_t> v = LatestBundleVersion(absl::StrCat(o_.data_dir, "/bundles/", task));
  return v.ok() ? *v : 0;
}

bool CoordinatorService::PlaceLocked(TaskEntry& task, const std::string& exclude,
                                     v1::SubmitResponse* response) {
  absl::StatusOr<RequireExpr> require = RequireExpr::Parse(task.require);
  absl::StatusOr<PreferRule> prefer = PreferRule::Parse(task.prefer);
  if (!require.ok() || !prefer.ok()) return false;
  std::map<std::string, int> counts = TaskCountsLocked();
  if (!task.record.node.empty()) --counts[task.record.node];  // it is moving
  std::vector<PlacementCandidate> candidates = registry_.Candidates(counts);
  if (!exclude.empty()) {
    for (PlacementCandidate& c : candidates) {
      if (c.node.name == exclude) c.node.alive = false;
    }
  }
  // The best kRankingKept eligible nodes are answered, stored and logged, not
  // all of them: with 10,000 nodes the full list made each submit write
  // ~150 KB to the store, the log and the answer.
  const Placement p = Place(candidates, *require, *prefer, TaskProfile{task.image, task.budget_s}, kRankingKept);
  (p.accepted ? placed_ : refused_).fetch_add(1, std::memory_order_relaxed);
  if (response != nullptr) {
    response->set_accepted(p.accepted);
    for (const std::string& n : p.ranking) response->add_ranking(n);
    response->set_predicted_latency_ms(p.latency_ms);
    for (const auto& [n, why] : p.reasons) (*response->mutable_reasons())[n] = why;
  }
  if (!p.accepted) {
    // The answer has every node's reason; the stored message the first few.
    std::vector<std::string> reasons;
    for (const auto& [n, why] : p.reasons) {
      if (reasons.size() == kReasonsKept) {
        reasons.push_back(absl::StrCat("and ", p.reasons.size() - kReasonsKept, " more"));
        break;
      }
      reasons.push_back(absl::StrCat(n, ": ", why));
    }
    task.record.message = absl::StrCat("no eligible node (", absl::StrJoin(reasons, "; "), ")");
    return false;
  }
  task.record.node = p.node;
  task.record.ranking = nlohmann::json(p.ranking).dump();
  task.record.message.clear();
  task.serving_address.clear();
  return true;
}

void CoordinatorService::CheckNodes() {
  const std::vector<std::string> died = registry_.Sweep();
  for (const std::string& n : died) Log(absl::StrCat("node ", n, " is dead (no heartbeat for ", o_.heartbeat_timeout_s, "s)"));
  absl::MutexLock lock(&mu_);
  for (auto& [name, t] : tasks_) {
    const bool orphaned = !t.record.node.empty() && !registry_.IsAlive(t.record.node);
    const bool waiting = t.record.node.empty();
    if (!orphaned && !waiting) continue;
    const std::string from = t.record.node;
    if (PlaceLocked(t, from, nullptr)) {
      t.record.state = TaskState::kPending;
      Log(absl::StrCat("task ", name, from.empty() ? " placed on " : absl::StrCat(" moved from ", from, " to "),
                       t.record.node, t.stored_version > 0 ? " (serves the stored bundle)" : ""));
    } else if (orphaned) {
      t.record.node.clear();
      t.record.state = TaskState::kPending;
    } else {
      continue;
    }
    t.record.updated_unix_ms = UnixMs();
    (void)store_->PutTask(t.record);
    MoveInIndexLocked(name, from, t.record.node);
  }
}

grpc::Status CoordinatorService::RegisterNode(grpc::ServerContext* context, const v1::RegisterNodeRequest* request,
                                              v1::RegisterNodeResponse* response) {
  const v1::NodeInfo& info = request->info();
  if (!ValidNodeName(info.name())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("node name '", info.name(), "' must be 1-64 characters of A-Z, a-z, 0-9, '.', '_', '-'"));
  }
  if (auth::Authorizer::CallerOf(*context).role == auth::kJoin) {
    // Joined with the join token: the node's own credential from now on;
    // one it held before (a machine that lost its data) stops working.
    NodeCredentialRecord credential;
    credential.name = info.name();
    const std::string token = auth::RandomHex(20);
    credential.token_sha256 = auth::Sha256Hex(token);
    credential.issued_unix_ms = UnixMs();
    if (absl::Status s = store_->PutNodeCredential(credential); !s.ok()) return ToGrpc(s);
    absl::MutexLock lock(&auth_mu_);
    if (auto old = node_credentials_.find(info.name()); old != node_credentials_.end()) {
      holders_.erase(old->second.token_sha256);
    }
    holders_[credential.token_sha256] = {auth::Identity{auth::kNode, info.name()}, 0};
    node_credentials_[info.name()] = credential;
    response->set_node_token(token);
    Log(absl::StrCat("node ", info.name(), " joined: node credential issued"));
  }
  response->set_wake_token(secrets_->WakeToken(info.name()));
  registry_.Register(info);
  if (absl::Status s = store_->PutNode(ToRecord(info)); !s.ok()) return ToGrpc(s);
  Log(absl::StrCat("node ", info.name(), " registered (", info.cores(), " cores, ", info.memory_mb(),
                   " MB, rtt ", info.rtt_ms(), " ms, ", info.isolation(), ")"));
  response->set_heartbeat_interval_ms(o_.heartbeat_interval_ms);
  return grpc::Status::OK;
}

namespace {

// One heartbeat call in flight on the asynchronous queue; its address is the
// queue tag. Owned by ServeHeartbeats from RequestHeartbeat until the
// answer is sent or the queue shuts down.
struct HeartbeatCall {
  grpc::ServerContext context;
  v1::HeartbeatRequest request;
  v1::HeartbeatResponse response;
  grpc::ServerAsyncResponseWriter<v1::HeartbeatResponse> responder{&context};
  bool answered = false;
};

}  // namespace

void CoordinatorService::ServeHeartbeats(grpc::ServerCompletionQueue* cq) {
  // A few calls requested ahead, so that heartbeats arriving together are
  // matched without waiting for this thread to request the next one.
  constexpr int kRequestedAhead = 16;
  auto request_one = [&] {
    auto call = std::make_unique<HeartbeatCall>();
    RequestHeartbeat(&call->context, &call->request, &call->responder, cq, cq, call.get());
    (void)call.release();  // owned by the queue until its tag comes back
  };
  for (int i = 0; i < kRequestedAhead; ++i) request_one();
  void* tag = nullptr;
  bool ok = false;
  while (cq->Next(&tag, &ok)) {
    std::unique_ptr<HeartbeatCall> call(static_cast<HeartbeatCall*>(tag));
    if (call->answered || !ok) continue;  // sent, or the server is shutting down: free it
    request_one();
    HandleHeartbeat(call->request, &call->response);
    call->answered = true;
    HeartbeatCall* raw = call.release();
    raw->responder.Finish(raw->response, grpc::Status::OK, raw);
  }
}

void CoordinatorService::HandleHeartbeat(const v1::HeartbeatRequest& request, v1::HeartbeatResponse* response) {
  heartbeats_.fetch_add(1, std::memory_order_relaxed);
  if (!registry_.Heartbeat(request)) {
    response->set_reregister(true);
    return;
  }
  absl::MutexLock lock(&mu_);
  for (const v1::TaskStatus& s : request.tasks()) {
    auto it = tasks_.find(s.task());
    if (it == tasks_.end() || it->second.record.node != request.node()) continue;
    TaskEntry& t = it->second;
    const TaskState state = StateOf(s.phase());
    t.serving_address = s.serving_address();
    t.reported = s;
    // The version serving, as the node says (guarded promotion or a pin may
    // keep an older one than the newest); before it says, the stored one.
    const int64_t version = s.version() > 0 ? s.version() : t.stored_version;
    if (state != t.record.state || version != t.record.version || s.message() != t.record.message) {
      const bool serving_changed = version != t.record.version;
      t.record.state = state;
      t.record.version = version;
      if (serving_changed) RetainLocked(t);  // the old serving version may go now
      t.record.message = s.message();
      t.record.updated_unix_ms = UnixMs();
      (void)store_->PutTask(t.record);
    }
  }
  auto placed = tasks_by_node_.find(request.node());
  if (placed == tasks_by_node_.end()) return;
  for (const std::string& name : placed->second) {
    auto it = tasks_.find(name);
    if (it == tasks_.end()) continue;  // the index is kept with tasks_; never expected
    const TaskEntry& t = it->second;
    v1::TaskAssignment* a = response->add_assignments();
    a->set_task(name);
    a->set_spec_yaml(t.record.spec_yaml);
    if (!t.record.token_sha256.empty()) {
      v1::TokenHash* h = a->add_token_hashes();
      h->set_sha256(t.record.token_sha256);
    }
    if (!t.record.previous_token_sha256.empty() && t.record.previous_valid_until_unix_ms > UnixMs()) {
      v1::TokenHash* h = a->add_token_hashes();
      h->set_sha256(t.record.previous_token_sha256);
      h->set_valid_until_unix_ms(t.record.previous_valid_until_unix_ms);
    }
    a->set_stored_version(t.stored_version);
    a->set_pinned_version(t.record.pinned_version);
    a->set_rollback_to(t.record.rollback_to);
    a->set_rollback_seq(t.record.rollback_seq);
    a->set_serving_version(t.record.version);
    a->set_keep(t.keep);
    a->set_keep_days(t.keep_days);
  }
}

grpc::Status CoordinatorService::UploadBundle(grpc::ServerContext* context,
                                              grpc::ServerReader<v1::FileChunk>* reader,
                                              v1::UploadBundleResponse* response) {
  const auto& md = context->client_metadata();
  auto task_it = md.find("mliot-task");
  auto version_it = md.find("mliot-version");
  int64_t version = 0;
  if (task_it == md.end() || version_it == md.end() ||
      !absl::SimpleAtoi(std::string(version_it->second.data(), version_it->second.size()), &version)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "upload needs mliot-task and mliot-version metadata");
  }
  const std::string task(task_it->second.data(), task_it->second.size());
  {
    absl::MutexLock lock(&mu_);
    if (tasks_.count(task) == 0) return TaskNotFound(task);
  }
  const std::string dir = absl::StrCat(o_.data_dir, "/bundles/", task);
  const std::string tmp = absl::StrCat(dir, "/.tmp-upload-", version, "-", reinterpret_cast<uintptr_t>(reader));
  fs::remove_all(tmp);
  FileReceiver receiver(tmp);
  v1::FileChunk chunk;
  while (reader->Read(&chunk)) {
    if (absl::Status s = receiver.Add(chunk); !s.ok()) {
      fs::remove_all(tmp);
      return ToGrpc(s);
    }
  }
  if (absl::Status s = receiver.Finish(); !s.ok()) {
    fs::remove_all(tmp);
    return ToGrpc(s);
  }
  // The version directory appears in one rename; data/ once.
  std::error_code ec;
  const std::string vdir = absl::StrCat(dir, "/", version);
  if (fs::exists(tmp + "/data")) {
    fs::remove_all(dir + "/data", ec);
    fs::rename(tmp + "/data", dir + "/data", ec);
  }
  if (!fs::exists(vdir) && fs::exists(absl::StrCat(tmp, "/", version, "/manifest.pb"))) {
    fs::rename(absl::StrCat(tmp, "/", version), vdir, ec);
  }
  fs::remove_all(tmp);
  if (!fs::exists(vdir + "/manifest.pb")) {
    return grpc::Status(grpc::StatusCode::DATA_LOSS, "uploaded bundle has no manifest");
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(task);
    if (it != tasks_.end()) {
      it->second.stored_version = std::max(it->second.stored_version, version);
      RetainLocked(it->second);
    }
  }
  response->set_version(version);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::DownloadBundle(grpc::ServerContext*, const v1::DownloadRequest* request,
                                                grpc::ServerWriter<v1::FileChunk>* writer) {
  const std::string root = absl::StrCat(o_.data_dir, "/bundles/", request->task());
  const int64_t version = request->version() > 0 ? request->version() : StoredVersion(request->task());
  if (version <= 0 || !fs::exists(absl::StrCat(root, "/", version, "/manifest.pb"))) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no stored bundle version ", version, " for task '", request->task(), "'"));
  }
  std::vector<std::string> files = ListFiles(root, std::to_string(version));
  for (const std::string& f : ListFiles(root, "data")) files.push_back(f);
  return ToGrpc(SendFiles(root, files, [&](const v1::FileChunk& c) { return writer->Write(c); }));
}

grpc::Status CoordinatorService::DownloadData(grpc::ServerContext*, const v1::DownloadRequest* request,
                                              grpc::ServerWriter<v1::FileChunk>* writer) {
  const std::string root = absl::StrCat(o_.data_dir, "/data/", request->task());
  const std::string name = fs::path(request->name()).filename().string();
  if (name.empty() || !fs::exists(root + "/" + name)) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("no data file '", request->name(), "' for task '", request->task(), "'"));
  }
  return ToGrpc(SendFiles(root, {name}, [&](const v1::FileChunk& c) { return writer->Write(c); }));
}

grpc::Status CoordinatorService::Submit(grpc::ServerContext*, const v1::SubmitRequest* request,
                                        v1::SubmitResponse* response) {
  absl::StatusOr<TaskSpec> spec = ParseTaskSpec(request->spec_yaml());
  if (!spec.ok()) return ToGrpc(spec.status());
  if (absl::Status s = RequireExpr::Parse(spec->require).status(); !s.ok()) {
    return ToGrpc(Annotate(s, "spec: device.require"));
  }
  if (absl::Status s = PreferRule::Parse(spec->prefer).status(); !s.ok()) {
    return ToGrpc(Annotate(s, "spec: device.prefer"));
  }
  std::map<std::string, const v1::DataFile*> files;
  for (const v1::DataFile& f : request->files()) files[f.name()] = &f;
  for (const std::string& path : DataFiles(spec->data)) {
    if (files.count(path) == 0) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("spec: data: file '", path, "' was not sent with the spec"));
    }
  }
  absl::MutexLock lock(&mu_);
  if (tasks_.count(spec->name)) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, absl::StrCat("task '", spec->name, "' exists; cancel it first"));
  }
  TaskEntry t;
  t.require = spec->require;
  t.prefer = spec->prefer;
  t.image = IsImageData(spec->data);
  t.budget_s = spec->budget_s;
  t.keep = spec->versions.keep;
  t.keep_days = spec->versions.keep_days;
  t.record.name = spec->name;
  t.record.spec_yaml = request->spec_yaml();
  if (!PlaceLocked(t, "", response)) {
    Log(absl::StrCat("task ", spec->name, " refused: ", t.record.message));
    return grpc::Status::OK;  // accepted = false, reasons filled
  }
  // Data first, then the record: a task is stored whole or not at all.
  const std::string data_dir = absl::StrCat(o_.data_dir, "/data/", spec->name);
  std::error_code ec;
  fs::create_directories(data_dir, ec);
  for (const std::string& path : DataFiles(spec->data)) {
    const std::string target = data_dir + "/" + fs::path(path).filename().string();
    if (absl::Status s = WriteFileAtomically(target, files[path]->content()); !s.ok()) {
      fs::remove_all(data_dir, ec);
      return ToGrpc(s);
    }
  }
  t.record.token_generation = 1;
  const std::string token = secrets_->TaskToken(spec->name, 1);
  t.record.token_sha256 = auth::Sha256Hex(token);
  t.record.state = TaskState::kPending;
  t.record.created_unix_ms = t.record.updated_unix_ms = UnixMs();
  if (absl::Status s = store_->PutTask(t.record); !s.ok()) {
    fs::remove_all(data_dir, ec);
    return ToGrpc(s);
  }
  response->set_task(spec->name);
  response->set_node(t.record.node);
  response->set_token(token);
  IndexTokens(t.record);
  Log(absl::StrCat("task ", spec->name, " placed on ", t.record.node, " (ranking ", t.record.ranking, ")"));
  MoveInIndexLocked(spec->name, "", t.record.node);
  tasks_[spec->name] = std::move(t);
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::ListNodes(grpc::ServerContext*, const v1::ListNodesRequest*,
                                           v1::ListNodesResponse* response) {
  std::map<std::string, std::set<std::string>> by_node;
  {
    absl::MutexLock lock(&mu_);
    by_node = tasks_by_node_;
  }
  for (const NodeEntry& e : registry_.All()) {
    v1::NodeSummary* s = response->add_nodes();
    *s->mutable_info() = e.info;
    s->set_alive(e.alive);
    *s->mutable_metrics() = e.metrics;
    for (const std::string& t : by_node[e.info.name()]) s->add_tasks(t);
  }
  return grpc::Status::OK;
}

void CoordinatorService::FillInfo(const TaskEntry& t, v1::TaskInfo* info) const {
  info->set_name(t.record.name);
  info->set_node(t.record.node);
  info->set_phase(PhaseOf(t.record.state));
  info->set_version(t.record.version);
  info->set_serving_address(t.serving_address);
  info->set_message(t.record.message);
  info->set_disk_bytes(t.reported.disk_bytes() + t.stored_bytes);
  info->set_pinned_version(t.record.pinned_version);
  for (std::string& e : MergeEvents({t.reported.events().begin(), t.reported.events().end()}, t.events, 20)) {
    info->add_events(std::move(e));
  }
  nlohmann::json ranking = nlohmann::json::parse(t.record.ranking.empty() ? "[]" : t.record.ranking, nullptr, false);
  if (ranking.is_array()) {
    for (const auto& n : ranking) info->add_ranking(n.get<std::string>());
  }
}

absl::StatusOr<std::string> CoordinatorService::ServingAddressOf(const std::string& task) const {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(task);
  if (it == tasks_.end() || it->second.serving_address.empty()) {
    return absl::NotFoundError(absl::StrCat("model '", task, "' is not served (unknown, or not serving yet)"));
  }
  return it->second.serving_address;
}

std::vector<std::string> CoordinatorService::ServingTasks() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::string> names;
  for (const auto& [name, t] : tasks_) {
    if (!t.serving_address.empty()) names.push_back(name);
  }
  return names;
}

std::vector<prometheus::MetricFamily> CoordinatorService::MetricFamilies() const {
  using metrics::Family;
  using metrics::Sample;
  using prometheus::MetricType;
  auto placements = Family("mliot_placements_total", "Placement decisions, by outcome (placed or refused: no eligible node)",
                           MetricType::Counter);
  placements.metric.push_back(Sample(static_cast<double>(placed_.load()), {{"outcome", "placed"}}));
  placements.metric.push_back(Sample(static_cast<double>(refused_.load()), {{"outcome", "refused"}}));
  auto heartbeats = Family("mliot_heartbeats_total", "Node heartbeats the coordinator handled", MetricType::Counter);
  heartbeats.metric.push_back(Sample(static_cast<double>(heartbeats_.load()), {}));
  auto nodes = Family("mliot_nodes", "Registered nodes, by liveness", MetricType::Gauge);
  auto load = Family("mliot_node_load", "Each node's load as its heartbeats report it (EWMA; 1 = full)",
                     MetricType::Gauge);
  int alive = 0, dead = 0;
  for (const NodeEntry& e : registry_.All()) {
    (e.alive ? alive : dead)++;
    if (e.alive) load.metric.push_back(Sample(e.metrics.load(), {{"node", e.info.name()}}));
  }
  nodes.metric.push_back(Sample(alive, {{"state", "alive"}}));
  nodes.metric.push_back(Sample(dead, {{"state", "dead"}}));
  auto tasks = Family("mliot_tasks", "Tasks, by state", MetricType::Gauge);
  std::map<std::string, int> by_state = {{"pending", 0}, {"training", 0}, {"serving", 0}, {"failed", 0}};
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, t] : tasks_) by_state[TaskStateName(t.record.state)]++;
  }
  for (const auto& [state, n] : by_state) tasks.metric.push_back(Sample(n, {{"state", state}}));
  return {placements, heartbeats, nodes, load, tasks};
}

grpc::Status CoordinatorService::ListTasks(grpc::ServerContext*, const v1::ListTasksRequest*,
                                           v1::ListTasksResponse* response) {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, t] : tasks_) FillInfo(t, response->add_tasks());
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::GetTask(grpc::ServerContext* context, const v1::GetTaskRequest* request,
                                         v1::TaskInfo* info) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(request->task());
  if (it == tasks_.end()) {
    return TaskNotFound(request->task());
  }
  FillInfo(it->second, info);
  // The token goes to the admin only (a client already holds it); a token
  // kept from before schema 4 cannot be shown: `mliot token rotate` makes one.
  const TaskRecord& r = it->second.record;
  if (auth::Authorizer::CallerOf(*context).role == auth::kAdmin && r.token_generation > 0) {
    info->set_token(secrets_->TaskToken(r.name, r.token_generation));
  }
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::Cancel(grpc::ServerContext*, const v1::CancelRequest* request,
                                        v1::CancelResponse*) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(request->task());
  if (it == tasks_.end()) {
    return TaskNotFound(request->task());
  }
  if (absl::Status s = store_->DeleteTask(request->task()); !s.ok()) return ToGrpc(s);
  UnindexTokens(it->second.record);
  MoveInIndexLocked(it->first, it->second.record.node, "");
  tasks_.erase(it);
  std::error_code ec;
  fs::remove_all(absl::StrCat(o_.data_dir, "/data/", request->task()), ec);
  fs::remove_all(absl::StrCat(o_.data_dir, "/bundles/", request->task()), ec);
  Log(absl::StrCat("task ", request->task(), " cancelled"));
  return grpc::Status::OK;
}

void CoordinatorService::EventLocked(TaskEntry& task, const std::string& text) {
  AppendEvent(&task.events, text, 20);
  Log(absl::StrCat("task ", task.record.name, ": ", text));
}

void CoordinatorService::RetainLocked(TaskEntry& t) {
  const std::string dir = absl::StrCat(o_.data_dir, "/bundles/", t.record.name);
  // What failover needs stays: the newest (always), serving and pinned.
  std::set<int64_t> retired;
  for (const v1::VersionStatus& v : t.reported.versions()) {
    if (v.state() == "retired") retired.insert(v.version());
  }
  const std::vector<int64_t> deleted = ApplyRetention(dir, RetentionPolicy{t.keep, t.keep_days},
                                                      {t.record.version, t.record.pinned_version}, NowUnixMs(), retired);
  if (!deleted.empty()) {
    EventLocked(t, absl::StrCat("retention at the coordinator (keep ", t.keep, ") deleted stored version",
                                deleted.size() > 1 ? "s " : " ", absl::StrJoin(deleted, ", ")));
  }
  t.stored_bytes = DirectoryBytes(dir);
}

void CoordinatorService::WakeNode(const std::string& node) {
  std::optional<NodeEntry> entry = registry_.Get(node);
  if (!entry || entry->info.address().empty()) return;
  const std::string address = entry->info.address();
  const TlsOptions tls = o_.tls;
  std::thread([address, tls, wake = secrets_->WakeToken(node)] {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(address, tls, DefaultChannelArguments(), wake);
    if (!channel.ok()) return;
    std::unique_ptr<v1::Node::Stub> stub = v1::Node::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(2));
    v1::WakeResponse response;
    (void)stub->Wake(&ctx, v1::WakeRequest{}, &response);  // the next heartbeat carries the command anyway
  }).detach();
}

std::vector<v1::VersionStatus> CoordinatorService::VersionsLocked(const TaskEntry& t) const {
  const std::string dir = absl::StrCat(o_.data_dir, "/bundles/", t.record.name);
  const std::vector<int64_t> stored = VersionNumbers(dir);
  auto at_coordinator = [&](int64_t v) { return std::binary_search(stored.begin(), stored.end(), v); };
  std::map<int64_t, v1::VersionStatus> out;
  for (const v1::VersionStatus& v : t.reported.versions()) {
    v1::VersionStatus r = v;
    if (at_coordinator(v.version())) {
      r.set_stored(r.stored().empty() ? "coordinator" : "node+coordinator");
      if (r.state() == "deleted") {
        r.set_state("retained");  // still at the coordinator: it can be served again
        r.set_bytes(DirectoryBytes(absl::StrCat(dir, "/", v.version())));
      }
    }
    out[v.version()] = std::move(r);
  }
  for (int64_t v : stored) {
    if (out.count(v)) continue;
    v1::BundleManifest m;
    if (!ReadManifest(dir, v, &m).ok()) continue;
    v1::VersionStatus r;
    r.set_version(v);
    r.set_state(v == t.record.pinned_version ? "pinned" : v == t.record.version ? "serving" : "retained");
    r.set_origin(m.origin().empty() ? "training" : m.origin());
    r.set_parent(m.parent());
    r.set_created_unix_ms(m.created_unix_ms());
    r.set_validation_accuracy(m.val_accuracy());
    r.set_feedback_accuracy(-1);
    r.set_bytes(DirectoryBytes(absl::StrCat(dir, "/", v)));
    r.set_stored("coordinator");
    out[v] = std::move(r);
  }
  std::vector<v1::VersionStatus> list;
  for (auto& [v, r] : out) list.push_back(std::move(r));
  return list;
}

grpc::Status CoordinatorService::ListVersions(grpc::ServerContext*, const v1::ListVersionsRequest* request,
                                              v1::ListVersionsResponse* response) {
  absl::MutexLock lock(&mu_);
  auto it = tasks_.find(request->task());
  if (it == tasks_.end()) {
    return TaskNotFound(request->task());
  }
  for (v1::VersionStatus& v : VersionsLocked(it->second)) *response->add_versions() = std::move(v);
  response->set_serving_version(it->second.record.version);
  response->set_pinned_version(it->second.record.pinned_version);
  return grpc::Status::OK;
}

namespace {

// A version a command may name: listed and not deleted everywhere.
grpc::Status CheckServable(const std::vector<v1::VersionStatus>& versions, const std::string& task, int64_t v) {
  for (const v1::VersionStatus& s : versions) {
    if (s.version() != v) continue;
    if (s.state() == "deleted") {
      return grpc::Status(grpc::StatusCode::NOT_FOUND,
                          absl::StrCat("task '", task, "': version ", v, " was deleted (retention); `mliot versions` lists what is kept"));
    }
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("task '", task, "' has no version ", v));
}

}  // namespace

grpc::Status CoordinatorService::Rollback(grpc::ServerContext*, const v1::RollbackRequest* request,
                                          v1::RollbackResponse* response) {
  const auto started = std::chrono::steady_clock::now();
  int64_t seq = 0;
  std::string node;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(request->task());
    if (it == tasks_.end()) {
      return TaskNotFound(request->task());
    }
    TaskEntry& t = it->second;
    if (request->to() <= 0) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "rollback: --to must be a version >= 1");
    if (t.record.pinned_version > 0) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("task '", t.record.name, "' is pinned to version ", t.record.pinned_version,
                                       "; `mliot pin --clear` first"));
    }
    if (grpc::Status s = CheckServable(VersionsLocked(t), t.record.name, request->to()); !s.ok()) return s;
    if (t.record.node.empty()) {
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, absl::StrCat("task '", t.record.name, "' is not placed"));
    }
    TaskRecord updated = t.record;
    updated.rollback_to = request->to();
    updated.rollback_seq = t.record.rollback_seq + 1;
    if (absl::Status s = store_->PutTask(updated); !s.ok()) return ToGrpc(s);
    t.record = updated;
    seq = updated.rollback_seq;
    node = t.record.node;
    EventLocked(t, absl::StrCat("rollback to version ", request->to(), " asked (command ", seq, ")"));
  }
  WakeNode(node);
  // Wait until the node reports it serves the copy it published.
  const auto wait = std::chrono::milliseconds(request->wait_ms() > 0 ? request->wait_ms() : 10000);
  while (std::chrono::steady_clock::now() - started < wait) {
    {
      absl::MutexLock lock(&mu_);
      auto it = tasks_.find(request->task());
      if (it == tasks_.end()) return grpc::Status(grpc::StatusCode::ABORTED, "the task was cancelled meanwhile");
      const v1::TaskStatus& r = it->second.reported;
      if (r.rollback_seq() >= seq) {
        if (r.rollback_version() <= 0) {
          std::string why = r.events_size() > 0 ? r.events(r.events_size() - 1) : "see the node's log";
          return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, absl::StrCat("the node could not roll back: ", why));
        }
        if (r.version() == r.rollback_version()) {
          response->set_to(request->to());
          response->set_version(r.rollback_version());
          response->set_serving_after_ms(
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count());
          return grpc::Status::OK;
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                      absl::StrCat("rollback to version ", request->to(), " is recorded (command ", seq,
                                   ") but node ", node, " has not reported serving it yet; it will when it heart-beats"));
}

grpc::Status CoordinatorService::Pin(grpc::ServerContext*, const v1::PinRequest* request, v1::PinResponse* response) {
  std::string node;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(request->task());
    if (it == tasks_.end()) {
      return TaskNotFound(request->task());
    }
    TaskEntry& t = it->second;
    if (!request->clear()) {
      if (request->version() <= 0) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "pin: --version must be >= 1 (or --clear)");
      if (grpc::Status s = CheckServable(VersionsLocked(t), t.record.name, request->version()); !s.ok()) return s;
    }
    TaskRecord updated = t.record;
    updated.pinned_version = request->clear() ? 0 : request->version();
    if (absl::Status s = store_->PutTask(updated); !s.ok()) return ToGrpc(s);
    t.record = updated;
    node = t.record.node;
    EventLocked(t, request->clear() ? "pin cleared" : absl::StrCat("pinned to version ", request->version()));
    response->set_pinned_version(updated.pinned_version);
  }
  WakeNode(node);
  return grpc::Status::OK;
}

void CoordinatorService::IndexTokens(const TaskRecord& r) {
  absl::MutexLock lock(&auth_mu_);
  if (!r.token_sha256.empty()) holders_[r.token_sha256] = {auth::Identity{auth::kClient, r.name}, 0};
  if (!r.previous_token_sha256.empty()) {
    holders_[r.previous_token_sha256] = {auth::Identity{auth::kClient, r.name}, r.previous_valid_until_unix_ms};
  }
}

void CoordinatorService::UnindexTokens(const TaskRecord& r) {
  absl::MutexLock lock(&auth_mu_);
  holders_.erase(r.token_sha256);
  holders_.erase(r.previous_token_sha256);
}

std::optional<auth::Identity> CoordinatorService::IdentityOf(const std::string& token_sha256) {
  absl::MutexLock lock(&auth_mu_);
  auto it = holders_.find(token_sha256);
  if (it == holders_.end()) return std::nullopt;
  if (it->second.valid_until_unix_ms > 0 && UnixMs() >= it->second.valid_until_unix_ms) return std::nullopt;
  return it->second.identity;
}

bool CoordinatorService::NodeHasTask(const std::string& node, const std::string& task) const {
  absl::MutexLock lock(&mu_);
  auto it = tasks_by_node_.find(node);
  return it != tasks_by_node_.end() && it->second.count(task) > 0;
}

bool CoordinatorService::NodeRevoked(const std::string& node) const {
  absl::MutexLock lock(&auth_mu_);
  auto it = node_credentials_.find(node);
  return it != node_credentials_.end() && it->second.revoked;
}

grpc::Status CoordinatorService::RotateToken(grpc::ServerContext*, const v1::RotateTokenRequest* request,
                                             v1::RotateTokenResponse* response) {
  const double grace_s = request->has_grace_s() ? request->grace_s() : o_.token_grace_s;
  if (!(grace_s >= 0) || grace_s > 30 * 86400) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "grace_s must be between 0 and 2592000 (30 days)");
  }
  std::string node;
  {
    absl::MutexLock lock(&mu_);
    auto it = tasks_.find(request->task());
    if (it == tasks_.end()) return TaskNotFound(request->task());
    TaskRecord updated = it->second.record;
    updated.previous_token_sha256 = updated.token_sha256;
    updated.previous_valid_until_unix_ms = UnixMs() + static_cast<int64_t>(grace_s * 1000);
    updated.token_generation = std::max<int64_t>(updated.token_generation, 0) + 1;
    const std::string token = secrets_->TaskToken(updated.name, updated.token_generation);
    updated.token_sha256 = auth::Sha256Hex(token);
    updated.updated_unix_ms = UnixMs();
    if (absl::Status s = store_->PutTask(updated); !s.ok()) return ToGrpc(s);
    UnindexTokens(it->second.record);
    IndexTokens(updated);
    it->second.record = updated;
    EventLocked(it->second, absl::StrFormat("token rotated (generation %d); the old one works %.0f s more",
                                            updated.token_generation, grace_s));
    response->set_task(updated.name);
    response->set_token(token);
    response->set_generation(updated.token_generation);
    response->set_previous_valid_until_unix_ms(updated.previous_valid_until_unix_ms);
    node = updated.node;
  }
  if (!node.empty()) WakeNode(node);  // its serving worker learns the new hash at once
  return grpc::Status::OK;
}

grpc::Status CoordinatorService::RevokeNode(grpc::ServerContext*, const v1::RevokeNodeRequest* request,
                                            v1::RevokeNodeResponse* response) {
  const std::string& name = request->name();
  if (!ValidNodeName(name)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, absl::StrCat("'", name, "' is not a node name"));
  }
  NodeCredentialRecord credential;
  {
    absl::MutexLock lock(&auth_mu_);
    auto it = node_credentials_.find(name);
    if (it != node_credentials_.end()) credential = it->second;
  }
  if (credential.name.empty() && !registry_.Get(name)) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, absl::StrCat("node '", name, "' not found"));
  }
  credential.name = name;
  credential.revoked = true;
  credential.issued_unix_ms = UnixMs();
  if (absl::Status s = store_->PutNodeCredential(credential); !s.ok()) return ToGrpc(s);
  {
    absl::MutexLock lock(&auth_mu_);
    holders_.erase(credential.token_sha256);
    node_credentials_[name] = credential;
  }
  {
    absl::MutexLock lock(&mu_);
    if (auto it = tasks_by_node_.find(name); it != tasks_by_node_.end()) {
      for (const std::string& t : it->second) response->add_tasks(t);
    }
  }
  response->set_name(name);
  Log(absl::StrCat("node ", name, " revoked: its calls are refused; its ", response->tasks_size(),
                   " task(s) move when it is declared dead"));
  return grpc::Status::OK;
}

Coordinator::Coordinator(CoordinatorOptions options, const Clock* clock)
    : o_(options), service_(std::make_unique<CoordinatorService>(std::move(options), clock)) {}

Coordinator::~Coordinator() { Shutdown(); }

absl::Status Coordinator::Start() {
  // Abseil's mutex deadlock detection (on in this Abseil build, a debug
  // aid) records every lock of gRPC's own mutexes in a graph: about 7 % of
  // the coordinator's CPU at 10,000 heart-beating connections.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  MLIOT_RETURN_IF_ERROR(service_->Init());
  MLIOT_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds, ServerCredentials(o_.tls));
  grpc::ServerBuilder builder;
  auth::AuthorizerOptions auth_options;
  CoordinatorService* service = service_.get();
  auth_options.lookup = [service](const std::string& sha256) { return service->IdentityOf(sha256); };
  auth_options.node_has_task = [service](const std::string& node, const std::string& task) {
    return service->NodeHasTask(node, task);
  };
  auth_options.node_revoked = [service](const std::string& node) { return service->NodeRevoked(node); };
  auth_options.audit = [](const std::string& line) {
    Log(absl::StrCat(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ ", absl::Now(), absl::UTCTimeZone()), line));
  };
  // The processor runs on the transport thread: IdentityOf takes only auth_mu_;
  // NodeHasTask (mu_) is asked by the processor only for UploadBundle.
  auth_options.blocking = false;
  authorizer_ = std::make_unique<auth::Authorizer>(std::move(auth_options));
  authorizer_->Install(*creds, builder);
  int port = 0;
  builder.AddListeningPort(o_.listen, creds, &port);
  builder.RegisterService(service_.get());
  heartbeat_cq_ = builder.AddCompletionQueue();
  builder.SetMaxReceiveMessageSize(512 << 20);
  // No BDP probing: each node's connection carries one small heartbeat a
  // second, and a probe (a ping and its answer) after received data would
  // add a round of system calls to most heartbeats of a fresh connection.
  // Uploads to the coordinator keep HTTP/2's default 64 KiB window.
  builder.AddChannelArgument(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  // No keep-alive pings from the server. Its keep-alive timer (2 h by
  // default) is cancelled and set again on every read, and this gRPC build
  // (Debian's, assertions on) files every timer in a debug hash table of
  // 1,009 chains, walked on each set and cancel: with one resident timer
  // per connection the walks cost ~10 % of the coordinator's CPU at 10,000
  // nodes (perf). Dead nodes are found by their heartbeats, and a connection
  // left open by a vanished peer is closed once idle (connection_idle_ms):
  // 0.33-0.36 of a core instead of 0.40-0.42 (docs/BENCHMARKS.md).
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, std::numeric_limits<int>::max());
  builder.AddChannelArgument(GRPC_ARG_MAX_CONNECTION_IDLE_MS, o_.connection_idle_ms);
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    return absl::UnavailableError(absl::StrCat("coordinator: cannot listen on ", o_.listen));
  }
  address_ = absl::StrCat(o_.listen.substr(0, o_.listen.rfind(':')), ":", port);
  // The protocol front end proxies each call to the task's serving worker
  // (docs/PROTOCOLS.md: why a proxy, not a redirect).
  v2::FrontendOptions f;
  const std::string host = o_.listen.substr(0, o_.listen.rfind(':'));
  f.http_listen = o_.http_listen.empty() ? absl::StrCat(host, ":", port + 1) : o_.http_listen;
  f.any_port_if_taken = o_.http_listen.empty();
  f.tls = o_.tls;
  f.log_name = "coordinator";
  f.router.tls = o_.tls;
  f.router.resolve = [service](const std::string& task) { return service->ServingAddressOf(task); };
  f.router.tasks = [service] { return service->ServingTasks(); };
  f.metrics_text = [this] { return exposition_.Text(); };
  MLIOT_ASSIGN_OR_RETURN(frontend_, v2::Frontend::Start(std::move(f)));
  exposition_.AddCollector([this] { return frontend_->metrics().Collect(); });
  exposition_.AddCollector([service] { return service->MetricFamilies(); });
  exposition_.AddCollector([this] {
    auto refused = metrics::Family("mliot_auth_refusals_total",
                                   "Calls the coordinator's authorizer refused (no, unknown or insufficient credential)",
                                   prometheus::MetricType::Counter);
    refused.metric.push_back(metrics::Sample(static_cast<double>(authorizer_->refused()), {}));
    return std::vector<prometheus::MetricFamily>{refused};
  });
  frontend_->SetServing(true);
  heartbeat_thread_ = std::thread([this] {
    // Heartbeats can wait a few milliseconds (1 s period, 5 s timeout). As a
    // SCHED_BATCH thread this one does not preempt a running thread when a
    // heartbeat arrives; it reads those that arrived meanwhile together:
    // 0.37-0.40 of a core instead of 0.38-0.45 at 10,000 nodes (lower in 8 of
    // 8 interleaved runs, docs/BENCHMARKS.md). On a device that also runs
    // workers (`mliot up`) it yields to them the same way. Same CPU share.
    sched_param param{};
    (void)sched_setscheduler(0, SCHED_BATCH, &param);
    service_->ServeHeartbeats(heartbeat_cq_.get());
  });
  return absl::OkStatus();
}

v1::Endpoints Coordinator::endpoints() const {
  v1::Endpoints e;
  if (!frontend_) return e;
  e.set_v2_http(frontend_->http_url());
  e.set_v2_grpc(frontend_->grpc_address());
  e.set_metrics(frontend_->http_url() + "/metrics");
  return e;
}

void Coordinator::Shutdown() {
  frontend_.reset();
  if (server_) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
  }
  // The queue shuts down after the server, drains, and only then is freed.
  if (heartbeat_cq_) heartbeat_cq_->Shutdown();
  if (heartbeat_thread_.joinable()) heartbeat_thread_.join();
  if (heartbeat_cq_) {
    void* tag = nullptr;
    bool ok = false;
    while (heartbeat_cq_->Next(&tag, &ok)) std::unique_ptr<HeartbeatCall> call(static_cast<HeartbeatCall*>(tag));
  }
  server_.reset();
  heartbeat_cq_.reset();
  if (service_) service_->Shutdown();
}

}  // namespace mliot
