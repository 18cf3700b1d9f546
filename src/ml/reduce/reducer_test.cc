#include "ml/reduce/reducer.h"

#include <filesystem>
#include <random>

#include "gtest/gtest.h"
#include "ml/preprocess.h"

namespace mliot {
namespace {

// Rows on a 2-D plane embedded in 10-D, plus a little noise.
std::vector<float> PlaneData(int64_t rows, uint64_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g;
  std::vector<float> x;
  for (int64_t i = 0; i < rows; ++i) {
    const float a = g(rng), b = g(rng);
    for (int j = 0; j < 10; ++j) x.push_back(a * (j % 3) + b * (j % 2 == 0 ? 1.0f : -1.0f) + 0.01f * g(rng));
  }
  return x;
}

TEST(ReducerTest, SpecsParseAndBadOnesListTheForms) {
  for (const char* spec : {"none", "pca:5", "kpca:4", "kpca:4:cosine", "kpca:4:rbf"}) {
    EXPECT_TRUE(MakeReducer(spec).ok()) << spec;
  }
  for (const char* spec : {"lda:3", "pca", "pca:0", "pca:x", "kpca:3:poly", "pca:3:4", ""}) {
    auto r = MakeReducer(spec);
    ASSERT_FALSE(r.ok()) << spec;
    EXPECT_NE(r.status().message().find("valid reducers: none, pca:K"), std::string::npos) << r.status();
  }
}

TEST(ReducerTest, PcaKeepsThePlane) {
  const std::vector<float> x = PlaneData(500, 1);
  auto pca = *MakeReducer("pca:2");
  ASSERT_TRUE(pca->Fit(x.data(), 500, 10, FitControl{}).ok());
  EXPECT_EQ(pca->out_dim(), 2);
  // Two components explain the data: pairwise distances are preserved.
  float z0[2], z1[2];
  pca->Transform(x.data(), z0);
  pca->Transform(x.data() + 10, z1);
  float d_in = 0, d_out = 0;
  for (int j = 0; j < 10; ++j) d_in += (x[j] - x[10 + j]) * (x[j] - x[10 + j]);
  for (int j = 0; j < 2; ++j) d_out += (z0[j] - z1[j]) * (z0[j] - z1[j]);
  EXPECT_NEAR(std::sqrt(d_out), std::sqrt(d_in), 0.05 * std::sqrt(d_in) + 0.05);
}

TEST(ReducerTest, EveryReducerRoundTripsThroughAFile) {
  const std::vector<float> x = PlaneData(300, 2);
  for (const char* spec : {"none", "pca:3", "kpca:3:cosine", "kpca:3:rbf"}) {
    auto p = Preprocessor::Fit(x.data(), 300, 10, /*global_scale=*/false, spec, FitControl{});
    ASSERT_TRUE(p.ok()) << spec << ": " << p.status();
    const std::string path = (std::filesystem::temp_directory_path() / ("pre_" + std::to_string(getpid()))).string();
    ASSERT_TRUE((*p)->Save(path).ok());
    auto q = Preprocessor::Load(path);
    ASSERT_TRUE(q.ok()) << spec << ": " << q.status();
    EXPECT_EQ((*q)->out_dim(), (*p)->out_dim()) << spec;
    EXPECT_EQ((*q)->reducer_spec(), (*p)->reducer_spec());
    std::vector<float> a((*p)->out_dim()), b((*p)->out_dim());
    for (int i = 0; i < 20; ++i) {
      (*p)->Transform(x.data() + i * 10, a.data());
      (*q)->Transform(x.data() + i * 10, b.data());
      for (size_t j = 0; j < a.size(); ++j) ASSERT_EQ(a[j], b[j]) << spec;
    }
    // Batch and single-row paths agree.
    std::vector<float> batch(20 * a.size());
    (*p)->TransformBatch(x.data(), 20, batch.data());
    (*p)->Transform(x.data() + 19 * 10, a.data());
    for (size_t j = 0; j < a.size(); ++j) EXPECT_NEAR(batch[19 * a.size() + j], a[j], 1e-4) << spec;
    std::filesystem::remove(path);
  }
}

TEST(ReducerTest, KernelPcaSeparatesRings) {
  // Two concentric rings in 2-D are not linearly separable; in the RBF
  // kernel's feature space a leading component separates them by radius.
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> angle(0, 6.2831853f);
  std::vector<float> x;
  std::vector<int> ring;
  for (int i = 0; i < 400; ++i) {
    const float r = i % 2 == 0 ? 1.0f : 3.0f, t = angle(rng);
    x.push_back(r * std::cos(t));
    x.push_back(r * std::sin(t));
    ring.push_back(i % 2);
  }
  auto kpca = *MakeReducer("kpca:6:rbf");
  ASSERT_TRUE(kpca->Fit(x.data(), 400, 2, FitControl{}).ok());
  // A threshold on one of the leading components separates the rings.
  double best = 0;
  for (int c = 0; c < 6; ++c) {
    std::vector<std::pair<float, int>> v;
    float z[6];
    for (int i = 0; i < 400; ++i) {
      kpca->Transform(x.data() + 2 * i, z);
      v.push_back({z[c], ring[i]});
    }
    std::sort(v.begin(), v.end());
    int left1 = 0;
    for (int i = 0; i < 400; ++i) {
      left1 += v[i].second;
      const double acc = ((i + 1 - left1) + (200 - left1)) / 400.0;
      best = std::max({best, acc, 1 - acc});
    }
  }
  EXPECT_GT(best, 0.95);
}

TEST(PreprocessorTest, ImputesMissingValuesAndStandardises) {
  std::vector<float> x = {1, 10, 3, std::nanf(""), 5, 30};  // 3 rows x 2
  auto p = Preprocessor::Fit(x.data(), 3, 2, false, "none", FitControl{});
  ASSERT_TRUE(p.ok());
  float out[2];
  const float row[2] = {3, std::nanf("")};
  (*p)->Transform(row, out);
  EXPECT_NEAR(out[0], 0.0f, 1e-6);  // the mean
  EXPECT_EQ(out[1], 0.0f);          // missing -> mean -> 0
}

}  // namespace
}  // namespace mliot
