#include "ml/calibration.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mliot {

void SoftmaxInPlace(float* row, int k, float temperature) {
  float max = -std::numeric_limits<float>::infinity();
  for (int c = 0; c < k; ++c) max = std::max(max, row[c] * temperature);
  float sum = 0;
  for (int c = 0; c < k; ++c) {
    row[c] = std::exp(row[c] * temperature - max);
    sum += row[c];
  }
  const float inv = sum > 0 ? 1.0f / sum : 0.0f;
  for (int c = 0; c < k; ++c) row[c] *= inv;
}

float FitSoftmaxTemperature(const float* scores, const int32_t* labels, int64_t n, int k) {
  // Evaluate at most 4000 rows; enough for one scalar.
  const int64_t step = std::max<int64_t>(1, n / 4000);
  float best_t = 1.0f;
  double best_loss = std::numeric_limits<double>::infinity();
  for (int i = -12; i <= 16; ++i) {
    const float t = std::pow(2.0f, static_cast<float>(i) * 0.5f);
    double loss = 0;
    for (int64_t r = 0; r < n; r += step) {
      const float* s = scores + r * k;
      float max = -std::numeric_limits<float>::infinity();
      for (int c = 0; c < k; ++c) max = std::max(max, s[c] * t);
      double sum = 0;
      for (int c = 0; c < k; ++c) sum += std::exp(static_cast<double>(s[c] * t - max));
      loss += std::log(sum) - (s[labels[r]] * t - max);
    }
    if (loss < best_loss) {
      best_loss = loss;
      best_t = t;
    }
  }
  return best_t;
}

}  // namespace mliot
