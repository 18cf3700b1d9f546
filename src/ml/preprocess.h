// Preprocessor: what happens to a raw row before the members see it.
//
//   1. impute:      missing values (NaN) become the training mean
//   2. standardise: per feature (tabular data), or one global mean and
//                   scale for rows with a 2-D shape, whose pixels share a
//                   scale and whose near-constant border pixels would
//                   otherwise be blown up
//   3. reduce:      a Reducer (none, pca:K, kpca:K)
//
// Members with input RAW (cnn) skip all three and do their own scaling.
// Saved as one TensorFile. Thread-safety: const methods may be called
// concurrently; Transform does not allocate.
#ifndef MLIOT_ML_PREPROCESS_H_
#define MLIOT_ML_PREPROCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ml/reduce/reducer.h"

namespace mliot {

class Preprocessor {
 public:
  // Fits scaling and the reducer named by `reducer_spec` on `rows` x `cols`.
  static absl::StatusOr<std::unique_ptr<Preprocessor>> Fit(const float* x, int64_t rows,
                                                           int64_t cols, bool global_scale,
                                                           const std::string& reducer_spec,
                                                           const FitControl& control);
  static absl::StatusOr<std::unique_ptr<Preprocessor>> Load(const std::string& path);
  absl::Status Save(const std::string& path) const;

  int in_dim() const { return static_cast<int>(mean_.size()); }
  int out_dim() const { return reducer_->out_dim(); }
  std::string reducer_spec() const { return reducer_->spec(); }

  void Transform(const float* raw, float* out) const;
  // Rows in, rows out; `out` has n * out_dim() floats.
  void TransformBatch(const float* raw, int64_t n, float* out) const;

 private:
  void Standardize(const float* raw, float* out) const;

  std::vector<float> mean_;     // per feature
  std::vector<float> inv_std_;  // per feature
  std::unique_ptr<Reducer> reducer_;
};

}  // namespace mliot

#endif  // MLIOT_ML_PREPROCESS_H_
