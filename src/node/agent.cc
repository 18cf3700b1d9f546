#include "node/agent.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <set>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "common/file_transfer.h"
#include "common/status_util.h"
#include "mliot/v1/node.grpc.pb.h"
#include "node/benchmark.h"
#include "common/process.h"
#include "lifecycle/lifecycle_state.h"
#include "auth/secrets.h"
#include "auth/token_set.h"
#include "lifecycle/publish.h"
#include "lifecycle/retention.h"
#include "serve/bundle_reader.h"
#include "train/task_spec.h"

namespace mliot {
namespace fs = std::filesystem;
namespace {

void Log(const std::string& node, const std::string& line) {
  std::fprintf(stderr, "node %s: %s\n", node.c_str(), line.c_str());
  std::fflush(stderr);
}

// The Node service: health and the tasks it runs.
class NodeServiceImpl final : public v1::Node::Service {
 public:
  NodeServiceImpl(const v1::NodeInfo* info, std::function<void()> wake) : info_(info), wake_(std::move(wake)) {}
  grpc::Status Health(grpc::ServerContext*, const v1::NodeHealthRequest*,
                      v1::NodeHealthResponse* response) override {
    *response->mutable_info() = *info_;
    return grpc::Status::OK;
  }
  grpc::Status Wake(grpc::ServerContext*, const v1::WakeRequest*, v1::WakeResponse*) override {
    wake_();
    return grpc::Status::OK;
  }

 private:
  const v1::NodeInfo* info_;
  std::function<void()> wake_;
};

int64_t LocalVersion(const std::string& bundle_dir) {
  absl::StatusOr<int64_t> v = LatestBundleVersion(bundle_dir);
  return v.ok() ? *v : 0;
}

}  // namespace

NodeAgent::NodeAgent(AgentOptions options) : o_(std::move(options)) {}

NodeAgent::~NodeAgent() {
  if (supervisor_) supervisor_->StopAll();
  if (server_) server_->Shutdown();
}

absl::StatusOr<v1::NodeBenchmark> NodeAgent::Benchmark() {
  if (o_.self_exe.empty()) return RunDeviceBenchmark(o_.benchmark);
  // In a child (`mliot worker benchmark`, in this agent's control group):
  // its reference cnn fit loads libtorch, which the agent itself never maps.
  const std::string dir = o_.data_dir + "/benchmark";
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::remove(dir + "/benchmark.pb", ec);
  MLIOT_ASSIGN_OR_RETURN(const pid_t pid,
                         Spawn(SpawnOptions{.args = {o_.self_exe, "worker", "benchmark", "--task-dir", dir,
                                                     "--benchmark", o_.benchmark},
                                            .stdin_path = "/dev/null",
                                            .stdout_path = dir + "/benchmark.log",
                                            .stderr_path = dir + "/benchmark.log"}));
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  absl::StatusOr<std::string> blob = ReadFile(dir + "/benchmark.pb");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !blob.ok()) {
    absl::StatusOr<std::string> log = ReadFile(dir + "/benchmark.log");
    return absl::InternalError(absl::StrCat("device benchmark failed: ", log.ok() ? *log : "(no log)"));
  }
  v1::NodeBenchmark b;
  if (!b.ParseFromString(*blob)) return absl::DataLossError(absl::StrCat(dir, "/benchmark.pb: not a NodeBenchmark"));
  return b;
}

