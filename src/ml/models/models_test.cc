// Every built-in kind: learns a separable toy problem, and a save/load round
// trip predicts exactly what the trained model predicted.
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "gtest/gtest.h"
#include "ml/model.h"

namespace mliot {
namespace {

// Three well-separated classes. Rows are 8x8 "images": class c lights up a
// different 4x4 quadrant, so both vector and image kinds can separate them.
struct Toy {
  std::vector<float> x;
  std::vector<int32_t> y;
  int64_t rows = 0;
  static constexpr int kCols = 64;
};

Toy MakeToy(int64_t rows, uint64_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.3f);
  Toy t;
  t.rows = rows;
  for (int64_t i = 0; i < rows; ++i) {
    const int c = static_cast<int>(i % 3);
    t.y.push_back(c);
    for (int r = 0; r < 8; ++r) {
      for (int col = 0; col < 8; ++col) {
        const int quadrant = (r / 4) * 2 + (col / 4);
        t.x.push_back((quadrant == c ? 1.0f : 0.0f) + noise(rng));
      }
    }
  }
  return t;
}

FitInput InputOf(const Toy& t) {
  FitInput in;
  in.x = t.x.data();
  in.rows = t.rows;
  in.cols = Toy::kCols;
  in.y = t.y.data();
  in.num_classes = 3;
  in.shape = ImageShape{8, 8};
  return in;
}

class ModelKindTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ModelKindTest, LearnsSeparableProblemAndRoundTrips) {
  auto kind = BuiltinModels().Find(GetParam());
  ASSERT_TRUE(kind.ok()) << kind.status();
  const Toy train = MakeToy(300, 1);
  const Toy test = MakeToy(150, 2);
  std::unique_ptr<Model> model = (*kind)->create();
  Params params = Params::Defaults((*kind)->params);
  if (GetParam() == "mlp" || GetParam() == "cnn") params.Set("epochs", int64_t{15});
  FitControl control;
  control.threads = 2;
  ASSERT_TRUE(model->Fit(InputOf(train), params, control).ok());
  ASSERT_EQ(model->num_classes(), 3);
  ASSERT_EQ(model->num_features(), Toy::kCols);

  int correct = 0;
  std::vector<float> proba(static_cast<size_t>(test.rows * 3));
  for (int64_t i = 0; i < test.rows; ++i) {
    model->PredictProba(test.x.data() + i * Toy::kCols, proba.data() + i * 3);
    const float* p = proba.data() + i * 3;
    EXPECT_NEAR(p[0] + p[1] + p[2], 1.0f, 1e-4) << GetParam();
    correct += ArgMax(p, 3) == test.y[i];
  }
  EXPECT_GE(correct, 0.95 * test.rows) << GetParam();

  // Batch prediction agrees with single-row prediction.
  std::vector<float> batch(proba.size());
  model->PredictProbaBatch(test.x.data(), test.rows, batch.data());
  for (size_t i = 0; i < proba.size(); ++i) ASSERT_NEAR(batch[i], proba[i], 1e-4) << GetParam();

  const std::string path = (std::filesystem::temp_directory_path() /
                            ("model_" + GetParam() + std::to_string(getpid())))
                               .string();
  ASSERT_TRUE(model->SaveWeights(path).ok());
  std::unique_ptr<Model> loaded = (*kind)->create();
  auto status = loaded->LoadWeights(path, params);
  ASSERT_TRUE(status.ok()) << status;
  std::vector<float> again(3);
  for (int64_t i = 0; i < test.rows; ++i) {
    loaded->PredictProba(test.x.data() + i * Toy::kCols, again.data());
    for (int c = 0; c < 3; ++c) ASSERT_EQ(again[c], proba[i * 3 + c]) << GetParam() << " row " << i;
  }
  std::filesystem::remove(path);
}

TEST_P(ModelKindTest, CorruptWeightsAreAnErrorNotACrash) {
  auto kind = BuiltinModels().Find(GetParam());
  ASSERT_TRUE(kind.ok());
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("corrupt_" + GetParam() + std::to_string(getpid())))
                               .string();
  {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    std::fputs("not a model", f);
    std::fclose(f);
  }
  std::unique_ptr<Model> model = (*kind)->create();
  EXPECT_FALSE(model->LoadWeights(path, Params::Defaults((*kind)->params)).ok());
  std::filesystem::remove(path);
}

INSTANTIATE_TEST_SUITE_P(AllKinds, ModelKindTest,
                         ::testing::Values("knn", "ridge", "logreg", "linear_svm", "rbf_svm",
                                           "random_forest", "xgboost", "mlp", "cnn"));

TEST(CnnTest, SingleRowPathMatchesLibtorchWithBatchNormAndOddSizes) {
  // 8x8 toy images padded to 9x10: odd sizes exercise the pooling floor, and
  // batch norm is folded into the convolutions of the single-row path.
  const Toy toy = MakeToy(240, 3);
  std::vector<float> x;
  for (int64_t i = 0; i < toy.rows; ++i) {
    for (int r = 0; r < 9; ++r) {
      for (int c = 0; c < 10; ++c) x.push_back(r < 8 && c < 8 ? toy.x[i * 64 + r * 8 + c] : 0.0f);
    }
  }
  FitInput in{x.data(), toy.rows, 90, toy.y.data(), 3, ImageShape{9, 10}};
  const ModelKind* kind = *BuiltinModels().Find("cnn");
  Params p = Params::Defaults(kind->params);
  p.Set("norm", std::string("batch"));
  p.Set("epochs", int64_t{5});
  std::unique_ptr<Model> model = kind->create();
  ASSERT_TRUE(model->Fit(in, p, FitControl{}).ok());
  std::vector<float> batch(static_cast<size_t>(toy.rows * 3));
  model->PredictProbaBatch(x.data(), toy.rows, batch.data());
  float single[3];
  for (int64_t i = 0; i < toy.rows; ++i) {
    model->PredictProba(x.data() + i * 90, single);
    for (int c = 0; c < 3; ++c) ASSERT_NEAR(single[c], batch[i * 3 + c], 1e-4) << "row " << i;
  }
}

TEST(ModelRegistryTest, UnknownKindListsTheValidOnes) {
  auto missing = BuiltinModels().Find("deep_forest");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(),
            "unknown model kind 'deep_forest'; valid kinds: knn, rbf_svm, ridge, logreg, "
            "linear_svm, xgboost, random_forest, mlp, cnn");
}

TEST(ModelRegistryTest, EveryKindDeclaresValidDefaults) {
  for (const std::string& name : BuiltinModels().Names()) {
    const ModelKind* kind = *BuiltinModels().Find(name);
    EXPECT_FALSE(kind->description.empty()) << name;
    EXPECT_FALSE(kind->probabilities.empty()) << name;
    auto complete = CompleteParams(kind->params, Params::Defaults(kind->params));
    EXPECT_TRUE(complete.ok()) << name << ": " << complete.status();
  }
}

}  // namespace
}  // namespace mliot
