// `--scale auto` and `--reduce auto`: pick the preprocessing by validation
// accuracy of two fast proxy models (ridge and 5-NN, fitted on at most 5000
// training rows; the score is the better of the two on the validation rows).
//
// Scale: per-feature standardisation or one global mean and scale. Rows
// with a 2-D shape (images) always use the global scale. Otherwise both are
// scored with no reduction; global must win by half a point (tabular data
// with mixed units needs per-feature scaling; pixel-like tables whose
// near-constant columns per-feature scaling would blow up do not).
//
// Reducer: none, and for more than 32 features pca:K and kpca:K:cosine with
// K = min(64, features / 2). A reduction wins ties within half a point,
// because it also makes serving faster.
#ifndef MLIOT_TRAIN_REDUCER_CHOICE_H_
#define MLIOT_TRAIN_REDUCER_CHOICE_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"

namespace mliot {

struct ReducerChoiceInput {
  const float* train_x;
  const int32_t* train_y;
  int64_t train_rows;
  const float* val_x;
  const int32_t* val_y;
  int64_t val_rows;
  int64_t cols;
  int num_classes;
  bool has_shape;
  int height = 0, width = 0;  // the 2-D shape, when has_shape
  uint64_t seed;
  int threads;
};

struct PreprocessChoice {
  bool global_scale = false;
  std::string reducer;
  double proxy_accuracy = 0;
};

// `scale` is "auto", "feature" or "global"; `reduce` a reducer spec or "auto".
PreprocessChoice ChoosePreprocessing(const ReducerChoiceInput& in, const std::string& scale,
                                     const std::string& reduce, const Deadline& deadline,
                                     const std::function<void(const std::string&)>& say);

}  // namespace mliot

#endif  // MLIOT_TRAIN_REDUCER_CHOICE_H_
