// The neural kinds, mlp and cnn. Training runs in libmliot_torch.so (loaded
// on demand, ml/neural/torch_loader.h); inference runs on Eigen
// (ml/neural/eigen_nets.h), so a process that only serves never maps
// libtorch. Weights files are unchanged from when libtorch did both:
//   mliot.mlp.v1  W<i>, b<i> per layer (out x in)
//   mliot.cnn.v1  the network's state under libtorch's names, and
//                 meta = {height, width, classes, mean, inv_std}
// Probabilities are the softmax of the logits.
#include <Eigen/Dense>
#include <cmath>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "ml/calibration.h"
#include "ml/model.h"
#include "ml/models/builtin.h"
#include "ml/neural/eigen_nets.h"
#include "ml/neural/torch_loader.h"
#include "ml/tensor_file.h"

namespace mliot {
namespace {

using neural::RowMatrix;

neural::TrainSpec ToTrainSpec(const Params& p, const FitControl& control, bool augment_shift) {
  neural::TrainSpec t;
  t.epochs = p.Int("epochs");
  t.batch_size = p.Int("batch_size");
  t.learning_rate = p.Double("learning_rate");
  t.weight_decay = p.Double("weight_decay");
  t.augment_shift = augment_shift;
  t.threads = std::max(1, control.threads);
  t.seed = control.seed;
  t.should_stop = [&control] { return control.ShouldStop(); };
  if (control.deadline.clock() != nullptr) {
    t.remaining_seconds = [&control] { return std::max(0.0, control.deadline.RemainingSeconds()); };
  }
  return t;
}

absl::StatusOr<neural::StateDict> TrainNet(const neural::NetSpec& net, const neural::TrainSpec& train,
                                           const FitInput& in) {
  MLIOT_ASSIGN_OR_RETURN(const neural::TorchModuleApi* module, neural::TorchModule());
  neural::StateDict state;
  const std::string error = module->train(net, train, {.x = in.x, .y = in.y, .rows = in.rows}, &state);
  if (!error.empty()) return absl::InternalError(absl::StrCat(net.kind, ": ", error));
  return state;
}

// The softmax of a network's logits: the neural kinds' probabilities.
template <typename Net>
class NeuralModel : public Model {
 public:
  int num_classes() const override { return net_.classes(); }

  void PredictProba(const float* row, float* proba) const override {
    net_.Forward(row, proba);
    SoftmaxInPlace(proba, net_.classes());
  }

  void PredictProbaBatch(const float* rows, int64_t n, float* proba) const override {
    net_.ForwardBatch(rows, n, proba);
    for (int64_t r = 0; r < n; ++r) SoftmaxInPlace(proba + r * net_.classes(), net_.classes());
  }

 protected:
  Net net_;
};

// ---------------------------------------------------------------- mlp

class MlpModel final : public NeuralModel<neural::EigenMlp> {
 public:
  absl::Status Fit(const FitInput& in, const Params& p, const FitControl& control) override {
    neural::NetSpec net{.kind = "mlp", .inputs = in.cols, .classes = in.num_classes,
                        .hidden = static_cast<int>(p.Int("hidden")), .layers = static_cast<int>(p.Int("layers")),
                        .dropout = p.Double("dropout")};
    MLIOT_ASSIGN_OR_RETURN(neural::StateDict state, TrainNet(net, ToTrainSpec(p, control, false), in));
    return net_.Build(state);
  }

  int num_features() const override { return net_.inputs(); }

  absl::Status SaveWeights(const std::string& path) const override {
    TensorFile f("mliot.mlp.v1");
    for (size_t i = 0; i < net_.weights().size(); ++i) {
      const RowMatrix& w = net_.weights()[i];
      f.Put(absl::StrCat("W", i), {w.rows(), w.cols()}, w.data());
      f.Put(absl::StrCat("b", i), {net_.biases()[i].size()}, net_.biases()[i].data());
    }
    return f.Write(path);
  }

  absl::Status LoadWeights(const std::string& path, const Params& p) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, "mliot.mlp.v1"));
    std::vector<RowMatrix> weights;
    std::vector<Eigen::VectorXf> biases;
    const int layers = static_cast<int>(p.Int("layers")) + 1;
    for (int i = 0; i < layers; ++i) {
      MLIOT_ASSIGN_OR_RETURN(std::vector<int64_t> shape, f.Shape(absl::StrCat("W", i)));
      if (shape.size() != 2) return absl::DataLossError(absl::StrCat(path, ": layer ", i, " is not a matrix"));
      MLIOT_ASSIGN_OR_RETURN(std::vector<float> w, f.Get(absl::StrCat("W", i)));
      MLIOT_ASSIGN_OR_RETURN(std::vector<float> b, f.Get(absl::StrCat("b", i), {shape[0]}));
      weights.push_back(Eigen::Map<RowMatrix>(w.data(), shape[0], shape[1]));
      biases.push_back(Eigen::Map<Eigen::VectorXf>(b.data(), shape[0]));
    }
    return Annotate(net_.Set(std::move(weights), std::move(biases)), path);
  }
};

// ---------------------------------------------------------------- cnn

constexpr int kDenseHeadMaxPositions = 64;