absl::Status NodeAgent::Start() {
  if (o_.name.empty()) return absl::InvalidArgumentError("--name is required");
  if (o_.coordinator.empty()) return absl::InvalidArgumentError("--coordinator is required");
  fs::create_directories(o_.data_dir + "/tasks");
  limiter_ = ResourceLimiter::Detect(o_.cgroup_prefix.empty() ? absl::StrCat("mliot-", o_.name) : o_.cgroup_prefix);
  supervisor_ = std::make_unique<Supervisor>(limiter_.get());
  const HostMetrics host = sampler_.Sample();
  info_.set_name(o_.name);
  info_.set_cores(o_.cores > 0 ? o_.cores : host.cores);
  sampler_.set_device_cores(info_.cores());
  info_.set_cpu_quota_cores(sampler_.quota_cores());
  info_.set_memory_mb(o_.memory_mb > 0 ? o_.memory_mb : host.memory_mb);
  info_.set_gpu(o_.gpu);
  info_.set_arch(
#if defined(__x86_64__)
      "x86_64"
#elif defined(__aarch64__)
      "aarch64"
#else
      "unknown"
#endif
  );
  for (const auto& [k, v] : o_.labels) (*info_.mutable_labels())[k] = v;
  info_.set_rtt_ms(o_.rtt_ms);
  info_.set_isolation(limiter_->isolation());
  Log(o_.name, absl::StrCat("resource isolation: ", limiter_->isolation()));
  MLIOT_ASSIGN_OR_RETURN(*info_.mutable_benchmark(), Benchmark());
  Log(o_.name, absl::StrFormat("benchmark (%s, %.1fs, %.0f%% of the CPU): image %.3f ms, sensor %.3f ms, "
                               "request %.3f ms, train speed %.2f, %d kinds timed%s",
                               o_.benchmark, info_.benchmark().seconds(), 100 * info_.benchmark().cpu_share(),
                               info_.benchmark().image_predict_ms(), info_.benchmark().sensor_predict_ms(),
                               info_.benchmark().request_ms(), info_.benchmark().train_speed(),
                               info_.benchmark().kind_predict_ms_size(),
                               sampler_.quota_cores() > 0
                                   ? absl::StrFormat("; CPU quota %.3f cores", sampler_.quota_cores())
                                   : ""));
  // The Node endpoint.
  MLIOT_ASSIGN_OR_RETURN(std::shared_ptr<grpc::ServerCredentials> creds, ServerCredentials(o_.tls));
  MLIOT_RETURN_IF_ERROR(LoadCredentials());
  node_service_ = std::make_unique<NodeServiceImpl>(&info_, [this] { WakeUp(); });
  grpc::ServerBuilder builder;
  // Node.Health and Node.Wake: the coordinator only (auth/roles.h).
  auth::AuthorizerOptions auth_options;
  auth_options.lookup = [this](const std::string& sha256) -> std::optional<auth::Identity> {
    if (!IsCoordinator(sha256)) return std::nullopt;
    return auth::Identity{auth::kCoordinator, ""};
  };
  auth_options.audit = [name = o_.name](const std::string& line) { Log(name, line); };
  authorizer_ = std::make_unique<auth::Authorizer>(std::move(auth_options));
  authorizer_->Install(*creds, builder);
  int port = 0;
  builder.AddListeningPort(o_.listen, creds, &port);
  builder.RegisterService(node_service_.get());
  server_ = builder.BuildAndStart();
  if (!server_ || port == 0) {
    return absl::UnavailableError(absl::StrCat("node: cannot listen on ", o_.listen));
  }
  const std::string host_part = o_.listen.substr(0, o_.listen.rfind(':'));
  address_ = absl::StrCat(host_part, ":", port);
  if (o_.added_rtt_ms > 0) {
    MLIOT_ASSIGN_OR_RETURN(proxy_, DelayProxy::Start(address_, o_.added_rtt_ms, host_part));
    Log(o_.name, absl::StrCat("emulated network: ", o_.added_rtt_ms, " ms added to every round trip (", proxy_->address(),
                              " -> ", address_, ")"));
    address_ = proxy_->address();
  }
  info_.set_address(address_);
  // The protocol front end: HTTP on the next port, its v2 gRPC after it.
  std::string http_listen = o_.http_listen;
  if (http_listen.empty()) http_listen = absl::StrCat(host_part, ":", o_.listen.ends_with(":0") ? 0 : port + 1);
  MLIOT_ASSIGN_OR_RETURN(frontend_, NodeFrontend::Start(o_.name, http_listen, o_.http_listen.empty(), o_.tls));
  *info_.mutable_endpoints() = frontend_->endpoints();
  Log(o_.name, absl::StrCat("Open Inference Protocol on ", info_.endpoints().v2_http(), " and ",
                            info_.endpoints().v2_grpc(), "; metrics at ", info_.endpoints().metrics()));
  MLIOT_ASSIGN_OR_RETURN(channel_, MakeChannel(o_.coordinator, o_.tls, CoordinatorChannelArguments()));
  coordinator_ = v1::Coordinator::NewStub(channel_);
  absl::Status registered = Register();
  if (!registered.ok()) {
    // Not fatal: the coordinator may come later; Run() keeps trying.
    Log(o_.name, absl::StrCat("coordinator not reachable yet: ", registered.message()));
  }
  return absl::OkStatus();
}

