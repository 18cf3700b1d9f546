// libmliot_torch.so: the neural kinds' training on libtorch, loaded on
// demand (ml/neural/torch_api.h is its whole interface). This is the only
// translation unit that includes torch/torch.h; it links libtorch and no
// mliot library.
//   mlp  fully connected ReLU network on the (reduced) feature vector
//   cnn  two conv-ReLU-maxpool blocks and a dense head, on the raw image
// Both train with AdamW and a cosine learning-rate schedule, checking the
// stop condition after every mini-batch (cooperative: an interrupted fit
// keeps the weights it has). The streaming trainer's networks (SgdCore) keep
// parameters and gradients in two flat buffers so data-parallel training
// all-reduces one contiguous array per step.
#include <torch/torch.h>

#include <cmath>
#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "ml/neural/torch_api.h"

namespace mliot::neural {
namespace {

struct MlpNetImpl : torch::nn::Module {
  MlpNetImpl(int64_t in, int hidden, int layers, int out, double dropout) {
    int64_t width = in;
    for (int i = 0; i < layers; ++i) {
      hidden_layers.push_back(register_module("fc" + std::to_string(i), torch::nn::Linear(width, hidden)));
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
    const int64_t flat = gap ? 2 * channels : int64_t{2} * channels * (h / 4) * (w / 4);
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
};
TORCH_MODULE(CnnNet);

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

StateDict Export(torch::nn::Module& net) {
  StateDict out;
  for (const auto& [name, value] : FloatState(net)) {
    const torch::Tensor t = value.detach().contiguous();
    const float* p = t.data_ptr<float>();
    out.push_back({name, t.sizes().vec(), std::vector<float>(p, p + t.numel())});
  }
  return out;
}

std::string Import(const StateDict& state, torch::nn::Module& net) {
  torch::NoGradGuard no_grad;
  for (auto& [name, value] : FloatState(net)) {
    const NamedTensor* found = nullptr;
    for (const auto& t : state) {
      if (t.name == name) found = &t;
    }
    if (found == nullptr) return "state has no tensor '" + name + "'";
    if (static_cast<int64_t>(found->data.size()) != value.numel() || found->shape != value.sizes().vec()) {
      return "tensor '" + name + "' has the wrong shape";
    }
    value.copy_(torch::from_blob(const_cast<float*>(found->data.data()), value.sizes(), torch::kFloat));
  }
  return "";
}

// Trains `net` with AdamW and a cosine schedule. Time-aware: after the first
// epoch the schedule is shortened to the epochs that fit before the
// deadline, so a budget-limited fit still finishes its schedule (a cosine
// cut off half-way leaves the learning rate high); should_stop is checked
// after every mini-batch as a hard stop.
template <typename Net>
void TrainLoop(Net& net, const torch::Tensor& x, const torch::Tensor& y, const TrainSpec& t) {
  const int64_t n = x.size(0);
  const int64_t batch = std::min<int64_t>(t.batch_size, n);
  int64_t epochs = t.epochs;
  torch::optim::AdamW opt(net->parameters(), torch::optim::AdamWOptions(t.learning_rate).weight_decay(t.weight_decay));
  const int64_t steps_per_epoch = (n + batch - 1) / batch;
  int64_t total_steps = std::max<int64_t>(1, epochs * steps_per_epoch);
  int64_t step = 0;
  const double start_left = t.remaining_seconds ? t.remaining_seconds() : -1.0;
  net->train();
  for (int64_t epoch = 0; epoch < epochs; ++epoch) {
    const torch::Tensor perm = torch::randperm(n, torch::kLong);
    for (int64_t b = 0; b < n; b += batch) {
      const double progress = std::min(1.0, static_cast<double>(step) / static_cast<double>(total_steps));
      const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
      for (auto& group : opt.param_groups()) {
        static_cast<torch::optim::AdamWOptions&>(group.options()).lr(t.learning_rate * (0.02 + 0.98 * cosine));
      }
      const torch::Tensor idx = perm.slice(0, b, std::min(n, b + batch));
      torch::Tensor xb = x.index_select(0, idx);
      if (t.augment_shift) {
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
      if (t.should_stop && t.should_stop()) {
        net->eval();
        return;
      }
    }
    if (epoch == 0 && start_left >= 0) {
      const double left = t.remaining_seconds();
      const double epoch_s = std::max(1e-6, start_left - left);
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

MlpNet MakeMlp(const NetSpec& s) { return MlpNet(s.inputs, s.hidden, s.layers, s.classes, s.dropout); }
CnnNet MakeCnn(const NetSpec& s) {
  return CnnNet(s.height, s.width, s.channels, s.hidden, s.classes, s.dropout, s.batch_norm, s.gap);
}

std::string CheckSpec(const NetSpec& s) {
  if (s.classes < 2) return "a network needs at least two classes";
  if (s.kind == "mlp") return s.inputs > 0 ? "" : "mlp: no input features";
  if (s.kind == "cnn") {
    if (s.height < 4 || s.width < 4 || int64_t{s.height} * s.width != s.inputs) {
      return "cnn needs rows with a 2-D shape of at least 4x4";
    }
    return "";
  }
  return "unknown network kind '" + s.kind + "' (mlp or cnn)";
}

std::string Train(const NetSpec& s, const TrainSpec& t, const TrainData& d, StateDict* state) try {
  if (std::string e = CheckSpec(s); !e.empty()) return e;
  torch::set_num_threads(std::max(1, t.threads));
  torch::manual_seed(t.seed);
  // The inputs outlive the tensors built on them (from_blob does not copy).
  const torch::Tensor raw = torch::from_blob(const_cast<float*>(d.x), {d.rows, s.inputs}, torch::kFloat);
  std::vector<int64_t> labels(d.y, d.y + d.rows);
  const torch::Tensor y = torch::from_blob(labels.data(), {d.rows}, torch::kLong);
  if (s.kind == "mlp") {
    MlpNet net = MakeMlp(s);
    TrainLoop(net, raw, y, t);
    *state = Export(*net);
  } else {
    CnnNet net = MakeCnn(s);
    const torch::Tensor x = ((raw - s.mean) * s.inv_std).view({d.rows, 1, s.height, s.width});
    TrainLoop(net, x, y, t);
    *state = Export(*net);
  }
  return "";
} catch (const std::exception& e) {
  return std::string("libtorch: ") + e.what();
}

std::string Forward(const NetSpec& s, const StateDict& state, const float* x, int64_t n, float* logits) try {
  if (std::string e = CheckSpec(s); !e.empty()) return e;
  torch::InferenceMode guard;
  const torch::Tensor in = torch::from_blob(const_cast<float*>(x), {n, s.inputs}, torch::kFloat);
  torch::Tensor out;
  if (s.kind == "mlp") {
    MlpNet net = MakeMlp(s);
    if (std::string e = Import(state, *net); !e.empty()) return e;
    net->eval();
    out = net->forward(in);
  } else {
    CnnNet net = MakeCnn(s);
    if (std::string e = Import(state, *net); !e.empty()) return e;
    net->eval();
    out = net->forward(((in - s.mean) * s.inv_std).view({n, 1, s.height, s.width}));
  }
  out = out.contiguous();
  std::copy_n(out.data_ptr<float>(), n * s.classes, logits);
  return "";
} catch (const std::exception& e) {
  return std::string("libtorch: ") + e.what();
}

// ---------------------------------------------------------------- streaming

struct SgdMlpImpl : torch::nn::Module {
  SgdMlpImpl(int64_t in, int hidden, int out) {
    fc1 = register_module("fc1", torch::nn::Linear(in, hidden));
    fc2 = register_module("fc2", torch::nn::Linear(hidden, hidden / 2));
    head = register_module("head", torch::nn::Linear(hidden / 2, out));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = torch::relu(fc1(x));
    x = torch::relu(fc2(x));
    return head(x);
  }
  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, head{nullptr};
};
TORCH_MODULE(SgdMlp);

// The engine's cnn block structure with 16 channels and no batch norm.
struct SgdCnnImpl : torch::nn::Module {
  SgdCnnImpl(int h, int w, int hidden, int out) : h(h), w(w) {
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(1, 16, 3).padding(1)));
    conv2 = register_module("conv2", torch::nn::Conv2d(torch::nn::Conv2dOptions(16, 32, 3).padding(1)));
    fc = register_module("fc", torch::nn::Linear(32 * (h / 4) * (w / 4), hidden));
    head = register_module("head", torch::nn::Linear(hidden, out));
  }
  torch::Tensor forward(torch::Tensor x) {
    x = x.view({-1, 1, h, w});
    x = torch::max_pool2d(torch::relu(conv1(x)), 2);
    x = torch::max_pool2d(torch::relu(conv2(x)), 2);
    x = torch::relu(fc(x.flatten(1)));
    return head(x);
  }
  int h, w;
  torch::nn::Conv2d conv1{nullptr}, conv2{nullptr};
  torch::nn::Linear fc{nullptr}, head{nullptr};
};
TORCH_MODULE(SgdCnn);

template <typename Net>
class TorchSgdCore final : public SgdCore {
 public:
  TorchSgdCore(Net net, const SgdSpec& s) : net_(std::move(net)), spec_(s) {
    std::vector<torch::Tensor> params = net_->parameters();
    int64_t total = 0;
    for (const auto& p : params) total += p.numel();
    flat_params_ = torch::empty({total}, torch::kFloat);
    flat_grads_ = torch::zeros({total}, torch::kFloat);
    int64_t offset = 0;
    torch::NoGradGuard no_grad;
    for (auto& p : params) {
      const int64_t n = p.numel();
      torch::Tensor data = flat_params_.narrow(0, offset, n).view(p.sizes());
      data.copy_(p.detach());
      p.set_data(data);
      p.mutable_grad() = flat_grads_.narrow(0, offset, n).view(p.sizes());
      offset += n;
    }
    optimizer_ = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(s.learning_rate));
  }

  float Backward(const float* x, const int32_t* y, int64_t n, float* losses) override {
    torch::set_num_threads(spec_.threads);
    net_->train();
    flat_grads_.zero_();
    const torch::Tensor yb = torch::from_blob(const_cast<int32_t*>(y), {n}, torch::kInt).to(torch::kLong);
    torch::Tensor per_sample = torch::nn::functional::cross_entropy(
        net_->forward(Input(x, n)), yb, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
    torch::Tensor loss = per_sample.mean();
    loss.backward();
    if (losses != nullptr) {
      torch::Tensor l = per_sample.detach().contiguous();
      std::copy_n(l.data_ptr<float>(), n, losses);
    }
    return loss.item<float>();
  }

  void Apply() override { optimizer_->step(); }

  void SetLearningRateScale(double scale) override {
    for (auto& group : optimizer_->param_groups()) {
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(spec_.learning_rate * scale);
    }
  }

  std::span<float> GradientBuffer() override {
    return {flat_grads_.data_ptr<float>(), static_cast<size_t>(flat_grads_.numel())};
  }
  std::span<float> ParameterBuffer() override {
    return {flat_params_.data_ptr<float>(), static_cast<size_t>(flat_params_.numel())};
  }

  void Logits(const float* x, int64_t n, float* out) override {
    torch::set_num_threads(spec_.threads);
    torch::InferenceMode guard;
    net_->eval();
    const torch::Tensor logits = net_->forward(Input(x, n)).contiguous();
    std::copy_n(logits.data_ptr<float>(), n * spec_.classes, out);
  }

  StateDict State() const override { return Export(*const_cast<Net&>(net_)); }

 private:
  torch::Tensor Input(const float* x, int64_t n) const {
    return torch::from_blob(const_cast<float*>(x), {n, spec_.features}, torch::kFloat) * 2.0f - 1.0f;
  }

  Net net_;
  SgdSpec spec_;
  torch::Tensor flat_params_, flat_grads_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
};

std::string CreateSgd(const SgdSpec& s, std::unique_ptr<SgdCore>* out) try {
  torch::manual_seed(s.seed);
  // Denormal floats make CPU kernels many times slower; long single-class
  // runs in a stream can push activations and gradients there.
  at::globalContext().setFlushDenormal(true);
  if (s.kind == "mlp") {
    *out = std::make_unique<TorchSgdCore<SgdMlp>>(SgdMlp(s.features, s.hidden, s.classes), s);
  } else {
    *out = std::make_unique<TorchSgdCore<SgdCnn>>(SgdCnn(s.height, s.width, s.hidden, s.classes), s);
  }
  return "";
} catch (const std::exception& e) {
  return std::string("libtorch: ") + e.what();
}

}  // namespace
}  // namespace mliot::neural

extern "C" __attribute__((visibility("default"))) const mliot::neural::TorchModuleApi* mliot_torch_module() {
  static const mliot::neural::TorchModuleApi api{
      .abi = mliot::neural::kTorchModuleAbi,
      .train = &mliot::neural::Train,
      .forward = &mliot::neural::Forward,
      .create_sgd = &mliot::neural::CreateSgd,
  };
  return &api;
}
