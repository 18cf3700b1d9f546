// One HPO trial: fit a model kind with given settings, score it on the
// validation rows, and time its single-row prediction.
//
// Kinds that honour FitControl::deadline (cooperative) are fitted in this
// process. The others (LIBSVM, LIBLINEAR cannot be interrupted) are fitted
// in a forked child process that writes the weights to a temporary file;
// the child is killed with SIGKILL when the trial's deadline passes, so a
// slow fit can never overrun the budget. The parent then loads the weights.
//
// Thread-safety: RunTrial may be called concurrently from several threads.
#ifndef MLIOT_TRAIN_TRIAL_H_
#define MLIOT_TRAIN_TRIAL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ml/model.h"

namespace mliot {

// Features for one split, shared read-only by all trials.
struct SplitData {
  FitInput train;                // labels and features the kind fits on
  const float* val_x = nullptr;  // val_rows x train.cols
  int64_t val_rows = 0;
  const int32_t* val_y = nullptr;
};

struct TrialResult {
  std::string kind;
  Params params;
  double val_accuracy = 0;
  double fit_s = 0;
  double latency_ms = 0;          // median single-row PredictProba
  std::vector<float> val_proba;   // val_rows x num_classes
  std::unique_ptr<Model> model;
  bool interrupted = false;       // stopped at the deadline (anytime fit)
};

struct TrialOptions {
  Deadline deadline;
  int threads = 1;
  uint64_t seed = 42;
  std::string scratch_dir;  // for weights passed back by forked children
  const Clock* clock = nullptr;
};

absl::StatusOr<TrialResult> RunTrial(const ModelKind& kind, const Params& params,
                                     const SplitData& data, const TrialOptions& options);

// Median single-row latency of `model` in milliseconds over up to `rows`
// rows of `x` (after a short warm-up).
double MeasureLatencyMs(const Model& model, const float* x, int64_t rows, int64_t cols);

}  // namespace mliot

#endif  // MLIOT_TRAIN_TRIAL_H_