absl::Status NodeAgent::LoadCredentials() {
  const std::string path = o_.data_dir + "/node.token";
  absl::MutexLock lock(&cred_mu_);
  if (fs::exists(path)) {
    MLIOT_ASSIGN_OR_RETURN(std::string saved, auth::ReadSecretFile(path));
    std::vector<std::string> lines = absl::StrSplit(saved, '\n', absl::SkipWhitespace());
    if (!lines.empty()) {
      bearer_ = std::string(absl::StripAsciiWhitespace(lines[0]));
      has_node_token_ = true;
    }
    if (lines.size() > 1) wake_sha256_ = auth::Sha256Hex(std::string(absl::StripAsciiWhitespace(lines[1])));
  }
  return LoadJoinTokenLocked();
}

absl::Status NodeAgent::LoadJoinTokenLocked() {
  if (!join_token_.empty() || o_.join_token_file.empty()) return absl::OkStatus();
  absl::StatusOr<std::string> read = auth::ReadSecretFile(o_.join_token_file);
  // Not there yet: a coordinator started a moment ago writes it; Register() asks again.
  if (absl::IsNotFound(read.status())) return absl::OkStatus();
  if (!read.ok()) return absl::Status(read.status().code(), absl::StrCat("join token: ", read.status().message()));
  join_token_ = *read;
  if (!has_node_token_) bearer_ = join_token_;
  return absl::OkStatus();
}

void NodeAgent::Authorize(grpc::ClientContext& ctx) {
  absl::MutexLock lock(&cred_mu_);
  if (!bearer_.empty()) ctx.AddMetadata(kAuthorization, BearerValue(bearer_));
}

bool NodeAgent::IsCoordinator(const std::string& sha256) {
  absl::MutexLock lock(&cred_mu_);
  return !wake_sha256_.empty() && auth::ConstantTimeEquals(sha256, wake_sha256_);
}

absl::Status NodeAgent::Register() {
  v1::RegisterNodeRequest request;
  *request.mutable_info() = info_;
  v1::RegisterNodeResponse response;
  grpc::Status status;
  {
    absl::MutexLock lock(&cred_mu_);
    MLIOT_RETURN_IF_ERROR(LoadJoinTokenLocked());
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    Authorize(ctx);
    status = coordinator_->RegisterNode(&ctx, request, &response);
    if (status.error_code() != grpc::StatusCode::UNAUTHENTICATED) break;
    // The coordinator no longer knows this node's credential (its state was
    // lost): join again, when a join token was given.
    absl::MutexLock lock(&cred_mu_);
    if (!has_node_token_ || join_token_.empty()) break;
    Log(o_.name, "the coordinator refused this node's credential; joining again with the join token");
    bearer_ = join_token_;
    has_node_token_ = false;
  }
  MLIOT_RETURN_IF_ERROR(FromGrpc(status));
  {
    absl::MutexLock lock(&cred_mu_);
    if (!response.node_token().empty()) {
      bearer_ = response.node_token();
      has_node_token_ = true;
    }
    if (!response.wake_token().empty()) wake_sha256_ = auth::Sha256Hex(response.wake_token());
    if (has_node_token_) {
      MLIOT_RETURN_IF_ERROR(auth::WritePrivateFile(o_.data_dir + "/node.token",
                                                   absl::StrCat(bearer_, "\n", response.wake_token(), "\n")));
    }
  }
  if (response.heartbeat_interval_ms() > 0) o_.heartbeat_ms = response.heartbeat_interval_ms();
  registered_ = true;
  Log(o_.name, absl::StrCat("registered with ", o_.coordinator, " (node endpoint ", address_, ")"));
  return absl::OkStatus();
}

