// SgdModel: a libtorch network (the engine's `mlp` or `cnn` architecture,
// in the torch module, ml/neural/torch_api.h) trained one mini-batch at a time, for the streaming trainer and for
// data-parallel training. Unlike the engine's kinds it never sees the whole
// data set: callers hand it batches as they come out of the cache, get the
// per-sample losses back (for importance-aware caching and sampling), and,
// for data-parallel training, split a step into Backward (gradients), an
// all-reduce of GradientBuffer() done by the caller, and Apply.
//
// No libtorch header here or in sgd_model.cc.
#ifndef MLIOT_STREAM_SGD_MODEL_H_
#define MLIOT_STREAM_SGD_MODEL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "absl/status/statusor.h"
#include "data/dataset.h"

namespace mliot::stream {

struct SgdOptions {
  std::string kind = "mlp";  // mlp | cnn
  int64_t features = 0;      // input width (height * width for cnn)
  int height = 0, width = 0; // cnn only
  int classes = 0;
  int hidden = 256;
  double learning_rate = 1e-3;  // Adam
  int threads = 1;              // intra-op threads of this model
  uint64_t seed = 1;
};

class SgdModel {
 public:
  // Errors name the bad option (unknown kind, cnn without an image shape).
  static absl::StatusOr<std::unique_ptr<SgdModel>> Create(const SgdOptions& options);
  virtual ~SgdModel() = default;

  // Forward + backward on n rows (row-major, n x features) with labels y;
  // gradients are left in the parameters. Writes each row's loss to
  // `losses` (n values) when non-null; returns the mean loss.
  virtual float Backward(const float* x, const int32_t* y, int64_t n, float* losses) = 0;
  // The optimiser step on the current gradients.
  virtual void Apply() = 0;
  // Scales the learning rate (1 = options.learning_rate) for later steps.
  virtual void SetLearningRateScale(double scale) = 0;
  // Backward then Apply.
  float Step(const float* x, const int32_t* y, int64_t n, float* losses) {
    const float loss = Backward(x, y, n, losses);
    Apply();
    return loss;
  }

  // All gradients as one contiguous float buffer (the parameters' .grad
  // tensors are views into it), so an all-reduce can run in place.
  virtual std::span<float> GradientBuffer() = 0;
  // All parameters as one contiguous float buffer (views likewise), for
  // broadcasting initial weights and for comparing replicas.
  virtual std::span<float> ParameterBuffer() = 0;

  // Accuracy on a labelled data set (inference mode, batches of 1,000).
  virtual double Accuracy(const Dataset& data) = 0;
  // Writes the weights to `path` atomically (a TensorFile written to a
  // temporary name, then renamed): a reader sees the old file or the new one.
  virtual absl::Status SaveCheckpoint(const std::string& path) const = 0;
  virtual absl::Status LoadCheckpoint(const std::string& path) = 0;
  // Writes the weights in the engine's format for the same architecture
  // (ml/models/neural_models.cc: "mliot.mlp.v1" with layers = 2, or
  // "mliot.cnn.v1" with channels = 16 and hidden = options().hidden), so a
  // bundle can serve this model through the engine's own kind. The mlp
  // expects inputs mapped to [-1, 1], which the bundle's preprocessing does.
  virtual absl::Status SaveEngineWeights(const std::string& path) const = 0;
  virtual const SgdOptions& options() const = 0;
};

// The cosine schedule every trainer here uses: 1 at step 0, falling to 0.02
// at `total` steps (the last updates are small, so the final weights do not
// hinge on the last few batches).
double CosineScale(int64_t step, int64_t total);

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_SGD_MODEL_H_