class CnnModel final : public NeuralModel<neural::EigenCnn> {
 public:
  absl::Status Fit(const FitInput& in, const Params& p, const FitControl& control) override {
    if (!in.shape || in.shape->height < 4 || in.shape->width < 4) {
      return absl::InvalidArgumentError("cnn needs rows with a 2-D shape of at least 4x4");
    }
    shape_ = *in.shape;
    // Normalise with the training rows' mean and (unbiased) deviation.
    const Eigen::Map<const Eigen::ArrayXf> x(in.x, in.rows * in.cols);
    const double mean = x.cast<double>().mean();
    const double var = (x.cast<double>() - mean).square().sum() / std::max<double>(1.0, x.size() - 1.0);
    // auto: a dense layer over every pooled position while there are few
    // (28x28 images: 7x7); global average pooling when there are many
    // (96x64 log-mel patches: 24x16), where a dense layer would have more
    // weights than the data has rows to fit them.
    const std::string& head = p.Choice("head");
    const bool gap = head == "gap" || (head == "auto" && (shape_.height / 4) * (shape_.width / 4) > kDenseHeadMaxPositions);
    neural::NetSpec net{.kind = "cnn", .inputs = in.cols, .height = shape_.height, .width = shape_.width,
                        .classes = in.num_classes, .hidden = static_cast<int>(p.Int("hidden")),
                        .dropout = p.Double("dropout"), .channels = static_cast<int>(p.Int("channels")),
                        .batch_norm = p.Choice("norm") == "batch", .gap = gap,
                        .mean = static_cast<float>(mean),
                        .inv_std = static_cast<float>(1.0 / std::max(1e-6, std::sqrt(var)))};
    MLIOT_ASSIGN_OR_RETURN(state_, TrainNet(net, ToTrainSpec(p, control, p.Choice("augment") == "shift"), in));
    mean_ = net.mean;
    inv_std_ = net.inv_std;
    return net_.Build(state_, shape_.height, shape_.width, mean_, inv_std_);
  }

  int num_features() const override { return shape_.height * shape_.width; }

  absl::Status SaveWeights(const std::string& path) const override {
    TensorFile f("mliot.cnn.v1");
    for (const neural::NamedTensor& t : state_) f.Put(t.name, t.shape, t.data.data());
    const float meta[5] = {static_cast<float>(shape_.height), static_cast<float>(shape_.width),
                           static_cast<float>(net_.classes()), mean_, inv_std_};
    f.Put("meta", {5}, meta);
    return f.Write(path);
  }

  absl::Status LoadWeights(const std::string& path, const Params& p) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, "mliot.cnn.v1"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> meta, f.Get("meta", {5}));
    shape_ = ImageShape{static_cast<int>(meta[0]), static_cast<int>(meta[1])};
    mean_ = meta[3];
    inv_std_ = meta[4];
    if (shape_.height < 4 || shape_.width < 4 || meta[2] < 2) {
      return absl::DataLossError(absl::StrCat(path, ": bad cnn shape"));
    }
    state_.clear();
    for (const char* layer : {"conv1", "conv2", "bn1", "bn2", "fc", "head"}) {
      for (const char* field : {"weight", "bias", "running_mean", "running_var"}) {
        const std::string name = absl::StrCat(layer, ".", field);
        if (!f.Shape(name).ok()) continue;
        MLIOT_ASSIGN_OR_RETURN(std::vector<int64_t> shape, f.Shape(name));
        MLIOT_ASSIGN_OR_RETURN(std::vector<float> data, f.Get(name));
        state_.push_back({name, std::move(shape), std::move(data)});
      }
    }
    MLIOT_RETURN_IF_ERROR(Annotate(net_.Build(state_, shape_.height, shape_.width, mean_, inv_std_), path));
    if (net_.classes() != static_cast<int>(meta[2])) {
      return absl::DataLossError(absl::StrCat(path, ": meta says ", meta[2], " classes, the head has ", net_.classes()));
    }
    return absl::OkStatus();
  }

 private:
  ImageShape shape_;
  float mean_ = 0;
  float inv_std_ = 1;
  neural::StateDict state_;  // what SaveWeights writes
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

void RegisterNeuralModels(ModelRegistry& registry) {
  std::vector<ParamSpec> mlp = TrainingParams(40, 64, 2e-3);
  mlp.push_back({.name = "hidden", .type = ParamType::kInt, .default_value = int64_t{256}, .min = 32,
                 .max = 512, .log_scale = true, .help = "units per hidden layer"});
  mlp.push_back({.name = "layers", .type = ParamType::kInt, .default_value = int64_t{2}, .min = 1,
                 .max = 3, .help = "hidden layers"});
  mlp.push_back({.name = "dropout", .type = ParamType::kDouble, .default_value = 0.2, .min = 0.0,
                 .max = 0.6, .help = "dropout after each hidden layer"});
  (void)registry.Register(ModelKind{
      .name = "mlp",
      .description = "multi-layer perceptron, ReLU, dropout, AdamW (trained on libtorch, served on Eigen)",
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
      .description = "convolutional network: 2 x (conv3x3-ReLU-maxpool), [global average pool], dense, dropout (trained on libtorch, served on Eigen)",
      .probabilities = "softmax of the logits",
      .params = std::move(cnn),
      .needs_image = true,
      .cost_rank = 5.0,
      .create = [] { return std::make_unique<CnnModel>(); }});
}

}  // namespace mliot
