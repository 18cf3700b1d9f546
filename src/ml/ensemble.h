// Ensemble arithmetic of the paper (§4.2.2):
//
//   weights      w_i = exp(a_i) / sum_j exp(a_j), a_i = validation accuracy (eq. 4)
//   vote         argmax_c sum_i w_i [f_i(x) == c]                        (eq. 3)
//   certainties  s_c = sum_i w_i P_i(c | x), normalised to sum to 1      (eq. 5)
//
// Ways to turn these into a label:
//   Weighting::kPaper   the weighted hard vote of eq. 3 (ties go to the class
//                       with the higher certainty), weights by eq. 4
//   Weighting::kSoft    argmax of the certainties of eq. 5 (soft voting),
//                       weights by eq. 4
//   Weighting::kFitted  soft voting with weights from FitWeights()
// Both report the eq. 5 certainties. All functions are pure and thread-safe.
//
// Beyond the paper, FitWeights() fits the weights on held-out rows instead
// of taking the softmax of accuracies (whose weights are nearly uniform for
// accuracies in a narrow band, so a weak member counts as much as the best).
#ifndef MLIOT_ML_ENSEMBLE_H_
#define MLIOT_ML_ENSEMBLE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mliot {

enum class Weighting { kPaper, kSoft, kFitted };

absl::StatusOr<Weighting> ParseWeighting(absl::string_view name);  // paper | soft | fitted
std::string WeightingName(Weighting w);

// Eq. 4.
std::vector<double> SoftmaxWeights(const std::vector<double>& accuracies);

// Combines the probabilities of n members for one row. `member_proba` holds
// n rows of k probabilities; `certainties` receives k values summing to 1
// (eq. 5). Returns the predicted class under `weighting`.
int Combine(const float* member_proba, int n, int k, const double* weights, Weighting weighting,
            float* certainties);

// Weights on the simplex minimising the log-loss of the eq. 5 certainties
// on held-out rows (exponentiated-gradient descent; convex, so the result
// does not depend on the start). proba[i] is rows x k for member i.
std::vector<double> FitWeights(const std::vector<const std::vector<float>*>& proba,
                               const std::vector<int32_t>& labels, int k);

// Accuracy of the ensemble on held-out rows, from each member's stored
// probabilities there: proba[i] is rows x k for member i.
double EnsembleAccuracy(const std::vector<const std::vector<float>*>& proba,
                        const std::vector<double>& weights, const std::vector<int32_t>& labels,
                        int k, Weighting weighting);

// Mean negative log of the eq. 5 certainty of the true class (clipped at
// 1e-9), on held-out rows; lower is better. Smoother than accuracy, so it is
// what greedy ensemble selection compares.
double EnsembleLogLoss(const std::vector<const std::vector<float>*>& proba,
                       const std::vector<double>& weights, const std::vector<int32_t>& labels,
                       int k);

}  // namespace mliot

#endif  // MLIOT_ML_ENSEMBLE_H_
