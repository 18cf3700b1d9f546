// Neural kinds on libtorch (the only translation unit that includes
// torch/torch.h, to keep build times down):
//   mlp  fully connected ReLU network on the (reduced) feature vector
//   cnn  two conv-ReLU-maxpool blocks and a dense head, on the raw image
// Both train with Adam and a cosine learning-rate schedule, checking the
// deadline after every mini-batch (cooperative: an interrupted fit keeps the
// weights it has). Probabilities are the softmax of the logits.
// Serving: the mlp runs through Eigen on weights copied out of the module
// (no allocation, no dispatcher overhead); the cnn runs through libtorch in
// inference mode.
#include <torch/torch.h>

#include <Eigen/Dense>
#include <cmath>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "ml/calibration.h"
#include "ml/model.h"
#include "ml/models/builtin.h"
#include "ml/tensor_file.h"

namespace mliot {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct MlpNetImpl : torch::nn::Module {
  MlpNetImpl(int in, int hidden, int layers, int out, double dropout) {
    int width = in;
    for (int i = 0; i < layers; ++i) {
      hidden_layers.push_back(register_module(absl::StrCat("fc", i), torch::nn::Linear(width, hidden)));
      width = hidden;
    }
    head = register_module("head", torch::nn::Linear(width, out));
    drop = register_module("drop", torch::nn::Dropout(dropout));
  }
  torch::Tensor forward(torch::Tensor x) {
    for (auto& layer : hidden_layers) x = drop(torch::relu(layer(x)));
    return head(x);
  }
  std::vector<torch::nn::Linear> hidden_layers;
  torch::nn::Linear head{nullptr};
  torch::nn::Dropout drop{nullptr};
};
TORCH_MODULE(MlpNet);

struct CnnNetImpl : torch::nn::Module {
  CnnNetImpl(int h, int w, int channels, int hidden, int out, double dropout, bool batch_norm, bool gap)
      : batch_norm(batch_norm), gap(gap) {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, channels, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 2 * channels, 3).padding(1)));
    if (batch_norm) {
      bn1 = register_module("bn1", torch::nn::BatchNorm2d(channels));
      bn2 = register_module("bn2", torch::nn::BatchNorm2d(2 * channels));
    }
    flat = gap ? 2 * channels : 2 * channels * (h / 4) * (w / 4);
    fc = register_module("fc", torch::nn::Linear(flat, hidden));
    head = register_module("head", torch::nn::Linear(hidden, out));
    drop = register_module("drop", torch::nn::Dropout(dropout));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = conv1(x);
    if (batch_norm) x = bn1(x);
    x = torch::max_pool2d(torch::relu(x), 2);
    x = conv2(x);
    if (batch_norm) x = bn2(x);
    x = torch::max_pool2d(torch::relu(x), 2);
    x = gap ? x.mean({2, 3}) : x.flatten(1);
    x = drop(torch::relu(fc(x)));
    return head(x);
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  bool batch_norm;
  bool gap;  // global average pooling before the dense layer (else flatten)
  torch::nn::Linear fc{nullptr}, head{nullptr};
  torch::nn::Dropout drop{nullptr};
  int64_t flat = 0;
};
TORCH_MODULE(CnnNet);

