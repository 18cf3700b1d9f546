// Ensemble weights, votes and certainties against hand-computed eq. 3-5 cases.
#include "ml/ensemble.h"

#include <cmath>

#include "gtest/gtest.h"

namespace mliot {
namespace {

TEST(EnsembleTest, SoftmaxWeightsMatchEquation4) {
  // a = (0.9, 0.8, 0.6): w_i = e^{a_i} / sum_j e^{a_j}.
  const std::vector<double> w = SoftmaxWeights({0.9, 0.8, 0.6});
  const double z = std::exp(0.9) + std::exp(0.8) + std::exp(0.6);
  EXPECT_NEAR(w[0], std::exp(0.9) / z, 1e-12);
  EXPECT_NEAR(w[1], std::exp(0.8) / z, 1e-12);
  EXPECT_NEAR(w[2], std::exp(0.6) / z, 1e-12);
  EXPECT_NEAR(w[0] + w[1] + w[2], 1.0, 1e-12);
  // Equal accuracies: equal weights.
  const std::vector<double> eq = SoftmaxWeights({0.7, 0.7});
  EXPECT_DOUBLE_EQ(eq[0], 0.5);
}

TEST(EnsembleTest, CertaintiesMatchEquation5) {
  // Two members, three classes, weights 0.75 / 0.25.
  const float proba[] = {0.6f, 0.3f, 0.1f,   // member 1
                         0.2f, 0.2f, 0.6f};  // member 2
  const double w[] = {0.75, 0.25};
  float cert[3];
  Combine(proba, 2, 3, w, Weighting::kSoft, cert);
  // s = 0.75 * p1 + 0.25 * p2 = (0.5, 0.275, 0.225), already summing to 1.
  EXPECT_NEAR(cert[0], 0.5, 1e-6);
  EXPECT_NEAR(cert[1], 0.275, 1e-6);
  EXPECT_NEAR(cert[2], 0.225, 1e-6);
}

TEST(EnsembleTest, CertaintiesAreNormalisedWhenWeightsDoNotSumToOne) {
  const float proba[] = {1.0f, 0.0f, 0.0f, 1.0f};
  const double w[] = {2.0, 2.0};
  float cert[2];
  Combine(proba, 2, 2, w, Weighting::kSoft, cert);
  EXPECT_NEAR(cert[0], 0.5, 1e-6);
  EXPECT_NEAR(cert[1], 0.5, 1e-6);
}

TEST(EnsembleTest, PaperVoteCanDisagreeWithSoftVote) {
  // Three members: two weakly vote class 1, one strongly votes class 0.
  const float proba[] = {0.45f, 0.55f,  //
                         0.45f, 0.55f,  //
                         0.99f, 0.01f};
  const std::vector<double> w = SoftmaxWeights({0.8, 0.8, 0.8});
  float cert[2];
  // Eq. 3: class 1 gets 2/3 of the vote weight.
  EXPECT_EQ(Combine(proba, 3, 2, w.data(), Weighting::kPaper, cert), 1);
  // Eq. 5: s_0 = (0.45 + 0.45 + 0.99) / 3 = 0.63 > s_1.
  EXPECT_EQ(Combine(proba, 3, 2, w.data(), Weighting::kSoft, cert), 0);
  EXPECT_NEAR(cert[0], 0.63, 1e-6);
}

TEST(EnsembleTest, VoteTieGoesToHigherCertainty) {
  const float proba[] = {0.9f, 0.1f,  //
                         0.4f, 0.6f};
  const double w[] = {0.5, 0.5};
  float cert[2];
  EXPECT_EQ(Combine(proba, 2, 2, w, Weighting::kPaper, cert), 0);
}

TEST(EnsembleTest, AccuracyOnStoredProbabilities) {
  const std::vector<float> a = {0.9f, 0.1f, 0.2f, 0.8f, 0.6f, 0.4f};
  const std::vector<float> b = {0.8f, 0.2f, 0.3f, 0.7f, 0.1f, 0.9f};
  const std::vector<int32_t> labels = {0, 1, 1};
  const double acc = EnsembleAccuracy({&a, &b}, {0.5, 0.5}, labels, 2, Weighting::kSoft);
  // Row 3: s = (0.35, 0.65) -> class 1, correct. All three correct.
  EXPECT_DOUBLE_EQ(acc, 1.0);
}

TEST(EnsembleTest, FittedWeightsFavourTheInformativeMember) {
  // Member 0 is always right with confidence 0.9; member 1 is a coin flip.
  std::vector<float> good, noise;
  std::vector<int32_t> labels;
  for (int r = 0; r < 200; ++r) {
    const int y = r % 2;
    labels.push_back(y);
    good.push_back(y == 0 ? 0.9f : 0.1f);
    good.push_back(y == 0 ? 0.1f : 0.9f);
    noise.push_back(r % 3 == 0 ? 0.8f : 0.2f);
    noise.push_back(r % 3 == 0 ? 0.2f : 0.8f);
  }
  const std::vector<double> w = FitWeights({&good, &noise}, labels, 2);
  EXPECT_GT(w[0], 0.95);
  EXPECT_NEAR(w[0] + w[1], 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(EnsembleAccuracy({&good, &noise}, w, labels, 2, Weighting::kFitted), 1.0);
}

TEST(EnsembleTest, LogLossOfCertainties) {
  const std::vector<float> a = {0.5f, 0.5f, 0.9f, 0.1f};
  const std::vector<float> b = {0.1f, 0.9f, 0.7f, 0.3f};
  const std::vector<int32_t> labels = {1, 0};
  // Certainties of the true classes: (0.5 + 0.9) / 2 = 0.7 and (0.9 + 0.7) / 2 = 0.8.
  EXPECT_NEAR(EnsembleLogLoss({&a, &b}, {1.0, 1.0}, labels, 2), -(std::log(0.7) + std::log(0.8)) / 2, 1e-6);
}

TEST(EnsembleTest, WeightingNames) {
  EXPECT_EQ(*ParseWeighting("paper"), Weighting::kPaper);
  EXPECT_EQ(*ParseWeighting("soft"), Weighting::kSoft);
  EXPECT_EQ(*ParseWeighting("fitted"), Weighting::kFitted);
  EXPECT_FALSE(ParseWeighting("magic").ok());
}

}  // namespace
}  // namespace mliot
