// FlatForest must reproduce XGBoost's own margins exactly.
#include "ml/models/flat_forest.h"

#include <xgboost/c_api.h>

#include <cmath>
#include <random>

#include "gtest/gtest.h"

namespace mliot {
namespace {

TEST(FlatForestTest, MatchesXGBoostPredictions) {
  const int rows = 400, cols = 6, classes = 3;
  std::mt19937 rng(3);
  std::normal_distribution<float> g;
  std::vector<float> x(rows * cols), y(rows);
  for (int i = 0; i < rows; ++i) {
    for (int j = 0; j < cols; ++j) x[i * cols + j] = g(rng);
    if (i % 17 == 0) x[i * cols + 2] = std::nanf("");  // exercise default directions
    y[i] = static_cast<float>((x[i * cols] > 0) + (x[i * cols + 1] > 0.5f));
  }
  DMatrixHandle dm;
  ASSERT_EQ(XGDMatrixCreateFromMat(x.data(), rows, cols, std::nanf(""), &dm), 0);
  ASSERT_EQ(XGDMatrixSetFloatInfo(dm, "label", y.data(), rows), 0);
  BoosterHandle b;
  ASSERT_EQ(XGBoosterCreate(&dm, 1, &b), 0);
  XGBoosterSetParam(b, "objective", "multi:softprob");
  XGBoosterSetParam(b, "num_class", "3");
  XGBoosterSetParam(b, "tree_method", "hist");
  XGBoosterSetParam(b, "max_depth", "4");
  for (int r = 0; r < 10; ++r) ASSERT_EQ(XGBoosterUpdateOneIter(b, r, dm), 0);
  bst_ulong len;
  const char* json;
  ASSERT_EQ(XGBoosterSaveModelToBuffer(b, R"({"format": "json"})", &len, &json), 0);
  FlatForest forest;
  forest.set_num_classes(classes);
  forest.set_num_features(cols);
  ASSERT_TRUE(forest.AppendXGBoostJson(std::string(json, len)).ok());
  EXPECT_EQ(forest.num_trees(), 30);

  bst_ulong out_len;
  const float* margins;
  // option_mask 1 = output margins.
  ASSERT_EQ(XGBoosterPredict(b, dm, 1, 0, 0, &out_len, &margins), 0);
  ASSERT_EQ(out_len, static_cast<bst_ulong>(rows * classes));
  float ours[classes];
  for (int i = 0; i < rows; ++i) {
    forest.Margins(x.data() + i * cols, ours);
    // XGBoost adds base_score (0.5) to every class; softprob ignores it.
    for (int c = 0; c < classes; ++c) ASSERT_NEAR(ours[c] + 0.5f, margins[i * classes + c], 1e-5);
  }
  XGBoosterFree(b);
  XGDMatrixFree(dm);
}

TEST(FlatForestTest, RejectsCyclicLinks) {
  TensorFile f("mliot.forest.v1");
  const float feature[2] = {0, 0}, value[2] = {0.5f, 1}, left[2] = {0, -1}, right[2] = {1, -1},
              def[2] = {0, 0}, roots[1] = {0}, cls[1] = {0}, meta[3] = {2, 0, 1};
  f.Put("feature", {2}, feature);
  f.Put("value", {2}, value);
  f.Put("left", {2}, left);  // node 0 points at itself
  f.Put("right", {2}, right);
  f.Put("default_left", {2}, def);
  f.Put("roots", {1}, roots);
  f.Put("tree_class", {1}, cls);
  f.Put("meta", {3}, meta);
  FlatForest forest;
  EXPECT_FALSE(forest.LoadFrom(f).ok());
}

}  // namespace
}  // namespace mliot