// Trains `net` on (x, y) with AdamW and a cosine learning-rate schedule.
// Time-aware: after the first epoch the schedule is shortened to the epochs
// that fit before the deadline, so a budget-limited fit still finishes its
// schedule (a cosine cut off half-way leaves the learning rate high). The
// deadline is also checked after every mini-batch as a hard stop.
template <typename Net>
void TrainLoop(Net& net, const torch::Tensor& x, const torch::Tensor& y, const Params& p,
               const FitControl& control, bool augment_shift) {
  torch::manual_seed(control.seed);
  const int64_t n = x.size(0);
  const int64_t batch = std::min<int64_t>(p.Int("batch_size"), n);
  int64_t epochs = p.Int("epochs");
  const double lr = p.Double("learning_rate");
  torch::optim::AdamW opt(net->parameters(),
                          torch::optim::AdamWOptions(lr).weight_decay(p.Double("weight_decay")));
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  int64_t total_steps = std::max<int64_t>(1, epochs * steps_per_epoch);
  int64_t step = 0;
  const Clock* clock = control.deadline.clock() != nullptr ? control.deadline.clock() : RealClock();
  const double start = clock->NowSeconds();
  net->train();
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const torch::Tensor perm = torch::randperm(n, torch::kLong);
    for (int64_t b = 0; b < n; b += batch) {
      const double progress = std::min(1.0, static_cast<double>(step) / total_steps);
      const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
      for (auto& group : opt.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr * (0.02 + 0.98 * cosine));
      }
      const torch::Tensor idx = perm.slice(0, b, std::min(n, b + batch));
      torch::Tensor xb = x.index_select(0, idx);
      if (augment_shift) {
        // Random translation by up to 2 pixels (same shift for the batch).
        const int64_t dy = torch::randint(-2, 3, {1}).item<int64_t>();
        const int64_t dx = torch::randint(-2, 3, {1}).item<int64_t>();
        xb = torch::roll(xb, {dy, dx}, {2, 3});
      }
      opt.zero_grad();
      torch::Tensor loss = torch::nn::functional::cross_entropy(net->forward(xb), y.index_select(0, idx));
      loss.backward();
      opt.step();
      ++step;
      if (control.ShouldStop()) {
        net->eval();
        return;
      }
    }
    if (epoch == 0 && control.deadline.clock() != nullptr) {
      const double epoch_s = std::max(1e-6, clock->NowSeconds() - start);
      const double left = control.deadline.RemainingSeconds();
      // Keep a tenth of the time in reserve for evaluation and jitter.
      const int64_t fit = 1 + static_cast<int64_t>(0.9 * left / epoch_s);
      if (fit < epochs) {
        epochs = std::max<int64_t>(1, fit);
        total_steps = std::max<int64_t>(1, epochs * steps_per_epoch);
      }
    }
  }
  net->eval();
}

// The float state of a module: parameters and float buffers (batch-norm
// running statistics); integer counters are training-only and skipped.
std::vector<std::pair<std::string, torch::Tensor>> FloatState(torch::nn::Module& net) {
  std::vector<std::pair<std::string, torch::Tensor>> state;
  for (const auto& item : net.named_parameters()) state.emplace_back(item.key(), item.value());
  for (const auto& item : net.named_buffers()) {
    if (item.value().scalar_type() == torch::kFloat) state.emplace_back(item.key(), item.value());
  }
  return state;
}

void SaveModule(TensorFile& f, torch::nn::Module& net) {
  for (const auto& [name, value] : FloatState(net)) {
    torch::Tensor t = value.detach().contiguous();
    f.Put(name, t.sizes().vec(), t.data_ptr<float>());
  }
}

absl::Status LoadModule(const TensorFile& f, torch::nn::Module& net) {
  torch::NoGradGuard no_grad;
  for (auto& [name, value] : FloatState(net)) {
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> data, f.Get(name, value.sizes().vec()));
    value.copy_(torch::from_blob(data.data(), value.sizes(), torch::kFloat));
  }
  return absl::OkStatus();
}

int ClampThreads(int threads) { return std::max(1, threads); }

// ---------------------------------------------------------------- mlp

class MlpModel final : public Model {
 public:
  absl::Status Fit(const FitInput& in, const Params& p, const FitControl& control) override {
    torch::set_num_threads(ClampThreads(control.threads));
    d_ = static_cast<int>(in.cols);
    k_ = in.num_classes;
    MlpNet net(d_, static_cast<int>(p.Int("hidden")), static_cast<int>(p.Int("layers")), k_,
               p.Double("dropout"));
    // The inputs outlive the tensors built on them (from_blob does not copy).
    const torch::Tensor x = torch::from_blob(const_cast<float*>(in.x), {in.rows, in.cols}, torch::kFloat);
    std::vector<int64_t> labels(in.y, in.y + in.rows);
    const torch::Tensor y = torch::from_blob(labels.data(), {in.rows}, torch::kLong);
    TrainLoop(net, x, y, p, control, /*augment_shift=*/false);
    CopyOut(*net);
    return absl::OkStatus();
  }