absl::Status NodeAgent::Prepare(TaskRun& run) {
  const v1::TaskAssignment& a = run.assignment;
  fs::create_directories(run.dir + "/data");
  fs::create_directories(run.dir + "/feedback");
  MLIOT_RETURN_IF_ERROR(WriteFileAtomically(run.dir + "/spec.yaml", a.spec_yaml()));
  MLIOT_ASSIGN_OR_RETURN(TaskSpec spec, ParseTaskSpec(a.spec_yaml()));
  // Data files named by the spec come from the coordinator's copy.
  for (const std::string& file : DataFiles(spec.data)) {
    const std::string name = fs::path(file).filename().string();
    if (fs::exists(run.dir + "/data/" + name)) continue;
    grpc::ClientContext ctx;
    v1::DownloadRequest request;
    request.set_task(a.task());
    request.set_name(file);
    Authorize(ctx);
    auto reader = coordinator_->DownloadData(&ctx, request);
    FileReceiver receiver(run.dir + "/data");
    v1::FileChunk chunk;
    while (reader->Read(&chunk)) MLIOT_RETURN_IF_ERROR(receiver.Add(chunk));
    MLIOT_RETURN_IF_ERROR(FromGrpc(reader->Finish()));
    MLIOT_RETURN_IF_ERROR(receiver.Finish());
  }
  // A folder of recordings arrives packed: unpack it beside (once).
  if (IsFolderData(spec.data)) {
    const std::string name = fs::path(DataFiles(spec.data)[0]).filename().string();
    const std::string folder = run.dir + "/data/" + name + ".d";
    if (!fs::exists(folder)) {
      MLIOT_ASSIGN_OR_RETURN(std::string blob, ReadFile(run.dir + "/data/" + name));
      const std::string tmp = folder + ".tmp";
      fs::remove_all(tmp);
      MLIOT_RETURN_IF_ERROR(UnpackDirectory(blob, tmp));
      fs::rename(tmp, folder);
    }
  }
  // A stored bundle newer than ours: this task ran elsewhere; serve it. The
  // version that was serving there and a pinned one come too, and serving
  // starts from the version that served (guarded promotion may have kept an
  // older one than the newest).
  const std::string bundle_dir = run.dir + "/bundle";
  if (a.stored_version() > LocalVersion(bundle_dir)) {
    const bool fresh = LocalVersion(bundle_dir) == 0;
    MLIOT_RETURN_IF_ERROR(DownloadVersion(run, a.stored_version()));
    for (int64_t v : {a.serving_version(), a.pinned_version()}) {
      if (v > 0 && v != a.stored_version()) {
        if (absl::Status s = DownloadVersion(run, v); !s.ok()) {
          Event(run, absl::StrCat("could not fetch version ", v, ": ", s.message()));
        }
      }
    }
    if (fresh && a.serving_version() > 0 && fs::exists(absl::StrCat(bundle_dir, "/", a.serving_version()))) {
      LifecycleState state;
      state.serving = a.serving_version();
      state.promoted.insert(a.serving_version());
      state.AddEvent(absl::StrCat("version ", a.serving_version(), " serving (it served before this task moved here)"));
      MLIOT_RETURN_IF_ERROR(WriteLifecycleState(bundle_dir, state));
    }
    run.uploaded_version = a.stored_version();
    Log(o_.name, absl::StrCat(a.task(), ": fetched stored bundle version ", a.stored_version()));
  }
  absl::StatusOr<std::string> seq = ReadFile(run.dir + "/rollback.seq");
  if (seq.ok()) (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(*seq), &run.rollback_seq);
  if (run.rollback_seq == 0 && !seq.ok()) {
    // A node new to this task does not replay rollbacks done elsewhere.
    run.rollback_seq = a.rollback_seq();
    MLIOT_RETURN_IF_ERROR(WriteFileAtomically(run.dir + "/rollback.seq", absl::StrCat(run.rollback_seq, "\n")));
  }
  fs::create_directories(bundle_dir);
  run.catalog = std::make_unique<VersionCatalog>(bundle_dir);
  run.prepared = true;
  return absl::OkStatus();
}

