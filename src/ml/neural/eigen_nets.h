// The neural kinds' inference on Eigen, from a network's state under
// libtorch's names (ml/neural/torch_api.h). No libtorch: serving workers,
// the CLI and the coordinator run mlp and cnn through these. Single rows do
// no allocation once a thread has warmed up. neural_test checks every layer
// type and shape against libtorch's forward pass.
//
// Included by ml/models/neural_models.cc and tests only (it brings Eigen).
#ifndef MLIOT_ML_NEURAL_EIGEN_NETS_H_
#define MLIOT_ML_NEURAL_EIGEN_NETS_H_

#include <Eigen/Dense>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "ml/neural/torch_api.h"

namespace mliot::neural {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The tensor `name` of `state`; when `shape` is non-empty it must match
// (-1 matches any size). Errors name the tensor.
absl::StatusOr<const NamedTensor*> FindTensor(const StateDict& state, const std::string& name,
                                              const std::vector<int64_t>& shape = {});

// Dense layers with ReLU between them: logits = W_L(...relu(W_0 x + b_0)...) + b_L.
class EigenMlp {
 public:
  // From a trained mlp's state: fc0 .. fc<layers-1>, head.
  absl::Status Build(const StateDict& state);
  // From weight matrices (out x in) and biases, layer by layer.
  absl::Status Set(std::vector<RowMatrix> weights, std::vector<Eigen::VectorXf> biases);

  void Forward(const float* row, float* logits) const;
  void ForwardBatch(const float* rows, int64_t n, float* logits) const;

  int inputs() const { return weights_.empty() ? 0 : static_cast<int>(weights_.front().cols()); }
  int outputs() const { return weights_.empty() ? 0 : static_cast<int>(weights_.back().rows()); }
  int classes() const { return outputs(); }
  const std::vector<RowMatrix>& weights() const { return weights_; }
  const std::vector<Eigen::VectorXf>& biases() const { return biases_; }

 private:
  std::vector<RowMatrix> weights_;  // out x in, per layer
  std::vector<Eigen::VectorXf> biases_;
};

// The cnn (torch_api.h NetSpec) as im2col + matrix products in
// channels-last layout, batch norm folded into the convolutions. The
// architecture is read from the state's shapes: channels from conv1, batch
// norm from the presence of bn1, global average pooling when fc's input
// width is the channel count of conv2.
class EigenCnn {
 public:
  absl::Status Build(const StateDict& state, int height, int width, float mean, float inv_std);

  void Forward(const float* row, float* logits) const;
  void ForwardBatch(const float* rows, int64_t n, float* logits) const;

  int classes() const { return static_cast<int>(head_.rows()); }
  bool gap() const { return gap_; }

 private:
  void Im2Col(const float* in, int h, int w, int c, bool normalise, RowMatrix& patches) const;

  int h_ = 0, w_ = 0, c1_ = 0, c2_ = 0;
  bool gap_ = false;
  float mean_ = 0, inv_std_ = 1;
  RowMatrix w1_, w2_, fc_, head_;
  Eigen::VectorXf b1_, b2_, fc_b_, head_b_;
};

}  // namespace mliot::neural

#endif  // MLIOT_ML_NEURAL_EIGEN_NETS_H_