  int num_classes() const override { return k_; }
  int num_features() const override { return d_; }

  void PredictProba(const float* row, float* proba) const override {
    thread_local Eigen::VectorXf a, b;
    a = Eigen::Map<const Eigen::VectorXf>(row, d_);
    for (size_t i = 0; i < weights_.size(); ++i) {
      b.noalias() = weights_[i] * a;
      b += biases_[i];
      if (i + 1 < weights_.size()) {
        a = b.cwiseMax(0.0f);
      }
    }
    std::copy_n(b.data(), k_, proba);
    SoftmaxInPlace(proba, k_);
  }

  void PredictProbaBatch(const float* rows, int64_t n, float* proba) const override {
    RowMatrix a = Eigen::Map<const RowMatrix>(rows, n, d_);
    for (size_t i = 0; i < weights_.size(); ++i) {
      RowMatrix z = a * weights_[i].transpose();
      z.rowwise() += biases_[i].transpose();
      a = i + 1 < weights_.size() ? RowMatrix(z.cwiseMax(0.0f)) : z;
    }
    Eigen::Map<RowMatrix>(proba, n, k_) = a;
    for (int64_t r = 0; r < n; ++r) SoftmaxInPlace(proba + r * k_, k_);
  }

  absl::Status SaveWeights(const std::string& path) const override {
    TensorFile f("mliot.mlp.v1");
    for (size_t i = 0; i < weights_.size(); ++i) {
      f.Put(absl::StrCat("W", i), {weights_[i].rows(), weights_[i].cols()}, weights_[i].data());
      f.Put(absl::StrCat("b", i), {biases_[i].size()}, biases_[i].data());
    }
    return f.Write(path);
  }

  absl::Status LoadWeights(const std::string& path, const Params& p) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, "mliot.mlp.v1"));
    weights_.clear();
    biases_.clear();
    const int layers = static_cast<int>(p.Int("layers")) + 1;
    for (int i = 0; i < layers; ++i) {
      MLIOT_ASSIGN_OR_RETURN(std::vector<int64_t> shape, f.Shape(absl::StrCat("W", i)));
      if (shape.size() != 2 || (i > 0 && shape[1] != weights_.back().rows())) {
        return absl::DataLossError(absl::StrCat(path, ": layer ", i, " has the wrong shape"));
      }
      MLIOT_ASSIGN_OR_RETURN(std::vector<float> w, f.Get(absl::StrCat("W", i)));
      MLIOT_ASSIGN_OR_RETURN(std::vector<float> b, f.Get(absl::StrCat("b", i), {shape[0]}));
      weights_.push_back(Eigen::Map<RowMatrix>(w.data(), shape[0], shape[1]));
      biases_.push_back(Eigen::Map<Eigen::VectorXf>(b.data(), shape[0]));
    }
    d_ = static_cast<int>(weights_.front().cols());
    k_ = static_cast<int>(weights_.back().rows());
    return absl::OkStatus();
  }

 private:
  void CopyOut(MlpNetImpl& net) {
    weights_.clear();
    biases_.clear();
    auto take = [&](torch::nn::Linear& layer) {
      torch::Tensor w = layer->weight.detach().contiguous();
      torch::Tensor b = layer->bias.detach().contiguous();
      weights_.push_back(Eigen::Map<RowMatrix>(w.data_ptr<float>(), w.size(0), w.size(1)));
      biases_.push_back(Eigen::Map<Eigen::VectorXf>(b.data_ptr<float>(), b.size(0)));
    };
    for (auto& layer : net.hidden_layers) take(layer);
    take(net.head);
  }

  int d_ = 0;
  int k_ = 0;
  std::vector<RowMatrix> weights_;  // out x in, per layer
  std::vector<Eigen::VectorXf> biases_;
};

// ---------------------------------------------------------------- cnn