absl::Status NodeAgent::DownloadVersion(TaskRun& run, int64_t version) {
  const v1::TaskAssignment& a = run.assignment;
  const std::string bundle_dir = run.dir + "/bundle";
  const std::string tmp = absl::StrCat(run.dir, "/.tmp-download-", getpid());
  fs::remove_all(tmp);
  grpc::ClientContext ctx;
  v1::DownloadRequest request;
  request.set_task(a.task());
  request.set_version(version);
  Authorize(ctx);
  auto reader = coordinator_->DownloadBundle(&ctx, request);
  FileReceiver receiver(tmp);
  v1::FileChunk chunk;
  absl::Status received;
  while (reader->Read(&chunk)) {
    if (received.ok()) received = receiver.Add(chunk);
  }
  absl::Status finished = FromGrpc(reader->Finish());
  if (finished.ok() && received.ok()) received = receiver.Finish();
  if (!finished.ok() || !received.ok()) {
    fs::remove_all(tmp);
    return finished.ok() ? received : finished;
  }
  // Move data/ and then the version directory into place (atomic renames).
  fs::create_directories(bundle_dir);
  std::error_code ec;
  if (fs::exists(tmp + "/data") && !fs::exists(bundle_dir + "/data")) fs::rename(tmp + "/data", bundle_dir + "/data", ec);
  if (fs::exists(bundle_dir + "/data")) {
    // Feedback batches the version lists that this node lacks.
    for (const fs::directory_entry& e : fs::directory_iterator(tmp + "/data", ec)) {
      const fs::path target = fs::path(bundle_dir) / "data" / e.path().filename();
      if (!fs::exists(target)) fs::rename(e.path(), target, ec);
    }
  }
  for (const fs::directory_entry& e : fs::directory_iterator(tmp)) {
    const std::string name = e.path().filename().string();
    int64_t v;
    if (absl::SimpleAtoi(name, &v) && !fs::exists(bundle_dir + "/" + name)) {
      fs::rename(e.path(), bundle_dir + "/" + name, ec);
    }
  }
  fs::remove_all(tmp);
  return absl::OkStatus();
}

void NodeAgent::Event(TaskRun& run, const std::string& text) {
  AppendEvent(&run.events, text, 20);
  Log(o_.name, absl::StrCat(run.assignment.task(), ": ", text));
}

void NodeAgent::ApplyLifecycle(TaskRun& run) {
  const v1::TaskAssignment& a = run.assignment;
  const std::string bundle_dir = run.dir + "/bundle";
  const int64_t pin = ReadPin(bundle_dir);
  if (a.pinned_version() != pin) {
    const int64_t want = a.pinned_version();
    if (want > 0 && !fs::exists(absl::StrCat(bundle_dir, "/", want, "/manifest.pb"))) {
      if (absl::Status s = DownloadVersion(run, want); !s.ok()) {
        Event(run, absl::StrCat("pinned version ", want, " is not on this node and could not be fetched: ", s.message()));
      }
    }
    fast_heartbeats_ = 15;
    if (absl::Status s = WritePin(bundle_dir, want); s.ok()) {
      Event(run, want > 0 ? absl::StrCat("pinned to version ", want) : absl::StrCat("pin on version ", pin, " cleared"));
    }
  }
  if (a.rollback_seq() > run.rollback_seq) {
    fast_heartbeats_ = 15;
    const int64_t to = a.rollback_to();
    if (!fs::exists(absl::StrCat(bundle_dir, "/", to, "/manifest.pb"))) (void)DownloadVersion(run, to);
    absl::StatusOr<int64_t> copy = PublishRollback(bundle_dir, to);
    if (copy.ok()) {
      run.rollback_version = *copy;
      Event(run, absl::StrCat("rollback to version ", to, ": published its copy as version ", *copy));
    } else {
      run.rollback_version = 0;
      Event(run, absl::StrCat("rollback to version ", to, " failed: ", copy.status().message()));
    }
    run.rollback_seq = a.rollback_seq();
    (void)WriteFileAtomically(run.dir + "/rollback.seq", absl::StrCat(run.rollback_seq, "\n"));
  }
  // The serving worker's lifecycle events (promotions, retirements, swaps)
  // go to this node's log too.
  const LifecycleState state = ReadLifecycleState(bundle_dir).value_or(LifecycleState{});
  auto from = state.events.begin();
  if (!run.last_logged.empty()) {
    auto seen = std::find(state.events.begin(), state.events.end(), run.last_logged);
    from = seen == state.events.end() ? state.events.begin() : seen + 1;
  }
  for (auto it = from; it != state.events.end(); ++it) {
    Log(o_.name, absl::StrCat(a.task(), ": ", it->size() > 21 ? it->substr(21) : *it));  // without the time stamp
  }
  if (!state.events.empty()) run.last_logged = state.events.back();
  // Retention, every few seconds: never the serving, pinned or shadow version.
  const auto now = std::chrono::steady_clock::now();
  if (now < run.retention_due) return;
  run.retention_due = now + std::chrono::seconds(5);
  std::set<int64_t> protect = {state.serving, state.shadow, ReadPin(bundle_dir)};
  std::set<int64_t> retired;
  for (const auto& [v, why] : state.retired) retired.insert(v);
  const std::vector<int64_t> deleted = ApplyRetention(
      bundle_dir, RetentionPolicy{a.keep() > 0 ? a.keep() : 5, a.keep_days()}, protect, NowUnixMs(), retired);
  if (!deleted.empty()) {
    Event(run, absl::StrCat("retention (keep ", a.keep() > 0 ? a.keep() : 5,
                            a.keep_days() > 0 ? absl::StrCat(", ", a.keep_days(), " days") : "", ") deleted version",
                            deleted.size() > 1 ? "s " : " ", absl::StrJoin(deleted, ", ")));
  }
}

