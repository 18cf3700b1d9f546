// SgdModel: the network and its optimiser live in the torch module
// (ml/neural/torch_api.h SgdCore, loaded on demand); this side keeps the
// checks, accuracy and the file formats. Inputs in [0, 1] are mapped to
// [-1, 1] by the module.
#include "stream/sgd_model.h"

#include <cmath>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"
#include "ml/neural/torch_loader.h"
#include "ml/tensor_file.h"

namespace mliot::stream {
namespace {

constexpr char kFormat[] = "mliot.sgd.v1";

class ModuleSgdModel final : public SgdModel {
 public:
  ModuleSgdModel(std::unique_ptr<neural::SgdCore> core, const SgdOptions& o) : core_(std::move(core)), options_(o) {}

  float Backward(const float* x, const int32_t* y, int64_t n, float* losses) override {
    return core_->Backward(x, y, n, losses);
  }
  void Apply() override { core_->Apply(); }
  void SetLearningRateScale(double scale) override { core_->SetLearningRateScale(scale); }
  std::span<float> GradientBuffer() override { return core_->GradientBuffer(); }
  std::span<float> ParameterBuffer() override { return core_->ParameterBuffer(); }

  double Accuracy(const Dataset& data) override {
    int64_t correct = 0, labelled = 0;
    std::vector<float> logits;
    for (int64_t b = 0; b < data.rows; b += 1000) {
      const int64_t n = std::min<int64_t>(1000, data.rows - b);
      logits.resize(static_cast<size_t>(n * options_.classes));
      core_->Logits(data.row(b), n, logits.data());
      for (int64_t i = 0; i < n; ++i) {
        const int32_t label = data.labels[static_cast<size_t>(b + i)];
        if (label < 0) continue;
        ++labelled;
        const float* row = logits.data() + i * options_.classes;
        correct += std::max_element(row, row + options_.classes) - row == label ? 1 : 0;
      }
    }
    return labelled == 0 ? 0.0 : static_cast<double>(correct) / static_cast<double>(labelled);
  }

  absl::Status SaveCheckpoint(const std::string& path) const override {
    TensorFile f(kFormat);
    f.PutText("kind", options_.kind);
    const std::span<float> p = core_->ParameterBuffer();
    f.Put("parameters", {static_cast<int64_t>(p.size())}, p.data());
    const std::string tmp = absl::StrCat(path, ".tmp");
    MLIOT_RETURN_IF_ERROR(f.Write(tmp));
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) return absl::InternalError(absl::StrCat("rename ", tmp, " -> ", path, ": ", ec.message()));
    return absl::OkStatus();
  }

  absl::Status LoadCheckpoint(const std::string& path) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, kFormat));
    MLIOT_ASSIGN_OR_RETURN(std::string kind, f.Text("kind"));
    if (kind != options_.kind) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": a ", kind, " checkpoint, not ", options_.kind));
    }
    const std::span<float> params = core_->ParameterBuffer();
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> p, f.Get("parameters", {static_cast<int64_t>(params.size())}));
    std::copy(p.begin(), p.end(), params.begin());
    return absl::OkStatus();
  }

  absl::Status SaveEngineWeights(const std::string& path) const override {
    const neural::StateDict state = core_->State();
    if (options_.kind == "mlp") {
      // ml/models/neural_models.cc MlpModel: W<i>, b<i> per layer, ReLU between.
      TensorFile f("mliot.mlp.v1");
      const char* layers[] = {"fc1", "fc2", "head"};
      for (int i = 0; i < 3; ++i) {
        for (const auto& t : state) {
          if (t.name == absl::StrCat(layers[i], ".weight")) f.Put(absl::StrCat("W", i), t.shape, t.data.data());
          if (t.name == absl::StrCat(layers[i], ".bias")) f.Put(absl::StrCat("b", i), t.shape, t.data.data());
        }
      }
      return f.Write(path);
    }
    // CnnModel: the network's state by name, and meta = {h, w, k, mean,
    // inv_std}; (x - 0.5) * 2 is this model's input mapping.
    TensorFile f("mliot.cnn.v1");
    for (const auto& t : state) f.Put(t.name, t.shape, t.data.data());
    const float meta[5] = {static_cast<float>(options_.height), static_cast<float>(options_.width),
                           static_cast<float>(options_.classes), 0.5f, 2.0f};
    f.Put("meta", {5}, meta);
    return f.Write(path);
  }

  const SgdOptions& options() const override { return options_; }

 private:
  std::unique_ptr<neural::SgdCore> core_;
  SgdOptions options_;
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
  if (o.kind != "mlp" && o.kind != "cnn") {
    return absl::InvalidArgumentError(absl::StrCat("sgd model: unknown kind '", o.kind, "' (mlp or cnn)"));
  }
  if (o.kind == "cnn" && (o.height < 4 || o.width < 4 || static_cast<int64_t>(o.height) * o.width != o.features)) {
    return absl::InvalidArgumentError("sgd model: cnn needs an image shape (height x width == features)");
  }
  MLIOT_ASSIGN_OR_RETURN(const neural::TorchModuleApi* module, neural::TorchModule());
  std::unique_ptr<neural::SgdCore> core;
  const std::string error = module->create_sgd(
      {.kind = o.kind, .features = o.features, .height = o.height, .width = o.width, .classes = o.classes,
       .hidden = o.hidden, .learning_rate = o.learning_rate, .threads = o.threads, .seed = o.seed},
      &core);
  if (!error.empty()) return absl::InternalError(absl::StrCat("sgd model: ", error));
  return std::make_unique<ModuleSgdModel>(std::move(core), o);
}

}  // namespace mliot::stream
