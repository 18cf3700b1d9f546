// Dimensionality reduction, fitted on training rows and applied to every row
// at serving time (paper §4.2.1). Specs, by name:
//
//   none            identity
//   pca:K           principal components (Eigen eigendecomposition)
//   kpca:K[:KERNEL] kernel PCA, KERNEL = cosine (default) or rbf, by the
//                   Nyström method: m <= 1000 landmark rows fix the kernel
//                   feature map, linear PCA on that map over the training rows
//                   gives K components. Fitting costs O(m^2 d + n m^2) and
//                   serving O(m d), so it scales to tens of thousands of rows.
//   colstats:H:W    for 2-D rows of H x W (a log-mel patch: frames x bands):
//                   per column, over its H values, the mean, standard
//                   deviation, minimum, maximum and mean absolute first
//                   difference -> 5 W features that do not depend on where in
//                   the patch an event lies. No fitting.
//
// A reducer sees standardised rows (see Preprocessor). Transform never
// allocates. Thread-safety: const methods may be called concurrently.
#ifndef MLIOT_ML_REDUCE_REDUCER_H_
#define MLIOT_ML_REDUCE_REDUCER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ml/model.h"
#include "ml/tensor_file.h"

namespace mliot {

class Reducer {
 public:
  virtual ~Reducer() = default;
  virtual absl::Status Fit(const float* x, int64_t rows, int64_t cols, const FitControl& control) = 0;
  virtual int in_dim() const = 0;
  virtual int out_dim() const = 0;
  virtual void Transform(const float* row, float* out) const = 0;
  virtual void TransformBatch(const float* rows, int64_t n, float* out) const;
  virtual void SaveTo(TensorFile& file) const = 0;
  virtual absl::Status LoadFrom(const TensorFile& file) = 0;
  // The canonical spec, e.g. "pca:50".
  virtual std::string spec() const = 0;
};

// Parses a spec ("none", "pca:50", "kpca:64:rbf"); errors list the valid forms.
// "auto" is not a reducer: the trainer resolves it to one of these.
absl::StatusOr<std::unique_ptr<Reducer>> MakeReducer(absl::string_view spec);

// The valid forms, for help and errors.
std::string ReducerForms();

}  // namespace mliot

#endif  // MLIOT_ML_REDUCE_REDUCER_H_