void NodeAgent::Drive(TaskRun& run) {
  if (!run.prepared) {
    absl::Status s = Prepare(run);
    if (!s.ok()) {
      run.error = std::string(s.message());
      Log(o_.name, absl::StrCat(run.assignment.task(), ": ", s.message()));
      return;
    }
    run.error.clear();
  }
  ApplyLifecycle(run);
  const std::string& task = run.assignment.task();
  // A worker's group sits inside the node's: under a node quota (a container,
  // a testbed device) it cannot be given more than that quota.
  double cpus = o_.worker_cpus > 0 ? o_.worker_cpus : info_.cores();
  if (sampler_.quota_cores() > 0) cpus = std::min(cpus, sampler_.quota_cores());
  std::vector<std::string> tls_args;
  if (!o_.tls.cert.empty()) tls_args.insert(tls_args.end(), {"--tls-cert", o_.tls.cert, "--tls-key", o_.tls.key});
  if (!o_.tls.ca.empty()) tls_args.insert(tls_args.end(), {"--tls-ca", o_.tls.ca});
  const std::string train_id = task + "/train";
  if (!supervisor_->Has(train_id)) {
    WorkerSpec w{train_id, {o_.self_exe, "worker", "train", "--task-dir", run.dir}, run.dir + "/train.log",
                 Limits{cpus, o_.worker_memory_mb}};
    if (absl::Status s = supervisor_->Start(w); !s.ok()) run.error = std::string(s.message());
  }
  const std::string serve_id = task + "/serve";
  const int64_t local = LocalVersion(run.dir + "/bundle");
  if (local > 0 && !supervisor_->Has(serve_id)) {
    const std::string host = o_.listen.substr(0, o_.listen.rfind(':'));
    std::vector<std::string> argv = {o_.self_exe, "worker", "serve", "--task-dir", run.dir,
                                     "--listen", host + ":0"};
    if (o_.added_rtt_ms > 0) argv.insert(argv.end(), {"--added-rtt-ms", absl::StrCat(o_.added_rtt_ms)});
    argv.insert(argv.end(), tls_args.begin(), tls_args.end());
    WorkerSpec w{serve_id, argv, run.dir + "/serve.log", Limits{cpus, o_.worker_memory_mb}};
    std::error_code ec;
    fs::remove(run.dir + "/serve.addr", ec);
    fs::remove(run.dir + "/serve.stats", ec);
    if (absl::Status s = supervisor_->Start(w); !s.ok()) run.error = std::string(s.message());
  }
  if (local > run.uploaded_version) {
    absl::Status s = UploadBundle(run, local);
    if (s.ok()) {
      run.uploaded_version = local;
      Log(o_.name, absl::StrCat(task, ": stored bundle version ", local, " at the coordinator"));
    }
  }
}

absl::Status NodeAgent::UploadBundle(TaskRun& run, int64_t version) {
  const std::string root = run.dir + "/bundle";
  std::vector<std::string> files = ListFiles(root, std::to_string(version));
  for (const std::string& f : ListFiles(root, "data")) files.push_back(f);
  grpc::ClientContext ctx;
  ctx.AddMetadata("mliot-task", run.assignment.task());
  ctx.AddMetadata("mliot-version", std::to_string(version));
  v1::UploadBundleResponse response;
  Authorize(ctx);
  auto writer = coordinator_->UploadBundle(&ctx, &response);
  absl::Status sent = SendFiles(root, files, [&](const v1::FileChunk& c) { return writer->Write(c); });
  writer->WritesDone();
  absl::Status finished = FromGrpc(writer->Finish());
  MLIOT_RETURN_IF_ERROR(sent);
  return finished;
}

