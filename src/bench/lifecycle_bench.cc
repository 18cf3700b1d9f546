#include "bench/lifecycle_bench.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_cluster.h"
#include "bench/kit.h"
#include "auth/secrets.h"
#include "common/grpc_util.h"
#include "common/process.h"
#include "common/stats.h"
#include "common/status_util.h"
#include "data/source.h"
#include "lifecycle/version_catalog.h"
#include "mliot/v1/coordinator.grpc.pb.h"
#include "mliot/v1/serving.grpc.pb.h"

namespace mliot::bench {
namespace fs = std::filesystem;
using nlohmann::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr char kTask[] = "lifecycle";

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

absl::Status WaitFor(const std::function<bool()>& done, double timeout_s, const std::string& what) {
  return WaitUntil(done, timeout_s, "bench lifecycle: " + what);
}

// The benchmark's cluster, asked about its one task.
class Cluster : public BenchCluster {
 public:
  absl::StatusOr<v1::TaskInfo> Task() { return BenchCluster::Task(kTask); }
  std::vector<v1::VersionStatus> Versions() { return BenchCluster::Versions(kTask); }
  int64_t Serving() { return BenchCluster::Serving(kTask); }
};

// The task's serving worker, with its token.
class Server {
 public:
  absl::Status Connect(const v1::TaskInfo& info) {
    MLIOT_ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(info.serving_address(), TlsOptions{}));
    stub_ = v1::Serving::NewStub(channel);
    token_ = info.token();
    return absl::OkStatus();
  }

  // Accuracy and the version that answered, on rows [begin, end) of `data`.
  absl::StatusOr<std::pair<double, int64_t>> Accuracy(const Dataset& data, int64_t begin, int64_t end) {
    grpc::ClientContext ctx;
    ctx.AddMetadata(kAuthorization, BearerValue(token_));
    v1::PredictRequest request;
    request.set_task(kTask);
    request.set_rows(static_cast<int32_t>(end - begin));
    request.mutable_features()->Add(data.features.begin() + begin * data.cols, data.features.begin() + end * data.cols);
    v1::PredictResponse response;
    MLIOT_RETURN_IF_ERROR(FromGrpc(stub_->Predict(&ctx, request, &response)));
    int64_t correct = 0;
    for (int i = 0; i < response.predictions_size(); ++i) {
      correct += response.predictions(i).label() == data.class_names[data.labels[begin + i]];
    }
    return std::make_pair(static_cast<double>(correct) / static_cast<double>(end - begin), response.version());
  }

  // Rows [begin, end) as feedback, each label moved by `shift` classes.
  absl::Status Feedback(const Dataset& data, int64_t begin, int64_t end, int shift) {
    const int k = static_cast<int>(data.class_names.size());
    for (int64_t at = begin; at < end; at += 250) {
      const int64_t stop = std::min(end, at + 250);
      grpc::ClientContext ctx;
      ctx.AddMetadata(kAuthorization, BearerValue(token_));
      v1::FeedbackRequest request;
      request.set_task(kTask);
      request.set_rows(static_cast<int32_t>(stop - at));
      request.mutable_features()->Add(data.features.begin() + at * data.cols, data.features.begin() + stop * data.cols);
      for (int64_t i = at; i < stop; ++i) request.add_labels(data.class_names[(data.labels[i] + shift) % k]);
      v1::FeedbackResponse response;
      MLIOT_RETURN_IF_ERROR(FromGrpc(stub_->Feedback(&ctx, request, &response)));
    }
    return absl::OkStatus();
  }

  v1::Serving::Stub& stub() { return *stub_; }
  const std::string& token() const { return token_; }

 private:
  std::unique_ptr<v1::Serving::Stub> stub_;
  std::string token_;
};

