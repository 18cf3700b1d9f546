#include "ml/ensemble.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace mliot {

absl::StatusOr<Weighting> ParseWeighting(absl::string_view name) {
  if (name == "paper") return Weighting::kPaper;
  if (name == "soft") return Weighting::kSoft;
  if (name == "fitted") return Weighting::kFitted;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown weighting '", std::string(name), "'; valid: paper, soft, fitted, auto"));
}

std::string WeightingName(Weighting w) {
  switch (w) {
    case Weighting::kPaper:
      return "paper";
    case Weighting::kSoft:
      return "soft";
    case Weighting::kFitted:
      return "fitted";
  }
  return "paper";
}

std::vector<double> SoftmaxWeights(const std::vector<double>& accuracies) {
  if (accuracies.empty()) return {};
  const double max = *std::max_element(accuracies.begin(), accuracies.end());
  std::vector<double> w(accuracies.size());
  double sum = 0;
  for (size_t i = 0; i < w.size(); ++i) sum += w[i] = std::exp(accuracies[i] - max);
  for (double& v : w) v /= sum;
  return w;
}

int Combine(const float* member_proba, int n, int k, const double* weights, Weighting weighting,
            float* certainties) {
  std::fill(certainties, certainties + k, 0.0f);
  double total = 0;
  for (int i = 0; i < n; ++i) {
    const float* p = member_proba + static_cast<size_t>(i) * k;
    for (int c = 0; c < k; ++c) certainties[c] += static_cast<float>(weights[i]) * p[c];
    total += weights[i];
  }
  float sum = 0;
  for (int c = 0; c < k; ++c) sum += certainties[c];
  if (sum > 0) {
    for (int c = 0; c < k; ++c) certainties[c] /= sum;
  }
  int best = 0;
  if (weighting != Weighting::kPaper) {
    for (int c = 1; c < k; ++c) {
      if (certainties[c] > certainties[best]) best = c;
    }
    return best;
  }
  // Eq. 3: weighted hard vote. At most 64 classes use the stack; more fall
  // back to certainties (the vote is then only a tie-breaker away from it).
  constexpr int kMaxStack = 64;
  if (k > kMaxStack) {
    for (int c = 1; c < k; ++c) {
      if (certainties[c] > certainties[best]) best = c;
    }
    return best;
  }
  double votes[kMaxStack] = {};
  for (int i = 0; i < n; ++i) {
    const float* p = member_proba + static_cast<size_t>(i) * k;
    votes[std::max_element(p, p + k) - p] += weights[i];
  }
  for (int c = 1; c < k; ++c) {
    if (votes[c] > votes[best] + 1e-12 ||
        (std::abs(votes[c] - votes[best]) <= 1e-12 && certainties[c] > certainties[best])) {
      best = c;
    }
  }
  return best;
}

std::vector<double> FitWeights(const std::vector<const std::vector<float>*>& proba,
                               const std::vector<int32_t>& labels, int k) {
  const size_t n = proba.size();
  std::vector<double> w(n, 1.0 / static_cast<double>(std::max<size_t>(1, n)));
  if (n <= 1 || labels.empty()) return w;
  const size_t rows = labels.size();
  // p_true[i][r]: member i's probability of row r's true class.
  std::vector<std::vector<double>> p_true(n, std::vector<double>(rows));
  for (size_t i = 0; i < n; ++i) {
    for (size_t r = 0; r < rows; ++r) p_true[i][r] = (*proba[i])[r * k + labels[r]];
  }
  std::vector<double> grad(n);
  const double eta = 0.5;
  for (int iter = 0; iter < 300; ++iter) {
    std::fill(grad.begin(), grad.end(), 0.0);
    for (size_t r = 0; r < rows; ++r) {
      double mix = 0;
      for (size_t i = 0; i < n; ++i) mix += w[i] * p_true[i][r];
      const double inv = 1.0 / std::max(mix, 1e-9);
      for (size_t i = 0; i < n; ++i) grad[i] -= p_true[i][r] * inv;
    }
    double sum = 0;
    for (size_t i = 0; i < n; ++i) {
      w[i] *= std::exp(-eta * grad[i] / static_cast<double>(rows));
      sum += w[i];
    }
    for (double& v : w) v /= sum;
  }
  return w;
}

double EnsembleAccuracy(const std::vector<const std::vector<float>*>& proba,
                        const std::vector<double>& weights, const std::vector<int32_t>& labels,
                        int k, Weighting weighting) {
  const int n = static_cast<int>(proba.size());
  if (n == 0 || labels.empty()) return 0;
  std::vector<float> rows(static_cast<size_t>(n) * k), cert(static_cast<size_t>(k));
  int64_t correct = 0;
  for (size_t r = 0; r < labels.size(); ++r) {
    for (int i = 0; i < n; ++i) {
      std::copy_n(proba[i]->data() + r * k, k, rows.data() + static_cast<size_t>(i) * k);
    }
    correct += Combine(rows.data(), n, k, weights.data(), weighting, cert.data()) == labels[r];
  }
  return static_cast<double>(correct) / static_cast<double>(labels.size());
}

double EnsembleLogLoss(const std::vector<const std::vector<float>*>& proba,
                       const std::vector<double>& weights, const std::vector<int32_t>& labels,
                       int k) {
  if (proba.empty() || labels.empty()) return 0;
  double total_w = 0;
  for (double w : weights) total_w += w;
  double loss = 0;
  for (size_t r = 0; r < labels.size(); ++r) {
    double p = 0;
    for (size_t i = 0; i < proba.size(); ++i) p += weights[i] * (*proba[i])[r * k + labels[r]];
    loss -= std::log(std::max(p / std::max(total_w, 1e-12), 1e-9));
  }
  return loss / static_cast<double>(labels.size());
}

}  // namespace mliot
