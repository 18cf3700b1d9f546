// Validation folds for trials.
//
// Hold-out (large data): one fold, a stratified split into training and
// validation rows. Cross-validation (small data, where a hold-out of a few
// dozen rows would make every choice a coin toss): k stratified folds, so
// every row is validated exactly once, and the members chosen are re-fitted
// on all rows before they are published.
//
// A trial's validation probabilities are laid out in *evaluation order*:
// the validation rows of fold 0, then of fold 1, ... `eval_y` holds their
// labels in that order.
#ifndef MLIOT_TRAIN_FOLDS_H_
#define MLIOT_TRAIN_FOLDS_H_

#include <optional>
#include <vector>

#include "data/dataset.h"
#include "ml/preprocess.h"
#include "train/trial.h"

namespace mliot {

struct Fold {
  std::vector<int64_t> train_rows, val_rows;  // indices into the data set
  std::vector<int32_t> train_y, val_y;
  std::vector<float> train_raw, val_raw;  // raw features
  std::vector<float> train_red, val_red;  // after the Preprocessor
};

class Folds {
 public:
  // `folds` <= 1: hold-out with `val_fraction`; otherwise k-fold.
  static Folds Make(const Dataset& data, int folds, double val_fraction, uint64_t seed);

  bool cross_validated() const { return folds_.size() > 1; }
  int size() const { return static_cast<int>(folds_.size()); }
  const Fold& fold(int i) const { return folds_[i]; }
  // The rows the preprocessing is fitted on: fold 0's training rows for a
  // hold-out, every row for cross-validation (where it is re-fitted anyway).
  const std::vector<int64_t>& preprocess_rows() const { return preprocess_rows_; }
  const std::vector<int32_t>& eval_y() const { return eval_y_; }

  // Fills the reduced features of every fold.
  void Reduce(const Preprocessor& pre);

  // What a trial of a kind fits on and is validated with, for fold i.
  SplitData Split(int i, bool raw) const;

 private:
  std::vector<Fold> folds_;
  std::vector<int64_t> preprocess_rows_;
  std::vector<int32_t> eval_y_;
  int num_classes_ = 0;
  int64_t raw_cols_ = 0;
  int64_t red_cols_ = 0;
  std::optional<ImageShape> shape_;
};

// Runs one trial on every fold and merges the validation probabilities (in
// evaluation order). For a hold-out the fold's model is the result's model;
// for cross-validation the result has no model (the trainer re-fits on all
// rows) and `fit_s` is the sum over folds.
absl::StatusOr<TrialResult> RunFoldedTrial(const ModelKind& kind, const Params& params,
                                           const Folds& folds, const TrialOptions& options);

}  // namespace mliot

#endif  // MLIOT_TRAIN_FOLDS_H_
