// Choosing an ensemble from the trained candidates: the selection policy,
// the weighting rule, and the two-stage threshold, all judged on the
// candidates' validation probabilities (train/folds.h: evaluation order).
#ifndef MLIOT_TRAIN_ENSEMBLE_BUILDER_H_
#define MLIOT_TRAIN_ENSEMBLE_BUILDER_H_

#include <optional>
#include <string>
#include <vector>

#include "ml/ensemble.h"
#include "ml/selection.h"

namespace mliot {

struct CandidateScores {
  std::string kind;
  double val_accuracy = 0;
  double latency_ms = 0;
  const std::vector<float>* val_proba = nullptr;  // eval rows x k
};

struct BackgroundScores {
  int background_class = 0;
  const std::vector<float>* p_background = nullptr;  // per eval row
};

struct EnsembleChoice {
  std::vector<int> members;  // indices into the candidates, best first
  std::vector<double> weights;
  Weighting weighting = Weighting::kPaper;
  double val_accuracy = 0;
  double threshold = 0;  // two-stage tau, when a background class is set
  bool fell_back = false;  // the policy chose nothing; the best candidate was used
};

// `weighting` is "paper", "soft", "fitted" or "auto" (the most accurate of
// the three on validation; ties keep the paper's). greedy(k) in the policy
// compares subsets by validation log-loss.
EnsembleChoice ChooseEnsemble(const SelectionPolicy& policy,
                              const std::vector<CandidateScores>& candidates,
                              const std::vector<int32_t>& eval_y, int k,
                              const std::string& weighting,
                              const std::optional<BackgroundScores>& background);

}  // namespace mliot

#endif  // MLIOT_TRAIN_ENSEMBLE_BUILDER_H_
