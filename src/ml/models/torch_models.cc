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
  CnnNetImpl(int h, int w, int channels, int hidden, int out, double dropout, bool batch_norm)
      : batch_norm(batch_norm) {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, channels, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, 2 * channels, 3).padding(1)));
    if (batch_norm) {
      bn1 = register_module("bn1", torch::nn::BatchNorm2d(channels));
      bn2 = register_module("bn2", torch::nn::BatchNorm2d(2 * channels));
    }
    flat = 2 * channels * (h / 4) * (w / 4);
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
    x = x.flatten(1);
    x = drop(torch::relu(fc(x)));
    return head(x);
  }
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::BatchNorm2d bn1{nullptr}, bn2{nullptr};
  bool batch_norm;
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
    return absl::OkStatus();
  }

  int num_classes() const override { return k_; }
  int num_features() const override { return shape_.height * shape_.width; }

  void PredictProba(const float* row, float* proba) const override { PredictProbaBatch(row, 1, proba); }

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
    return absl::OkStatus();
  }

 private:
  void Build(const Params& p) {
    net_ = CnnNet(shape_.height, shape_.width, static_cast<int>(p.Int("channels")),
                  static_cast<int>(p.Int("hidden")), k_, p.Double("dropout"),
                  p.Choice("norm") == "batch");
  }

  ImageShape shape_;
  int k_ = 0;
  float mean_ = 0;
  float inv_std_ = 1;
  mutable CnnNet net_{nullptr};  // forward() is not const in libtorch
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
  cnn.push_back({.name = "augment", .type = ParamType::kChoice, .default_value = std::string("none"),
                 .choices = {"none", "shift"}, .help = "random 2-pixel translations while training"});
  (void)registry.Register(ModelKind{
      .name = "cnn",
      .description = "convolutional network: 2 x (conv3x3-ReLU-maxpool), dense, dropout (libtorch)",
      .probabilities = "softmax of the logits",
      .params = std::move(cnn),
      .needs_image = true,
      .cost_rank = 5.0,
      .create = [] { return std::make_unique<CnnModel>(); }});
}

}  // namespace mliot