// A closed-loop single-row predict load; every answer's time and version.
class Load {
 public:
  Load(Server* server, const Dataset* data) : server_(server), data_(data) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
  }
  // Seconds from `since` to the first answer by `version` after it (-1: none yet).
  double FirstAnswerBy(int64_t version, SteadyClock::time_point since) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [t, v] : answers_) {
      if (t >= since && v == version) return std::chrono::duration<double>(t - since).count();
    }
    return -1;
  }
  int64_t failed() const { return failed_.load(); }
  int64_t answered() const { return answered_.load(); }

 private:
  void Run() {
    for (int64_t i = 0; !stop_.load(); ++i) {
      const int64_t row = i % data_->rows;
      grpc::ClientContext ctx;
      ctx.AddMetadata(kAuthorization, BearerValue(server_->token()));
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::PredictRequest request;
      request.set_task(kTask);
      request.set_rows(1);
      request.mutable_features()->Add(data_->features.begin() + row * data_->cols,
                                      data_->features.begin() + (row + 1) * data_->cols);
      v1::PredictResponse response;
      if (!server_->stub().Predict(&ctx, request, &response).ok()) {
        failed_.fetch_add(1);
        continue;
      }
      answered_.fetch_add(1);
      std::lock_guard<std::mutex> lock(mu_);
      answers_.emplace_back(SteadyClock::now(), response.version());
    }
  }

  Server* server_;
  const Dataset* data_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> failed_{0}, answered_{0};
  std::mutex mu_;
  std::vector<std::pair<SteadyClock::time_point, int64_t>> answers_;
  std::thread thread_;
};

size_t VersionDirs(const std::string& dir) { return VersionNumbers(dir).size(); }

}  // namespace

void MakeQuick(LifecycleBenchOptions& o) {
  // 2,000 rows hold back ~400 for validation: with fewer, the paired test's
  // noise (about 2.7 points on 200 rows) exceeds its 2-point margin, and a
  // correct adaptation was retired on its point estimate about once in ten runs.
  o.train_rows = 2000;
  o.budget_s = 8;
  o.feedback_rows = 400;
  o.rollbacks = 2;
  o.adaptations = 4;
  o.keep = 2;
}

