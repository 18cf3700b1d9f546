// Trainer: the training worker's pipeline on one machine (paper §4.2.1).
//
//   split (stratified hold-out, or k-fold cross-validation for small data) ->
//   preprocess (impute, standardise, reduce;
//   `auto` picks the reducer by validation accuracy of fast proxy models) ->
//   HPO trials of every kind in parallel on a pool sized to the cores, under
//   a global wall-clock budget and a per-trial limit -> lazy training: at
//   time bound T the candidates finished so far form version 1; each kind
//   whose search finishes later publishes the next version when it changes
//   the selected ensemble -> model selection by policy -> bundle versions.
//
// Thread-safety: a Trainer may run one Train() at a time.
#ifndef MLIOT_TRAIN_TRAINER_H_
#define MLIOT_TRAIN_TRAINER_H_

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "data/dataset.h"
#include "features/featurizer.h"
#include "ml/hpo/strategy.h"
#include "ml/model.h"

namespace mliot {

// Used when no --select is given; see docs/ENGINE.md for how it was chosen.
inline constexpr char kDefaultSelection[] = "greedy(5)";

struct TrainOptions {
  double budget_s = 120;
  std::optional<double> time_bound_s;  // lazy training; default: the budget
  std::string select = kDefaultSelection;
  std::vector<std::string> models;     // empty: every kind that fits the data
  // Starting points: per kind, settings that replace the declared defaults
  // (HPO tries them first), e.g. {"cnn": "channels=32,epochs=30"}.
  std::map<std::string, std::string> start_params;
  std::string scale = "auto";          // feature | global | auto (see reducer_choice.h)
  std::string reduce = "auto";
  std::string hpo = "bayes";
  std::optional<std::string> background_class;
  std::string weighting = "auto";      // paper | soft | fitted | auto (best on validation)
  int threads = 0;                     // trial workers; 0: the number of cores
  int max_trials = 10;                 // per kind
  double trial_limit_s = 0;            // 0: 75 % of the budget
  double val_fraction = 0.2;           // hold-out validation share
  // Cross-validated members are re-fitted on every row but fold 0's
  // validation rows (stored as DIR/data/validation): guarded promotion.
  bool hold_out_validation = false;
  int cv_folds = 0;                    // 0: 5-fold below 3000 rows, else hold-out; >= 2: k-fold
  uint64_t seed = 42;
  std::string out_dir;                 // bundle directory
  std::string data_source;             // recorded in the manifest
  std::optional<FeaturizerConfig> featurizer;  // raw data: stored in the bundle for serving
};

struct MemberReport {
  std::string kind;
  Params params;
  double val_accuracy = 0;
  double fit_s = 0;
  double latency_ms = 0;
};

struct PublishedVersion {
  int64_t version = 0;
  double at_s = 0;
  std::vector<std::string> members;
  double val_accuracy = 0;
};

struct TrainReport {
  int64_t bundle_version = 0;
  std::vector<MemberReport> members;  // of the last version
  std::string reduce;
  std::string scale;  // feature | global
  double val_accuracy = 0;
  double elapsed_s = 0;
  std::vector<PublishedVersion> versions;
  std::vector<MemberReport> candidates;  // best trial of every kind
  int trials = 0;
  std::string weighting;
  double background_threshold = 0;
  int cross_validation_folds = 0;  // 0: hold-out
};

class Trainer {
 public:
  Trainer(const ModelRegistry& models, const StrategyRegistry& strategies,
          const Clock* clock = RealClock())
      : models_(models), strategies_(strategies), clock_(clock) {}

  // Progress lines (one event each) go here; default: none.
  void set_progress(std::function<void(const std::string&)> progress) {
    progress_ = std::move(progress);
  }

  // Checks every option against the data without training. Errors name the
  // option and list valid values.
  absl::Status Validate(const Dataset& data, const TrainOptions& options) const;

  absl::StatusOr<TrainReport> Train(const Dataset& data, const TrainOptions& options);

 private:
  const ModelRegistry& models_;
  const StrategyRegistry& strategies_;
  const Clock* clock_;
  std::vector<std::unique_ptr<ModelKind>> adjusted_kinds_;  // kinds with start_params
  std::function<void(const std::string&)> progress_;
};

}  // namespace mliot

#endif  // MLIOT_TRAIN_TRAINER_H_
