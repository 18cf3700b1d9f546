#include "train/folds.h"

#include <algorithm>

#include "common/status_util.h"

namespace mliot {
namespace {

std::vector<float> Gather(const Dataset& data, const std::vector<int64_t>& rows) {
  std::vector<float> out(rows.size() * static_cast<size_t>(data.cols));
  for (size_t i = 0; i < rows.size(); ++i) {
    std::copy_n(data.row(rows[i]), data.cols, out.data() + i * data.cols);
  }
  return out;
}

std::vector<int32_t> Labels(const Dataset& data, const std::vector<int64_t>& rows) {
  std::vector<int32_t> out;
  out.reserve(rows.size());
  for (int64_t r : rows) out.push_back(data.labels[r]);
  return out;
}

}  // namespace

Folds Folds::Make(const Dataset& data, int folds, double val_fraction, uint64_t seed) {
  Folds f;
  f.num_classes_ = data.num_classes();
  f.raw_cols_ = data.cols;
  f.shape_ = data.shape;
  if (folds <= 1) {
    auto [train, val] = StratifiedSplit(data, val_fraction, seed);
    f.folds_.push_back(Fold{std::move(train), std::move(val)});
  } else {
    const std::vector<int> assignment = StratifiedFolds(data, folds, seed);
    f.folds_.resize(static_cast<size_t>(folds));
    for (int64_t r = 0; r < data.rows; ++r) {
      for (int i = 0; i < folds; ++i) {
        (assignment[r] == i ? f.folds_[i].val_rows : f.folds_[i].train_rows).push_back(r);
      }
    }
  }
  for (Fold& fold : f.folds_) {
    fold.train_y = Labels(data, fold.train_rows);
    fold.val_y = Labels(data, fold.val_rows);
    fold.train_raw = Gather(data, fold.train_rows);
    fold.val_raw = Gather(data, fold.val_rows);
    f.eval_y_.insert(f.eval_y_.end(), fold.val_y.begin(), fold.val_y.end());
  }
  if (f.folds_.size() == 1) {
    f.preprocess_rows_ = f.folds_[0].train_rows;
  } else {
    f.preprocess_rows_.resize(static_cast<size_t>(data.rows));
    for (int64_t r = 0; r < data.rows; ++r) f.preprocess_rows_[r] = r;
  }
  return f;
}

void Folds::Reduce(const Preprocessor& pre) {
  red_cols_ = pre.out_dim();
  for (Fold& fold : folds_) {
    const int64_t nt = static_cast<int64_t>(fold.train_rows.size());
    const int64_t nv = static_cast<int64_t>(fold.val_rows.size());
    fold.train_red.resize(static_cast<size_t>(nt * red_cols_));
    fold.val_red.resize(static_cast<size_t>(nv * red_cols_));
    pre.TransformBatch(fold.train_raw.data(), nt, fold.train_red.data());
    pre.TransformBatch(fold.val_raw.data(), nv, fold.val_red.data());
  }
}

SplitData Folds::Split(int i, bool raw) const {
  const Fold& f = folds_[i];
  const int64_t nt = static_cast<int64_t>(f.train_rows.size());
  const int64_t nv = static_cast<int64_t>(f.val_rows.size());
  if (raw) {
    return SplitData{FitInput{f.train_raw.data(), nt, raw_cols_, f.train_y.data(), num_classes_, shape_},
                     f.val_raw.data(), nv, f.val_y.data()};
  }
  return SplitData{FitInput{f.train_red.data(), nt, red_cols_, f.train_y.data(), num_classes_, std::nullopt},
                   f.val_red.data(), nv, f.val_y.data()};
}

absl::StatusOr<TrialResult> RunFoldedTrial(const ModelKind& kind, const Params& params,
                                           const Folds& folds, const TrialOptions& options) {
  if (!folds.cross_validated()) return RunTrial(kind, params, folds.Split(0, kind.needs_image), options);
  TrialResult merged;
  merged.kind = kind.name;
  merged.params = params;
  int64_t correct = 0, rows = 0;
  for (int i = 0; i < folds.size(); ++i) {
    MLIOT_ASSIGN_OR_RETURN(TrialResult part, RunTrial(kind, params, folds.Split(i, kind.needs_image), options));
    merged.fit_s += part.fit_s;
    merged.interrupted = merged.interrupted || part.interrupted;
    merged.latency_ms = std::max(merged.latency_ms, part.latency_ms);
    merged.val_proba.insert(merged.val_proba.end(), part.val_proba.begin(), part.val_proba.end());
    const int64_t n = static_cast<int64_t>(folds.fold(i).val_rows.size());
    correct += static_cast<int64_t>(std::llround(part.val_accuracy * static_cast<double>(n)));
    rows += n;
  }
  merged.val_accuracy = rows > 0 ? static_cast<double>(correct) / static_cast<double>(rows) : 0;
  return merged;
}

}  // namespace mliot