v1::TaskStatus NodeAgent::StatusOf(const TaskRun& run) const {
  v1::TaskStatus s;
  s.set_task(run.assignment.task());
  const std::string bundle_dir = run.dir + "/bundle";
  const LifecycleState state = ReadLifecycleState(bundle_dir).value_or(LifecycleState{});
  s.set_version(state.serving > 0 ? state.serving : LocalVersion(bundle_dir));
  if (run.catalog) {
    for (v1::VersionStatus& v : run.catalog->Refresh(state, ReadPin(bundle_dir))) *s.add_versions() = std::move(v);
  }
  for (std::string& e : MergeEvents({state.events.begin(), state.events.end()}, run.events, 20)) {
    s.add_events(std::move(e));
  }
  s.set_disk_bytes(DirectoryBytes(bundle_dir));
  s.set_rollback_seq(run.rollback_seq);
  s.set_rollback_version(run.rollback_version);
  absl::StatusOr<std::string> addr = ReadFile(run.dir + "/serve.addr");
  bool serving = false, train_failed = false;
  for (const WorkerState& w : supervisor_->States()) {
    if (w.id == run.assignment.task() + "/serve" && w.pid > 0 && addr.ok()) serving = true;
    if (w.id == run.assignment.task() + "/train" && w.pid == 0 && !w.finished && w.restarts >= 5) train_failed = true;
  }
  if (serving) {
    s.set_phase(v1::TASK_PHASE_SERVING);
    s.set_serving_address(*addr);
  } else if (train_failed || !run.error.empty()) {
    s.set_phase(train_failed ? v1::TASK_PHASE_FAILED : v1::TASK_PHASE_PENDING);
  } else {
    s.set_phase(v1::TASK_PHASE_TRAINING);  // training, or the serving worker is starting
  }
  if (train_failed) {
    absl::StatusOr<std::string> last = ReadFile(run.dir + "/train.status");
    s.set_message(absl::StrCat("training worker keeps failing (see train.log)",
                               last.ok() && absl::StartsWith(*last, "training failed") ? ": " + *last : ""));
  } else if (!run.error.empty()) {
    s.set_message(run.error);
  } else if (absl::StatusOr<std::string> status = ReadFile(run.dir + "/train.status"); status.ok()) {
    s.set_message(*status);
  }
  return s;
}

void NodeAgent::Reconcile(const v1::HeartbeatResponse& response) {
  std::map<std::string, const v1::TaskAssignment*> wanted;
  for (const v1::TaskAssignment& a : response.assignments()) wanted[a.task()] = &a;
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    if (wanted.count(it->first) == 0) {
      Log(o_.name, absl::StrCat(it->first, ": no longer assigned; stopping its workers"));
      supervisor_->Stop(it->first + "/train");
      supervisor_->Stop(it->first + "/serve");
      serve_cost_.Forget(it->first);
      it = tasks_.erase(it);
    } else {
      ++it;
    }
  }
  for (const auto& [name, a] : wanted) {
    auto [it, inserted] = tasks_.try_emplace(name);
    if (inserted) {
      it->second.assignment = *a;
      absl::StatusOr<TaskSpec> spec = ParseTaskSpec(a->spec_yaml());
      it->second.image = spec.ok() && IsImageData(spec->data);
      it->second.dir = absl::StrCat(o_.data_dir, "/tasks/", name);
      Log(o_.name, absl::StrCat(name, ": assigned", a->stored_version() > 0
                                                        ? absl::StrCat(" (stored version ", a->stored_version(), ")")
                                                        : ""));
    }
    v1::TaskAssignment& mine = it->second.assignment;
    // The token hashes its serving worker accepts (auth/token_set.h).
    std::vector<auth::TokenHash> hashes;
    for (const v1::TokenHash& h : a->token_hashes()) hashes.push_back({h.sha256(), h.valid_until_unix_ms()});
    const std::string tokens = auth::FormatTokenHashes(hashes);
    if (tokens != it->second.tokens_written) {
      std::error_code ec;
      fs::create_directories(it->second.dir, ec);
      if (auth::WritePrivateFile(it->second.dir + "/tokens", tokens).ok()) it->second.tokens_written = tokens;
    }
    mine.set_stored_version(a->stored_version());
    mine.set_pinned_version(a->pinned_version());
    mine.set_rollback_to(a->rollback_to());
    mine.set_rollback_seq(a->rollback_seq());
    mine.set_serving_version(a->serving_version());
    mine.set_keep(a->keep());
    mine.set_keep_days(a->keep_days());
  }
}