// The cnn's single-row serving path: the trained network's weights copied
// into Eigen matrices (batch norm folded into the convolutions), run as
// im2col + matrix products in channels-last layout. libtorch's per-operator
// dispatch costs more than the arithmetic for one 28x28 image; this path
// does no allocation once a thread has warmed up. Batches still go through
// libtorch; models_test checks both paths agree.
class EigenCnn {
 public:
  void Build(CnnNetImpl& net, ImageShape shape, float mean, float inv_std) {
    torch::NoGradGuard no_grad;
    h_ = shape.height;
    w_ = shape.width;
    mean_ = mean;
    inv_std_ = inv_std;
    FoldConv(*net.conv1, net.batch_norm ? net.bn1.get() : nullptr, w1_, b1_);
    FoldConv(*net.conv2, net.batch_norm ? net.bn2.get() : nullptr, w2_, b2_);
    c1_ = static_cast<int>(w1_.rows());
    c2_ = static_cast<int>(w2_.rows());
    // torch flattens channels-first (c, y, x); this path holds (y, x, c).
    const int ph = h_ / 4, pw = w_ / 4;
    torch::Tensor fc = net.fc->weight.detach().contiguous();
    const int out = static_cast<int>(fc.size(0));
    gap_ = net.gap;
    fc_ = RowMatrix(out, gap_ ? c2_ : ph * pw * c2_);
    const float* src = fc.data_ptr<float>();
    if (gap_) fc_ = Eigen::Map<RowMatrix>(fc.data_ptr<float>(), out, c2_);
    for (int o = 0; o < out && !gap_; ++o) {
      for (int c = 0; c < c2_; ++c) {
        for (int y = 0; y < ph; ++y) {
          for (int x = 0; x < pw; ++x) {
            fc_(o, (y * pw + x) * c2_ + c) = src[o * fc.size(1) + (c * ph + y) * pw + x];
          }
        }
      }
    }
    fc_b_ = ToVector(net.fc->bias);
    torch::Tensor head = net.head->weight.detach().contiguous();
    head_ = Eigen::Map<RowMatrix>(head.data_ptr<float>(), head.size(0), head.size(1));
    head_b_ = ToVector(net.head->bias);
  }

  void Forward(const float* row, float* proba) const {
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
    Eigen::Map<Eigen::VectorXf> logits(proba, head_.rows());
    logits.noalias() = head_ * s.hidden;
    logits += head_b_;
    SoftmaxInPlace(proba, static_cast<int>(head_.rows()));
  }

 private:
  static Eigen::VectorXf ToVector(const torch::Tensor& t) {
    torch::Tensor c = t.detach().contiguous();
    return Eigen::Map<Eigen::VectorXf>(c.data_ptr<float>(), c.numel());
  }

  // Conv weights as (out, ky, kx, in) rows to match Im2Col's patch layout,
  // with an inference-mode batch norm folded in.
  static void FoldConv(torch::nn::Conv2dImpl& conv, torch::nn::BatchNorm2dImpl* bn, RowMatrix& w,
                       Eigen::VectorXf& b) {
    torch::Tensor weight = conv.weight.detach().permute({0, 2, 3, 1}).contiguous();
    torch::Tensor bias = conv.bias.detach().clone();
    if (bn != nullptr) {
      torch::Tensor scale = bn->weight.detach() / torch::sqrt(bn->running_var + bn->options.eps());
      weight = weight * scale.view({-1, 1, 1, 1});
      bias = (bias - bn->running_mean) * scale + bn->bias.detach();
      weight = weight.contiguous();
    }
    w = Eigen::Map<RowMatrix>(weight.data_ptr<float>(), weight.size(0), weight.numel() / weight.size(0));
    b = ToVector(bias);
  }

