// SgdModel on libtorch. Parameters and gradients live in two flat buffers
// (each parameter's data and .grad are views into them), so data-parallel
// training all-reduces one contiguous array per step and gradients are
// zeroed in one pass. Inputs in [0, 1] are mapped to [-1, 1].
#include "stream/sgd_model.h"

#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "ml/tensor_file.h"

namespace mliot::stream {
namespace {

constexpr char kFormat[] = "mliot.sgd.v1";

struct MlpImpl : torch::nn::Module {
  MlpImpl(int64_t in, int hidden, int out) {
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
TORCH_MODULE(Mlp);

// The engine's cnn block structure: two conv-ReLU-maxpool blocks, a dense
// hidden layer and a linear head.
struct CnnImpl : torch::nn::Module {
  CnnImpl(int h, int w, int hidden, int out) : h(h), w(w) {
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
TORCH_MODULE(Cnn);

template <typename Net>
class TorchSgdModel final : public SgdModel {
 public:
  TorchSgdModel(Net net, const SgdOptions& o) : net_(std::move(net)), options_(o) {
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
    optimizer_ = std::make_unique<torch::optim::Adam>(params, torch::optim::AdamOptions(o.learning_rate));
  }

  float Backward(const float* x, const int32_t* y, int64_t n, float* losses) override {
    torch::set_num_threads(options_.threads);
    net_->train();
    flat_grads_.zero_();
    const torch::Tensor xb = Input(x, n);
    const torch::Tensor yb = torch::from_blob(const_cast<int32_t*>(y), {n}, torch::kInt).to(torch::kLong);
    torch::Tensor per_sample = torch::nn::functional::cross_entropy(
        net_->forward(xb), yb, torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone));
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
      static_cast<torch::optim::AdamOptions&>(group.options()).lr(options_.learning_rate * scale);
    }
  }

  std::span<float> GradientBuffer() override {
    return {flat_grads_.data_ptr<float>(), static_cast<size_t>(flat_grads_.numel())};
  }
  std::span<float> ParameterBuffer() override {
    return {flat_params_.data_ptr<float>(), static_cast<size_t>(flat_params_.numel())};
  }

  double Accuracy(const Dataset& data) override {
    torch::set_num_threads(options_.threads);
    torch::InferenceMode guard;
    net_->eval();
    int64_t correct = 0, labelled = 0;
    for (int64_t b = 0; b < data.rows; b += 1000) {
      const int64_t n = std::min<int64_t>(1000, data.rows - b);
      torch::Tensor pred = net_->forward(Input(data.row(b), n)).argmax(1).contiguous();
      const int64_t* p = pred.data_ptr<int64_t>();
      for (int64_t i = 0; i < n; ++i) {
        const int32_t label = data.labels[static_cast<size_t>(b + i)];
        if (label < 0) continue;
        ++labelled;
        correct += p[i] == label ? 1 : 0;
      }
    }
    return labelled == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(labelled);
  }

  absl::Status SaveCheckpoint(const std::string& path) const override {
    TensorFile f(kFormat);
    f.PutText("kind", options_.kind);
    f.Put("parameters", {flat_params_.numel()}, flat_params_.data_ptr<float>());
    const std::string tmp = absl::StrCat(path, ".tmp");
    MLIOT_RETURN_IF_ERROR(f.Write(tmp));
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) return absl::InternalError(absl::StrCat("rename ", tmp, " -> ", path, ": ", ec.message()));
    return absl::OkStatus();
  }

  absl::Status SaveEngineWeights(const std::string& path) const override {
    torch::NoGradGuard no_grad;
    auto put = [](TensorFile& f, const std::string& name, const torch::Tensor& t) {
      const torch::Tensor c = t.detach().contiguous();
      f.Put(name, c.sizes().vec(), c.data_ptr<float>());
    };
    if constexpr (std::is_same_v<Net, Mlp>) {
      // models/torch_models.cc MlpModel: W<i>, b<i> per layer, ReLU between.
      TensorFile f("mliot.mlp.v1");
      const torch::nn::Linear layers[] = {net_->fc1, net_->fc2, net_->head};
      for (int i = 0; i < 3; ++i) {
        put(f, absl::StrCat("W", i), layers[i]->weight);
        put(f, absl::StrCat("b", i), layers[i]->bias);
      }
      return f.Write(path);
    } else {
      // CnnModel: the module's parameters by name, and meta = {h, w, k,
      // mean, inv_std}; (x - 0.5) * 2 is this model's input mapping.
      TensorFile f("mliot.cnn.v1");
      for (const auto& item : net_->named_parameters()) put(f, item.key(), item.value());
      const float meta[5] = {static_cast<float>(options_.height), static_cast<float>(options_.width),
                             static_cast<float>(options_.classes), 0.5f, 2.0f};
      f.Put("meta", {5}, meta);
      return f.Write(path);
    }
  }

  const SgdOptions& options() const override { return options_; }

  absl::Status LoadCheckpoint(const std::string& path) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, kFormat));
    MLIOT_ASSIGN_OR_RETURN(std::string kind, f.Text("kind"));
    if (kind != options_.kind) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": a ", kind, " checkpoint, not ", options_.kind));
    }
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> p, f.Get("parameters", {flat_params_.numel()}));
    std::copy(p.begin(), p.end(), flat_params_.data_ptr<float>());
    return absl::OkStatus();
  }

 private:
  torch::Tensor Input(const float* x, int64_t n) const {
    return torch::from_blob(const_cast<float*>(x), {n, options_.features}, torch::kFloat) * 2.0f - 1.0f;
  }

  Net net_;
  SgdOptions options_;
  torch::Tensor flat_params_, flat_grads_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
};

}  // namespace

double CosineScale(int64_t step, int64_t total) {
  const double progress = total <= 0 ? 1.0 : std::min(1.0, static_cast<double>(step) / static_cast<double>(total));
  return 0.02 + 0.98 * 0.5 * (1.0 + std::cos(M_PI * progress));
}

absl::StatusOr<std::unique_ptr<SgdModel>> SgdModel::Create(const SgdOptions& o) {
  if (o.features <= 0) return absl::InvalidArgumentError("sgd model: features must be positive");
  if (o.classes < 2) return absl::InvalidArgumentError("sgd model: at least two classes");
  if (o.hidden < 2) return absl::InvalidArgumentError("sgd model: hidden must be at least 2");
  torch::manual_seed(o.seed);
  // Denormal floats make CPU kernels many times slower; long single-class
  // runs in a stream can push activations and gradients there.
  at::globalContext().setFlushDenormal(true);
  if (o.kind == "mlp") return std::make_unique<TorchSgdModel<Mlp>>(Mlp(o.features, o.hidden, o.classes), o);
  if (o.kind == "cnn") {
    if (o.height < 4 || o.width < 4 || static_cast<int64_t>(o.height) * o.width != o.features) {
      return absl::InvalidArgumentError("sgd model: cnn needs an image shape (height x width == features)");
    }
    return std::make_unique<TorchSgdModel<Cnn>>(Cnn(o.height, o.width, o.hidden, o.classes), o);
  }
  return absl::InvalidArgumentError(absl::StrCat("sgd model: unknown kind '", o.kind, "' (mlp or cnn)"));
}

}  // namespace mliot::stream