absl::StatusOr<json> RunLifecycleBench(const LifecycleBenchOptions& o) {
  const bool temporary = o.work_dir.empty();
  const std::string dir =
      temporary ? (fs::temp_directory_path() / absl::StrCat("mliot-bench-lifecycle-", getpid())).string() : o.work_dir;
  fs::remove_all(dir);
  fs::create_directories(dir);
  const int64_t test_rows = 2 * o.feedback_rows + 1000 + 100;
  MLIOT_ASSIGN_OR_RETURN(Dataset test, LoadDataset(absl::StrCat("fashion-mnist:test:", test_rows)));
  json report;
  {
    Cluster cluster;
    MLIOT_RETURN_IF_ERROR(cluster.Start(dir));
    const std::string spec = absl::StrFormat(
        "name: %s\ndata: fashion-mnist:train:%d\nmodel:\n  budget_s: %g\n  models: [logreg, knn, xgboost]\n"
        "versions:\n  keep: %d\n  promote: guarded\n",
        kTask, o.train_rows, o.budget_s, o.keep);
    {
      grpc::ClientContext ctx;
      v1::SubmitRequest request;
      request.set_spec_yaml(spec);
      v1::SubmitResponse response;
      MLIOT_RETURN_IF_ERROR(FromGrpc(cluster.coordinator().Submit(&ctx, request, &response)));
      if (!response.accepted()) return absl::FailedPreconditionError("bench lifecycle: the task was refused");
    }
    Progress("lifecycle", absl::StrFormat("training on %d Fashion-MNIST rows (budget %gs)", o.train_rows, o.budget_s));
    v1::TaskInfo info;
    MLIOT_RETURN_IF_ERROR(WaitFor(
        [&] {
          absl::StatusOr<v1::TaskInfo> t = cluster.Task();
          if (!t.ok() || t->serving_address().empty() || !absl::StartsWith(t->message(), "trained")) return false;
          info = *t;
          return true;
        },
        o.budget_s * 3 + 120, "the task trained and serving"));
    Server server;
    MLIOT_RETURN_IF_ERROR(server.Connect(info));
    const int64_t eval_begin = 2 * o.feedback_rows, eval_end = eval_begin + 1000;

    // Guarded: poisoned, then correct feedback.
    MLIOT_ASSIGN_OR_RETURN(auto before, server.Accuracy(test, eval_begin, eval_end));
    auto started = SteadyClock::now();
    MLIOT_RETURN_IF_ERROR(server.Feedback(test, 0, o.feedback_rows, /*shift=*/1));
    int64_t retired = 0;
    std::string reason;
    MLIOT_RETURN_IF_ERROR(WaitFor(
        [&] {
          for (const v1::VersionStatus& v : cluster.Versions()) {
            if (v.state() == "retired") {
              retired = v.version();
              reason = v.reason();
            }
          }
          return retired > 0;
        },
        180, "the poisoned version retired"));
    const double retired_s = SecondsSince(started);
    MLIOT_ASSIGN_OR_RETURN(auto after_poison, server.Accuracy(test, eval_begin, eval_end));
    Progress("lifecycle", absl::StrFormat("poisoned feedback: version %d retired after %.1fs; served accuracy %.4f -> %.4f",
                                          retired, retired_s, before.first, after_poison.first));
    started = SteadyClock::now();
    MLIOT_RETURN_IF_ERROR(server.Feedback(test, o.feedback_rows, 2 * o.feedback_rows, 0));
    int64_t promoted = 0;
    std::string wrongly_retired;
    MLIOT_RETURN_IF_ERROR(WaitFor(
        [&] {
          for (const v1::VersionStatus& v : cluster.Versions()) {
            if (v.version() <= retired) continue;
            if (v.state() == "serving" || v.state() == "pinned") promoted = v.version();
            if (v.state() == "retired") wrongly_retired = absl::StrCat("version ", v.version(), ": ", v.reason());
          }
          return promoted > 0 || !wrongly_retired.empty();
        },
        180, "the version adapted on correct feedback promoted"));
    if (promoted == 0) {
      return absl::InternalError(
          absl::StrCat("bench lifecycle: the version adapted on correct feedback was retired: ", wrongly_retired));
    }
    const double promoted_s = SecondsSince(started);
    MLIOT_ASSIGN_OR_RETURN(auto after_correct, server.Accuracy(test, eval_begin, eval_end));
    Progress("lifecycle", absl::StrFormat("correct feedback: version %d promoted after %.1fs; accuracy %.4f",
                                          promoted, promoted_s, after_correct.first));
    report["guarded"] = {{"feedback_rows", o.feedback_rows},
                         {"poisoned", {{"retired_version", retired},
                                       {"retired_after_s", retired_s},
                                       {"reason", reason},
                                       {"served_version_before", before.second},
                                       {"served_version_after", after_poison.second},
                                       {"accuracy_before", before.first},
                                       {"accuracy_after", after_poison.first},
                                       {"promoted", after_poison.second != before.second}}},
                         {"correct", {{"promoted_version", promoted},
                                      {"promoted_after_s", promoted_s},
                                      {"accuracy_after", after_correct.first}}}};

    // Rollback under a predict load, each time to the version that served
    // before the current one (an "undo"; it is never old enough for
    // retention to have deleted it).
    int64_t previous = before.second, current = promoted;
    Load load(&server, &test);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    std::vector<double> client_ms, coordinator_ms;
    for (int r = 0; r < o.rollbacks; ++r) {
      const int64_t to = previous;
      const auto t0 = SteadyClock::now();
      grpc::ClientContext ctx;
      v1::RollbackRequest request;
      request.set_task(kTask);
      request.set_to(to);
      v1::RollbackResponse response;
      MLIOT_RETURN_IF_ERROR(FromGrpc(cluster.coordinator().Rollback(&ctx, request, &response)));
      double seen = -1;
      MLIOT_RETURN_IF_ERROR(WaitFor(
          [&] {
            seen = load.FirstAnswerBy(response.version(), t0);
            return seen >= 0;
          },
          10, "an answer by the rolled-back copy"));
      previous = current;
      current = response.version();
      client_ms.push_back(seen * 1000);
      coordinator_ms.push_back(response.serving_after_ms());
      Progress("lifecycle", absl::StrFormat("rollback %d to version %d: copy %d answered after %.0f ms (coordinator: %.0f ms)",
                                            r + 1, to, response.version(), seen * 1000, response.serving_after_ms()));
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    load.Stop();
    auto stats = [](std::vector<double> v) {
      return json{{"median", Percentile(v, 0.5)},
                  {"min", *std::min_element(v.begin(), v.end())},
                  {"max", *std::max_element(v.begin(), v.end())}};
    };
    report["rollback"] = {{"rollbacks", o.rollbacks},
                          {"failed_requests", load.failed()},
                          {"answered_requests", load.answered()},
                          {"serving_within_ms", stats(client_ms)},
                          {"coordinator_reported_ms", stats(coordinator_ms)}};

    // Retention: adaptations on small batches of correct feedback. Each one
    // is a new version, promoted or (on 100 rows the guard's test is noisy)
    // retired: the loop waits for the guard's decision, not for a promotion.
    auto newest_decided = [&] {
      int64_t newest = 0;
      bool decided = true;
      for (const v1::VersionStatus& v : cluster.Versions()) {
        if (v.version() > newest) {
          newest = v.version();
          decided = v.state() != "shadow";
        }
      }
      return std::make_pair(newest, decided);
    };
    int64_t adaptations_retired = 0;
    for (int i = 0; i < o.adaptations; ++i) {
      const int64_t before_newest = newest_decided().first;
      const int64_t at = (i * 100) % (2 * o.feedback_rows);
      MLIOT_RETURN_IF_ERROR(server.Feedback(test, at, at + 100, 0));
      MLIOT_RETURN_IF_ERROR(WaitFor(
          [&] {
            const auto [newest, decided] = newest_decided();
            return newest > before_newest && decided;
          },
          120, absl::StrCat("adaptation ", i + 1, " published and decided")));
      for (const v1::VersionStatus& v : cluster.Versions()) {
        if (v.version() > before_newest && v.state() == "retired") ++adaptations_retired;
      }
      if ((i + 1) % 5 == 0 || i + 1 == o.adaptations) {
        Progress("lifecycle", absl::StrFormat("%d adaptations: %d MB in the data directory", i + 1,
                                              DirectoryBytes(dir) / 1000000));
      }
    }
    std::this_thread::sleep_for(std::chrono::seconds(7));  // one retention pass on the node
    const std::string node_bundle = absl::StrCat(dir, "/node/tasks/", kTask, "/bundle");
    const std::string coord_bundle = absl::StrCat(dir, "/coord/bundles/", kTask);
    const std::vector<v1::VersionStatus> versions = cluster.Versions();
    int64_t deleted = 0;
    for (const v1::VersionStatus& v : versions) deleted += v.state() == "deleted";
    absl::StatusOr<v1::TaskInfo> last = cluster.Task();
    report["retention"] = {{"keep", o.keep},
                           {"adaptations", o.adaptations},
                           // by the guard, as listed right after each decision
                           {"adaptations_retired", adaptations_retired},
                           {"versions_listed", versions.size()},
                           {"versions_deleted", deleted},
                           {"versions_on_node", VersionDirs(node_bundle)},
                           {"versions_at_coordinator", VersionDirs(coord_bundle)},
                           {"node_bundle_bytes", DirectoryBytes(node_bundle)},
                           {"coordinator_bundle_bytes", DirectoryBytes(coord_bundle)},
                           {"data_dir_bytes", DirectoryBytes(dir)},
                           {"task_disk_bytes", last.ok() ? last->disk_bytes() : 0}};
  }
  report["machine"] = MachineFacts();
  if (temporary && std::getenv("MLIOT_KEEP_BENCH_DIRS") == nullptr) fs::remove_all(dir);
  return report;
}

}  // namespace mliot::bench