  // One row per output pixel: the 3x3 neighbourhood (zero padded) of an
  // h x w x c channels-last map, laid out (ky, kx, c).
  void Im2Col(const float* in, int h, int w, int c, bool normalise, RowMatrix& patches) const {
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

  // ReLU then 2x2 max pooling (floor), (h*w) x c -> (h/2*w/2) x c.
  static void ReluPool(const RowMatrix& conv, int h, int w, int c, RowMatrix& pooled) {
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

  int h_ = 0, w_ = 0, c1_ = 0, c2_ = 0;
  bool gap_ = false;
  float mean_ = 0, inv_std_ = 1;
  RowMatrix w1_, w2_, fc_, head_;
  Eigen::VectorXf b1_, b2_, fc_b_, head_b_;
};

constexpr int kDenseHeadMaxPositions = 64;

class CnnModel final : public Model {
 public:
  absl::Status Fit(const FitInput& in, const Params& p, const FitControl& control) override {
    if (!in.shape || in.shape->height < 4 || in.shape->width < 4) {
      return absl::InvalidArgumentError("cnn needs rows with a 2-D shape of at least 4x4");
    }
    torch::set_num_threads(ClampThreads(control.threads));
    shape_ = *in.shape;
    k_ = in.num_classes;
    Build(p);
    const torch::Tensor raw = torch::from_blob(const_cast<float*>(in.x), {in.rows, in.cols}, torch::kFloat);
    mean_ = raw.mean().item<float>();
    inv_std_ = 1.0f / std::max(1e-6f, raw.std().item<float>());
    const torch::Tensor x = ((raw - mean_) * inv_std_).view({in.rows, 1, shape_.height, shape_.width});
    std::vector<int64_t> labels(in.y, in.y + in.rows);
    const torch::Tensor y = torch::from_blob(labels.data(), {in.rows}, torch::kLong);
    TrainLoop(net_, x, y, p, control, p.Choice("augment") == "shift");
    fast_.Build(*net_, shape_, mean_, inv_std_);
    return absl::OkStatus();
  }

  int num_classes() const override { return k_; }
  int num_features() const override { return shape_.height * shape_.width; }

  void PredictProba(const float* row, float* proba) const override { fast_.Forward(row, proba); }

  void PredictProbaBatch(const float* rows, int64_t n, float* proba) const override {
    c10::InferenceMode guard;
    const torch::Tensor x = torch::from_blob(const_cast<float*>(rows), {n, 1, shape_.height, shape_.width}, torch::kFloat);
    const torch::Tensor probs = torch::softmax(net_->forward((x - mean_) * inv_std_), 1).contiguous();
    std::copy_n(probs.data_ptr<float>(), n * k_, proba);
  }

  absl::Status SaveWeights(const std::string& path) const override {
    TensorFile f("mliot.cnn.v1");
    SaveModule(f, *net_);
    const float meta[5] = {static_cast<float>(shape_.height), static_cast<float>(shape_.width),
                           static_cast<float>(k_), mean_, inv_std_};
    f.Put("meta", {5}, meta);
    return f.Write(path);
  }

  absl::Status LoadWeights(const std::string& path, const Params& p) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, "mliot.cnn.v1"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> meta, f.Get("meta", {5}));
    shape_ = ImageShape{static_cast<int>(meta[0]), static_cast<int>(meta[1])};
    k_ = static_cast<int>(meta[2]);
    mean_ = meta[3];
    inv_std_ = meta[4];
    if (shape_.height < 4 || shape_.width < 4 || k_ < 2) {
      return absl::DataLossError(absl::StrCat(path, ": bad cnn shape"));
    }
    Build(p);
    MLIOT_RETURN_IF_ERROR(Annotate(LoadModule(f, *net_), path));
    net_->eval();
    fast_.Build(*net_, shape_, mean_, inv_std_);
    return absl::OkStatus();
  }

 private:
  void Build(const Params& p) {
    // auto: a dense layer over every pooled position while there are few
    // (28x28 images: 7x7); global average pooling when there are many
    // (96x64 log-mel patches: 24x16), where a dense layer would have more
    // weights than the data has rows to fit them.
    const std::string& head = p.Choice("head");
    const bool gap = head == "gap" || (head == "auto" && (shape_.height / 4) * (shape_.width / 4) > kDenseHeadMaxPositions);
    net_ = CnnNet(shape_.height, shape_.width, static_cast<int>(p.Int("channels")),
                  static_cast<int>(p.Int("hidden")), k_, p.Double("dropout"),
                  p.Choice("norm") == "batch", gap);
  }

