#include "train/ensemble_builder.h"

#include <algorithm>

#include <limits>

namespace mliot {
namespace {

struct Scored {
  std::vector<double> weights;
  Weighting weighting = Weighting::kPaper;
  double accuracy = -1;
  double log_loss = 0;  // of the best-calibrated allowed weighting
};

Scored ScoreSubset(const std::vector<CandidateScores>& candidates, const std::vector<int>& subset,
                   const std::vector<int32_t>& eval_y, int k, const std::string& weighting) {
  std::vector<double> acc;
  std::vector<const std::vector<float>*> proba;
  for (int i : subset) {
    acc.push_back(candidates[i].val_accuracy);
    proba.push_back(candidates[i].val_proba);
  }
  Scored best;
  double best_log_loss = std::numeric_limits<double>::infinity();
  for (Weighting m : {Weighting::kPaper, Weighting::kSoft, Weighting::kFitted}) {
    if (weighting != "auto" && weighting != WeightingName(m)) continue;
    std::vector<double> w = m == Weighting::kFitted ? FitWeights(proba, eval_y, k) : SoftmaxWeights(acc);
    const double a = EnsembleAccuracy(proba, w, eval_y, k, m);
    best_log_loss = std::min(best_log_loss, EnsembleLogLoss(proba, w, eval_y, k));
    if (a > best.accuracy + 1e-12) best = Scored{std::move(w), m, a, 0};
  }
  best.log_loss = best_log_loss;
  return best;
}

// tau on validation: the lowest threshold whose two-stage accuracy is within
// half a point of the best. Stage 1 exists to answer background cheaply; with
// a few hundred validation rows one detector mistake is a third of a point,
// and insisting on the strictly best accuracy switched stage 1 off entirely
// (tau 1.01) on real audio (`bench iot`, two_stage).
constexpr double kThresholdSlack = 0.005;

std::pair<double, double> ChooseThreshold(const std::vector<CandidateScores>& candidates,
                                          const EnsembleChoice& choice,
                                          const std::vector<int32_t>& eval_y, int k,
                                          const BackgroundScores& bg) {
  const size_t n = eval_y.size();
  const size_t m = choice.members.size();
  std::vector<float> rows(m * static_cast<size_t>(k)), cert(static_cast<size_t>(k));
  std::vector<int> stage2(n);
  for (size_t r = 0; r < n; ++r) {
    for (size_t j = 0; j < m; ++j) {
      std::copy_n(candidates[choice.members[j]].val_proba->data() + r * k, k, rows.data() + j * k);
    }
    stage2[r] = Combine(rows.data(), static_cast<int>(m), k, choice.weights.data(), choice.weighting, cert.data());
  }
  const std::vector<double> taus = {0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.01};
  std::vector<double> accuracy;
  for (double tau : taus) {
    int64_t correct = 0;
    for (size_t r = 0; r < n; ++r) {
      correct += ((*bg.p_background)[r] >= tau ? bg.background_class : stage2[r]) == eval_y[r];
    }
    accuracy.push_back(n > 0 ? static_cast<double>(correct) / static_cast<double>(n) : 0);
  }
  const double best = *std::max_element(accuracy.begin(), accuracy.end());
  for (size_t i = 0; i < taus.size(); ++i) {
    if (accuracy[i] >= best - kThresholdSlack) return {taus[i], accuracy[i]};
  }
  return {taus.back(), accuracy.back()};
}

}  // namespace

EnsembleChoice ChooseEnsemble(const SelectionPolicy& policy,
                              const std::vector<CandidateScores>& candidates,
                              const std::vector<int32_t>& eval_y, int k,
                              const std::string& weighting,
                              const std::optional<BackgroundScores>& background) {
  std::vector<Candidate> cands;
  for (const CandidateScores& c : candidates) cands.push_back({c.kind, c.val_accuracy, c.latency_ms});
  EnsembleChoice choice;
  choice.members = policy.Select(cands, [&](const std::vector<int>& subset) {
    return -ScoreSubset(candidates, subset, eval_y, k, weighting).log_loss;
  });
  if (choice.members.empty() && !candidates.empty()) {
    choice.members = SelectionPolicy::Parse("top_accuracy(1)")->Select(cands);
    choice.fell_back = true;
  }
  Scored scored = ScoreSubset(candidates, choice.members, eval_y, k, weighting);
  choice.weights = std::move(scored.weights);
  choice.weighting = scored.weighting;
  choice.val_accuracy = scored.accuracy;
  if (background) {
    auto [tau, accuracy] = ChooseThreshold(candidates, choice, eval_y, k, *background);
    choice.threshold = tau;
    choice.val_accuracy = accuracy;
  }
  return choice;
}

}  // namespace mliot
