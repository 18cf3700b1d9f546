// FlatForest: an allocation-free evaluator for the trees XGBoost trains.
//
// XGBoost is used to fit (`xgboost`, `random_forest`); serving walks these
// flat arrays instead of calling XGBoosterPredict*, whose per-call JSON
// array interface allocates and costs tens of microseconds. Tests check that
// the margins equal XGBoost's own predictions.
//
// Thread-safety: const methods may be called concurrently.
#ifndef MLIOT_ML_MODELS_FLAT_FOREST_H_
#define MLIOT_ML_MODELS_FLAT_FOREST_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ml/tensor_file.h"

namespace mliot {

class FlatForest {
 public:
  // Appends the trees of an XGBoost model given as its JSON serialisation
  // (XGBoosterSaveModelToBuffer with {"format": "json"}); every leaf value of
  // these trees is multiplied by `scale`.
  absl::Status AppendXGBoostJson(const std::string& json, float scale = 1.0f);

  void set_num_classes(int k) { num_classes_ = k; }
  void set_base_margin(float m) { base_margin_ = m; }
  void set_num_features(int d) { num_features_ = d; }
  int num_features() const { return num_features_; }
  int num_classes() const { return num_classes_; }
  int num_trees() const { return static_cast<int>(roots_.size()); }

  // margins[c] = base + sum of leaf values of the trees of class c.
  void Margins(const float* row, float* margins) const;

  void SaveTo(TensorFile& file) const;
  absl::Status LoadFrom(const TensorFile& file);

 private:
  // Node i: leaf when left_[i] < 0, value_[i] then holds the leaf value;
  // otherwise go left when row[feature_[i]] < value_[i] (or when missing
  // and default_left_[i]).
  std::vector<int32_t> feature_;
  std::vector<float> value_;
  std::vector<int32_t> left_;
  std::vector<int32_t> right_;
  std::vector<uint8_t> default_left_;
  std::vector<int32_t> roots_;       // first node of each tree
  std::vector<int32_t> tree_class_;  // output group of each tree
  int num_classes_ = 0;
  int num_features_ = 0;
  float base_margin_ = 0.0f;
};

}  // namespace mliot

#endif  // MLIOT_ML_MODELS_FLAT_FOREST_H_
