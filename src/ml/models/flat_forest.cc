#include "ml/models/flat_forest.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "nlohmann/json.hpp"

namespace mliot {

absl::Status FlatForest::AppendXGBoostJson(const std::string& text, float scale) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::DataLossError("XGBoost model JSON does not parse");
  try {
    const nlohmann::json& model = doc.at("learner").at("gradient_booster").at("model");
    const nlohmann::json& trees = model.at("trees");
    const nlohmann::json& info = model.at("tree_info");
    for (size_t t = 0; t < trees.size(); ++t) {
      const nlohmann::json& tree = trees[t];
      const auto left = tree.at("left_children").get<std::vector<int32_t>>();
      const auto right = tree.at("right_children").get<std::vector<int32_t>>();
      const auto index = tree.at("split_indices").get<std::vector<int32_t>>();
      const auto cond = tree.at("split_conditions").get<std::vector<float>>();
      const auto def = tree.at("default_left").get<std::vector<int32_t>>();
      const int32_t offset = static_cast<int32_t>(feature_.size());
      roots_.push_back(offset);
      tree_class_.push_back(info.at(t).get<int32_t>());
      for (size_t i = 0; i < left.size(); ++i) {
        const bool leaf = left[i] < 0;
        feature_.push_back(leaf ? 0 : index[i]);
        value_.push_back(leaf ? cond[i] * scale : cond[i]);
        left_.push_back(leaf ? -1 : left[i] + offset);
        right_.push_back(leaf ? -1 : right[i] + offset);
        default_left_.push_back(static_cast<uint8_t>(def[i] != 0));
      }
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::DataLossError(absl::StrCat("XGBoost model JSON: ", e.what()));
  }
  return absl::OkStatus();
}

void FlatForest::Margins(const float* row, float* margins) const {
  for (int c = 0; c < num_classes_; ++c) margins[c] = base_margin_;
  const size_t n = roots_.size();
  for (size_t t = 0; t < n; ++t) {
    int32_t node = roots_[t];
    while (left_[node] >= 0) {
      const float v = row[feature_[node]];
      if (std::isnan(v)) {
        node = default_left_[node] ? left_[node] : right_[node];
      } else {
        node = v < value_[node] ? left_[node] : right_[node];
      }
    }
    margins[tree_class_[t]] += value_[node];
  }
}

namespace {

template <typename T>
std::vector<float> AsFloats(const std::vector<T>& v) {
  return std::vector<float>(v.begin(), v.end());
}

template <typename T>
std::vector<T> FromFloats(const std::vector<float>& v) {
  std::vector<T> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = static_cast<T>(v[i]);
  return out;
}

}  // namespace

void FlatForest::SaveTo(TensorFile& file) const {
  const int64_t nodes = static_cast<int64_t>(feature_.size());
  const int64_t trees = static_cast<int64_t>(roots_.size());
  // Node indices and features are exact in float32 up to 2^24.
  file.Put("feature", {nodes}, AsFloats(feature_).data());
  file.Put("value", {nodes}, value_.data());
  file.Put("left", {nodes}, AsFloats(left_).data());
  file.Put("right", {nodes}, AsFloats(right_).data());
  file.Put("default_left", {nodes}, AsFloats(default_left_).data());
  file.Put("roots", {trees}, AsFloats(roots_).data());
  file.Put("tree_class", {trees}, AsFloats(tree_class_).data());
  const float meta[3] = {static_cast<float>(num_classes_), base_margin_,
                         static_cast<float>(num_features_)};
  file.Put("meta", {3}, meta);
}

absl::Status FlatForest::LoadFrom(const TensorFile& file) {
  MLIOT_ASSIGN_OR_RETURN(std::vector<float> meta, file.Get("meta", {3}));
  MLIOT_ASSIGN_OR_RETURN(std::vector<float> feature, file.Get("feature"));
  const int64_t nodes = static_cast<int64_t>(feature.size());
  MLIOT_ASSIGN_OR_RETURN(value_, file.Get("value", {nodes}));
  MLIOT_ASSIGN_OR_RETURN(std::vector<float> left, file.Get("left", {nodes}));
  MLIOT_ASSIGN_OR_RETURN(std::vector<float> right, file.Get("right", {nodes}));
  MLIOT_ASSIGN_OR_RETURN(std::vector<float> def, file.Get("default_left", {nodes}));
  MLIOT_ASSIGN_OR_RETURN(std::vector<float> roots, file.Get("roots"));
  MLIOT_ASSIGN_OR_RETURN(std::vector<float> tree_class,
                         file.Get("tree_class", {static_cast<int64_t>(roots.size())}));
  num_classes_ = static_cast<int>(meta[0]);
  base_margin_ = meta[1];
  num_features_ = static_cast<int>(meta[2]);
  feature_ = FromFloats<int32_t>(feature);
  left_ = FromFloats<int32_t>(left);
  right_ = FromFloats<int32_t>(right);
  default_left_ = FromFloats<uint8_t>(def);
  roots_ = FromFloats<int32_t>(roots);
  tree_class_ = FromFloats<int32_t>(tree_class);
  // Reject files whose links would walk out of bounds.
  for (int64_t i = 0; i < nodes; ++i) {
    // XGBoost numbers children after their parent; requiring it rules out cycles.
    const bool leaf = left_[i] < 0;
    if (!leaf && (left_[i] <= i || right_[i] <= i || left_[i] >= nodes || right_[i] >= nodes ||
                  feature_[i] < 0 || feature_[i] >= num_features_)) {
      return absl::DataLossError("forest node links out of range");
    }
  }
  for (size_t t = 0; t < roots_.size(); ++t) {
    if (roots_[t] < 0 || roots_[t] >= nodes || tree_class_[t] < 0 || tree_class_[t] >= num_classes_) {
      return absl::DataLossError("forest tree table out of range");
    }
  }
  return absl::OkStatus();
}

}  // namespace mliot
