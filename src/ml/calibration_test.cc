#include "ml/calibration.h"

#include <cmath>

#include "gtest/gtest.h"

namespace mliot {
namespace {

TEST(CalibrationTest, SoftmaxSumsToOneAndIsStable) {
  float row[3] = {1000, 1001, 999};
  SoftmaxInPlace(row, 3);
  EXPECT_NEAR(row[0] + row[1] + row[2], 1.0f, 1e-6);
  EXPECT_GT(row[1], row[0]);
  EXPECT_FALSE(std::isnan(row[2]));
}

TEST(CalibrationTest, SharperScoresWhenLabelsAgree) {
  // Scores always point at the true class: the best temperature is large.
  std::vector<float> scores;
  std::vector<int32_t> labels;
  for (int i = 0; i < 100; ++i) {
    labels.push_back(i % 2);
    scores.push_back(i % 2 == 0 ? 1.0f : -1.0f);
    scores.push_back(i % 2 == 0 ? -1.0f : 1.0f);
  }
  EXPECT_GT(FitSoftmaxTemperature(scores.data(), labels.data(), 100, 2), 10.0f);
  // Scores uncorrelated with labels: a small temperature wins.
  for (int i = 0; i < 100; ++i) labels[i] = (i / 2) % 2;
  EXPECT_LT(FitSoftmaxTemperature(scores.data(), labels.data(), 100, 2), 0.1f);
}

}  // namespace
}  // namespace mliot
