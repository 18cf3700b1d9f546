#include "ml/neural/eigen_nets.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_util.h"

namespace mliot::neural {
namespace {

constexpr float kBatchNormEps = 1e-5f;  // torch::nn::BatchNorm2d's default

Eigen::VectorXf ToVector(const NamedTensor& t) {
  return Eigen::Map<const Eigen::VectorXf>(t.data.data(), static_cast<Eigen::Index>(t.data.size()));
}

RowMatrix ToMatrix(const NamedTensor& t) {
  return Eigen::Map<const RowMatrix>(t.data.data(), t.shape[0], static_cast<Eigen::Index>(t.data.size()) / t.shape[0]);
}

// ReLU then 2x2 max pooling (floor), (h*w) x c -> (h/2*w/2) x c.
void ReluPool(const RowMatrix& conv, int h, int w, int c, RowMatrix& pooled) {
  const int ph = h / 2, pw = w / 2;
  pooled.resize(ph * pw, c);
  for (int y = 0; y < ph; ++y) {
    for (int x = 0; x < pw; ++x) {
      float* out = pooled.data() + (y * pw + x) * c;
      const float* a = conv.data() + ((2 * y) * w + 2 * x) * c;
      const float* b = a + c;
      const float* d = a + w * c;
      const float* e = d + c;
      for (int k = 0; k < c; ++k) out[k] = std::max({0.0f, a[k], b[k], d[k], e[k]});
    }
  }
}

// A 3x3 convolution's weights as (out, ky, kx, in) rows to match Im2Col's
// patch layout, with an inference-mode batch norm folded in when `bn` names
// one in the state.
absl::Status FoldConv(const StateDict& state, const std::string& conv, const std::string& bn, int64_t in,
                      RowMatrix& w, Eigen::VectorXf& b) {
  MLIOT_ASSIGN_OR_RETURN(const NamedTensor* weight, FindTensor(state, conv + ".weight", {-1, in, 3, 3}));
  const int64_t out = weight->shape[0];
  MLIOT_ASSIGN_OR_RETURN(const NamedTensor* bias, FindTensor(state, conv + ".bias", {out}));
  Eigen::VectorXf scale = Eigen::VectorXf::Ones(out);
  b = ToVector(*bias);
  if (FindTensor(state, bn + ".weight").ok()) {
    MLIOT_ASSIGN_OR_RETURN(const NamedTensor* gamma, FindTensor(state, bn + ".weight", {out}));
    MLIOT_ASSIGN_OR_RETURN(const NamedTensor* beta, FindTensor(state, bn + ".bias", {out}));
    MLIOT_ASSIGN_OR_RETURN(const NamedTensor* mean, FindTensor(state, bn + ".running_mean", {out}));
    MLIOT_ASSIGN_OR_RETURN(const NamedTensor* var, FindTensor(state, bn + ".running_var", {out}));
    for (int64_t o = 0; o < out; ++o) {
      scale[o] = gamma->data[o] / std::sqrt(var->data[o] + kBatchNormEps);
      b[o] = (b[o] - mean->data[o]) * scale[o] + beta->data[o];
    }
  }
  w.resize(out, 9 * in);
  for (int64_t o = 0; o < out; ++o) {
    for (int64_t i = 0; i < in; ++i) {
      for (int k = 0; k < 9; ++k) w(o, k * in + i) = weight->data[(o * in + i) * 9 + k] * scale[o];
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<const NamedTensor*> FindTensor(const StateDict& state, const std::string& name,
                                              const std::vector<int64_t>& shape) {
  for (const NamedTensor& t : state) {
    if (t.name != name) continue;
    bool match = shape.empty() || shape.size() == t.shape.size();
    for (size_t i = 0; match && i < shape.size(); ++i) match = shape[i] < 0 || shape[i] == t.shape[i];
    if (!match) {
      return absl::DataLossError(absl::StrCat("tensor '", name, "' has shape [", absl::StrJoin(t.shape, ","),
                                              "], expected [", absl::StrJoin(shape, ","), "]"));
    }
    return &t;
  }
  return absl::NotFoundError(absl::StrCat("no tensor '", name, "'"));
}

// ---------------------------------------------------------------- mlp

absl::Status EigenMlp::Build(const StateDict& state) {
  std::vector<RowMatrix> weights;
  std::vector<Eigen::VectorXf> biases;
  for (int i = 0;; ++i) {
    const std::string layer = absl::StrCat("fc", i);
    if (!FindTensor(state, layer + ".weight").ok()) break;
    MLIOT_ASSIGN_OR_RETURN(const NamedTensor* w, FindTensor(state, layer + ".weight", {-1, -1}));
    MLIOT_ASSIGN_OR_RETURN(const NamedTensor* b, FindTensor(state, layer + ".bias", {w->shape[0]}));
    weights.push_back(ToMatrix(*w));
    biases.push_back(ToVector(*b));
  }
  MLIOT_ASSIGN_OR_RETURN(const NamedTensor* w, FindTensor(state, "head.weight", {-1, -1}));
  MLIOT_ASSIGN_OR_RETURN(const NamedTensor* b, FindTensor(state, "head.bias", {w->shape[0]}));
  weights.push_back(ToMatrix(*w));
  biases.push_back(ToVector(*b));
  return Set(std::move(weights), std::move(biases));
}

absl::Status EigenMlp::Set(std::vector<RowMatrix> weights, std::vector<Eigen::VectorXf> biases) {
  if (weights.empty() || weights.size() != biases.size()) return absl::DataLossError("mlp: no layers");
  for (size_t i = 0; i < weights.size(); ++i) {
    if (biases[i].size() != weights[i].rows() || (i > 0 && weights[i].cols() != weights[i - 1].rows())) {
      return absl::DataLossError(absl::StrCat("mlp: layer ", i, " has the wrong shape"));
    }
  }
  weights_ = std::move(weights);
  biases_ = std::move(biases);
  return absl::OkStatus();
}

void EigenMlp::Forward(const float* row, float* logits) const {
  thread_local Eigen::VectorXf a, b;
  a = Eigen::Map<const Eigen::VectorXf>(row, inputs());
  for (size_t i = 0; i < weights_.size(); ++i) {
    b.noalias() = weights_[i] * a;
    b += biases_[i];
    if (i + 1 < weights_.size()) a = b.cwiseMax(0.0f);
  }
  std::copy_n(b.data(), outputs(), logits);
}

void EigenMlp::ForwardBatch(const float* rows, int64_t n, float* logits) const {
  RowMatrix a = Eigen::Map<const RowMatrix>(rows, n, inputs());
  for (size_t i = 0; i < weights_.size(); ++i) {
    RowMatrix z = a * weights_[i].transpose();
    z.rowwise() += biases_[i].transpose();
    a = i + 1 < weights_.size() ? RowMatrix(z.cwiseMax(0.0f)) : z;
  }
  Eigen::Map<RowMatrix>(logits, n, outputs()) = a;
}

// ---------------------------------------------------------------- cnn

absl::Status EigenCnn::Build(const StateDict& state, int height, int width, float mean, float inv_std) {
  if (height < 4 || width < 4) return absl::DataLossError("cnn: the input shape must be at least 4x4");
  h_ = height;
  w_ = width;
  mean_ = mean;
  inv_std_ = inv_std;
  MLIOT_RETURN_IF_ERROR(FoldConv(state, "conv1", "bn1", 1, w1_, b1_));
  c1_ = static_cast<int>(w1_.rows());
  MLIOT_RETURN_IF_ERROR(FoldConv(state, "conv2", "bn2", c1_, w2_, b2_));
  c2_ = static_cast<int>(w2_.rows());
  const int ph = h_ / 4, pw = w_ / 4;
  MLIOT_ASSIGN_OR_RETURN(const NamedTensor* fc, FindTensor(state, "fc.weight", {-1, -1}));
  const int64_t out = fc->shape[0], flat = fc->shape[1];
  if (flat != c2_ && flat != int64_t{c2_} * ph * pw) {
    return absl::DataLossError(absl::StrCat("cnn: fc takes ", flat, " inputs; the convolutions give ", c2_, " or ",
                                            int64_t{c2_} * ph * pw));
  }
  // One pooled position: flattening and averaging are the same.
  gap_ = flat == c2_;
  if (gap_) {
    fc_ = ToMatrix(*fc);
  } else {
    // torch flattens channels-first (c, y, x); this path holds (y, x, c).
    fc_.resize(out, flat);
    for (int64_t o = 0; o < out; ++o) {
      for (int c = 0; c < c2_; ++c) {
        for (int y = 0; y < ph; ++y) {
          for (int x = 0; x < pw; ++x) fc_(o, (y * pw + x) * c2_ + c) = fc->data[o * flat + (c * ph + y) * pw + x];
        }
      }
    }
  }
  MLIOT_ASSIGN_OR_RETURN(const NamedTensor* fc_b, FindTensor(state, "fc.bias", {out}));
  fc_b_ = ToVector(*fc_b);
  MLIOT_ASSIGN_OR_RETURN(const NamedTensor* head, FindTensor(state, "head.weight", {-1, out}));
  MLIOT_ASSIGN_OR_RETURN(const NamedTensor* head_b, FindTensor(state, "head.bias", {head->shape[0]}));
  head_ = ToMatrix(*head);
  head_b_ = ToVector(*head_b);
  return absl::OkStatus();
}

void EigenCnn::Forward(const float* row, float* logits) const {
  struct Scratch {
    RowMatrix patches, conv, pooled;
    Eigen::VectorXf hidden, mean;
  };
  thread_local Scratch s;
  // Block 1: 3x3 patches of the normalised image, one row per pixel.
  Im2Col(row, h_, w_, 1, /*normalise=*/true, s.patches);
  s.conv.noalias() = s.patches * w1_.transpose();
  s.conv.rowwise() += b1_.transpose();
  ReluPool(s.conv, h_, w_, c1_, s.pooled);
  // Block 2 on the pooled map.
  const int h2 = h_ / 2, w2 = w_ / 2;
  Im2Col(s.pooled.data(), h2, w2, c1_, false, s.patches);
  s.conv.noalias() = s.patches * w2_.transpose();
  s.conv.rowwise() += b2_.transpose();
  ReluPool(s.conv, h2, w2, c2_, s.pooled);
  if (gap_) {
    s.mean = s.pooled.colwise().mean().transpose();
    s.hidden.noalias() = fc_ * s.mean;
  } else {
    Eigen::Map<const Eigen::VectorXf> flat(s.pooled.data(), s.pooled.size());
    s.hidden.noalias() = fc_ * flat;
  }
  s.hidden = (s.hidden + fc_b_).cwiseMax(0.0f);
  Eigen::Map<Eigen::VectorXf> out(logits, head_.rows());
  out.noalias() = head_ * s.hidden;
  out += head_b_;
}

void EigenCnn::ForwardBatch(const float* rows, int64_t n, float* logits) const {
  const int64_t size = int64_t{h_} * w_;
  for (int64_t r = 0; r < n; ++r) Forward(rows + r * size, logits + r * head_.rows());
}

// One row per output pixel: the 3x3 neighbourhood (zero padded) of an
// h x w x c channels-last map, laid out (ky, kx, c).
void EigenCnn::Im2Col(const float* in, int h, int w, int c, bool normalise, RowMatrix& patches) const {
  patches.resize(h * w, 9 * c);
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      float* out = patches.data() + (y * w + x) * 9 * c;
      for (int ky = -1; ky <= 1; ++ky) {
        for (int kx = -1; kx <= 1; ++kx, out += c) {
          const int yy = y + ky, xx = x + kx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) {
            std::fill(out, out + c, 0.0f);
          } else if (normalise) {
            out[0] = (in[yy * w + xx] - mean_) * inv_std_;
          } else {
            std::copy_n(in + (yy * w + xx) * c, c, out);
          }
        }
      }
    }
  }
}

}  // namespace mliot::neural