void NodeAgent::FillMetrics(v1::NodeMetrics* m) {
  const HostMetrics host = sampler_.Sample();
  m->set_cpu(host.cpu);
  m->set_mem(host.mem);
  m->set_load(host.load);
  for (const auto& [name, run] : tasks_) {
    absl::StatusOr<std::string> text = ReadFile(run.dir + "/serve.stats");
    if (!text.ok()) continue;  // not serving yet
    if (absl::StatusOr<ServeStats> stats = ParseServeStats(*text); stats.ok()) {
      serve_cost_.Observe(name, run.image, *stats);
    }
  }
  m->set_image_serve_ms(serve_cost_.ImageMs());
  m->set_sensor_serve_ms(serve_cost_.SensorMs());
  for (const WorkerState& w : supervisor_->States()) {
    v1::WorkerMetrics* wm = m->add_workers();
    const size_t slash = w.id.rfind('/');
    wm->set_task(w.id.substr(0, slash));
    wm->set_role(w.id.substr(slash + 1));
    wm->set_pid(w.pid);
    wm->set_cpu_percent(w.cpu_percent);
    wm->set_rss_mb(w.rss_mb);
    wm->set_restarts(w.restarts);
    if (wm->role() == "serve") wm->set_serve_ms(serve_cost_.TaskMs(wm->task()));
  }
}

void NodeAgent::Run(const std::atomic<bool>& stop) {
  int failures = 0;
  while (!stop.load()) {
    const auto started = std::chrono::steady_clock::now();
    supervisor_->Poll();
    for (auto& [name, run] : tasks_) Drive(run);
    if (!registered_ && !Register().ok()) {
      failures++;
    } else {
      v1::HeartbeatRequest request;
      request.set_node(o_.name);
      FillMetrics(request.mutable_metrics());
      for (const auto& [name, run] : tasks_) *request.add_tasks() = StatusOf(run);
      std::map<std::string, std::string> dirs;
      for (const auto& [name, run] : tasks_) dirs[name] = run.dir;
      frontend_->Update({request.tasks().begin(), request.tasks().end()}, dirs, request.metrics());
      if (server_->GetHealthCheckService() != nullptr) {
        server_->GetHealthCheckService()->SetServingStatus(frontend_->ready());
      }
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
      v1::HeartbeatResponse response;
      Authorize(ctx);
      const grpc::Status s = coordinator_->Heartbeat(&ctx, request, &response);
      if (s.error_code() == grpc::StatusCode::UNAUTHENTICATED) registered_ = false;  // join again
      frontend_->CountHeartbeat(s.ok());
      if (!s.ok()) {
        if (failures++ % 10 == 0) Log(o_.name, absl::StrCat("heartbeat failed (workers keep serving): ", s.error_message()));
      } else {
        failures = 0;
        if (response.reregister()) {
          registered_ = false;
        } else {
          Reconcile(response);
          // New assignments start now rather than a heartbeat later, and
          // lifecycle commands (rollback, pin) are carried out at once.
          for (auto& [name, run] : tasks_) {
            if (!run.prepared) Drive(run);
            else ApplyLifecycle(run);
          }
        }
      }
    }
    absl::MutexLock lock(&wake_mu_);
    const auto until = started + std::chrono::milliseconds(fast_heartbeats_ > 0 ? 100 : o_.heartbeat_ms);
    if (fast_heartbeats_ > 0) --fast_heartbeats_;
    const auto left = until - std::chrono::steady_clock::now();
    if (left > std::chrono::steady_clock::duration::zero()) {
      wake_mu_.AwaitWithTimeout(absl::Condition(&wake_), absl::FromChrono(left));
    }
    wake_ = false;
  }
  supervisor_->StopAll();
}

void NodeAgent::WakeUp() {
  absl::MutexLock lock(&wake_mu_);
  wake_ = true;
}

}  // namespace mliot