  ImageShape shape_;
  int k_ = 0;
  float mean_ = 0;
  float inv_std_ = 1;
  mutable CnnNet net_{nullptr};  // forward() is not const in libtorch
  EigenCnn fast_;
};

std::vector<ParamSpec> TrainingParams(int64_t epochs, int64_t batch, double lr) {
  return {
      {.name = "epochs", .type = ParamType::kInt, .default_value = epochs, .min = 2, .max = 100,
       .log_scale = true, .help = "passes over the training rows"},
      {.name = "batch_size", .type = ParamType::kInt, .default_value = batch, .min = 16, .max = 512,
       .log_scale = true, .help = "rows per mini-batch"},
      {.name = "learning_rate", .type = ParamType::kDouble, .default_value = lr, .min = 1e-4,
       .max = 1e-2, .log_scale = true, .help = "peak Adam learning rate (cosine decay)"},
      {.name = "weight_decay", .type = ParamType::kDouble, .default_value = 1e-4, .min = 1e-6,
       .max = 1e-1, .log_scale = true, .help = "AdamW weight decay"},
  };
}

}  // namespace

void RegisterTorchModels(ModelRegistry& registry) {
  std::vector<ParamSpec> mlp = TrainingParams(40, 64, 2e-3);
  mlp.push_back({.name = "hidden", .type = ParamType::kInt, .default_value = int64_t{256}, .min = 32,
                 .max = 512, .log_scale = true, .help = "units per hidden layer"});
  mlp.push_back({.name = "layers", .type = ParamType::kInt, .default_value = int64_t{2}, .min = 1,
                 .max = 3, .help = "hidden layers"});
  mlp.push_back({.name = "dropout", .type = ParamType::kDouble, .default_value = 0.2, .min = 0.0,
                 .max = 0.6, .help = "dropout after each hidden layer"});
  (void)registry.Register(ModelKind{
      .name = "mlp",
      .description = "multi-layer perceptron, ReLU, dropout, AdamW (libtorch)",
      .probabilities = "softmax of the logits",
      .params = std::move(mlp),
      .cost_rank = 2.0,
      .create = [] { return std::make_unique<MlpModel>(); }});

  std::vector<ParamSpec> cnn = TrainingParams(20, 64, 2e-3);
  cnn.push_back({.name = "channels", .type = ParamType::kInt, .default_value = int64_t{16}, .min = 8,
                 .max = 64, .log_scale = true, .help = "filters in the first conv layer (x2 in the second)"});
  cnn.push_back({.name = "hidden", .type = ParamType::kInt, .default_value = int64_t{256}, .min = 32,
                 .max = 512, .log_scale = true, .help = "units in the dense layer"});
  cnn.push_back({.name = "dropout", .type = ParamType::kDouble, .default_value = 0.5, .min = 0.0,
                 .max = 0.6, .help = "dropout before the output layer"});
  cnn.push_back({.name = "norm", .type = ParamType::kChoice, .default_value = std::string("none"),
                 .choices = {"none", "batch"}, .help = "batch normalisation after each convolution"});
  cnn.push_back({.name = "head", .type = ParamType::kChoice, .default_value = std::string("auto"),
                 .choices = {"auto", "dense", "gap"},
                 .help = "after the convolutions: dense over every position, or global average pooling; auto: "
                         "gap when the pooled map has more than 64 positions"});
  cnn.push_back({.name = "augment", .type = ParamType::kChoice, .default_value = std::string("none"),
                 .choices = {"none", "shift"}, .help = "random 2-pixel translations while training"});
  (void)registry.Register(ModelKind{
      .name = "cnn",
      .description = "convolutional network: 2 x (conv3x3-ReLU-maxpool), [global average pool], dense, dropout (libtorch)",
      .probabilities = "softmax of the logits",
      .params = std::move(cnn),
      .needs_image = true,
      .cost_rank = 5.0,
      .create = [] { return std::make_unique<CnnModel>(); }});
}

}  // namespace mliot
