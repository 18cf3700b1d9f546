#include "train/trial.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/stats.h"
#include "common/status_util.h"

namespace mliot {
namespace {

std::atomic<int> trial_counter{0};

// Fits in a forked child; returns Unavailable / DeadlineExceeded on failure.
absl::Status FitInChild(Model& model, const ModelKind& kind, const Params& params,
                        const SplitData& data, const TrialOptions& options) {
  const std::string path = absl::StrCat(options.scratch_dir.empty() ? "/tmp" : options.scratch_dir,
                                        "/trial-", getpid(), "-", trial_counter.fetch_add(1), ".w");
  if (kind.prepare) MLIOT_RETURN_IF_ERROR(Annotate(kind.prepare(), kind.name));
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) return absl::UnavailableError("fork failed for an isolated trial");
  if (pid == 0) {
    // Child: only plain library code runs here, then _exit (no destructors,
    // no atexit handlers shared with the parent).
    FitControl control;
    control.threads = options.threads;
    control.seed = options.seed;
    std::unique_ptr<Model> fresh = kind.create();
    const bool ok = fresh->Fit(data.train, params, control).ok() && fresh->SaveWeights(path).ok();
    _exit(ok ? 0 : 3);
  }
  int status = 0;
  bool killed = false;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0) return absl::InternalError("waitpid failed");
    if (!killed && options.deadline.Expired()) {
      kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (killed) {
    std::filesystem::remove(path);
    return absl::DeadlineExceededError(
        absl::StrCat(kind.name, ": fit passed the trial's time limit and was stopped"));
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::filesystem::remove(path);
    return absl::InternalError(absl::StrCat(kind.name, ": isolated fit failed"));
  }
  absl::Status loaded = model.LoadWeights(path, params);
  std::filesystem::remove(path);
  return loaded;
}

}  // namespace

double MeasureLatencyMs(const Model& model, const float* x, int64_t rows, int64_t cols) {
  const int64_t n = std::min<int64_t>(rows, 120);
  if (n == 0) return 0;
  std::vector<float> proba(static_cast<size_t>(model.num_classes()));
  for (int64_t i = 0; i < std::min<int64_t>(n, 10); ++i) model.PredictProba(x + i * cols, proba.data());
  std::vector<double> ms;
  ms.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const auto start = std::chrono::steady_clock::now();
    model.PredictProba(x + i * cols, proba.data());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return Percentile(ms, 0.5);
}

absl::StatusOr<TrialResult> RunTrial(const ModelKind& kind, const Params& params,
                                     const SplitData& data, const TrialOptions& options) {
  const Clock* clock = options.clock != nullptr ? options.clock : RealClock();
  TrialResult result;
  result.kind = kind.name;
  result.params = params;
  result.model = kind.create();
  const double start = clock->NowSeconds();
  if (kind.cooperative) {
    FitControl control;
    control.deadline = options.deadline;
    control.threads = options.threads;
    control.seed = options.seed;
    MLIOT_RETURN_IF_ERROR(Annotate(result.model->Fit(data.train, params, control), kind.name));
    result.interrupted = options.deadline.Expired();
  } else {
    MLIOT_RETURN_IF_ERROR(FitInChild(*result.model, kind, params, data, options));
  }
  result.fit_s = clock->NowSeconds() - start;

  const int k = data.train.num_classes;
  result.val_proba.resize(static_cast<size_t>(data.val_rows * k));
  result.model->PredictProbaBatch(data.val_x, data.val_rows, result.val_proba.data());
  int64_t correct = 0;
  for (int64_t i = 0; i < data.val_rows; ++i) {
    correct += ArgMax(result.val_proba.data() + i * k, k) == data.val_y[i];
  }
  result.val_accuracy = data.val_rows > 0 ? static_cast<double>(correct) / data.val_rows : 0;
  result.latency_ms = MeasureLatencyMs(*result.model, data.val_x, data.val_rows, data.train.cols);
  return result;
}

}  // namespace mliot
