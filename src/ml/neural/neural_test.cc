// The Eigen inference path against libtorch's forward pass (the module's
// reference), for every layer type and shape the neural kinds use; the
// module missing gives one clear error.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <random>

#include "ml/model.h"
#include "ml/neural/eigen_nets.h"
#include "ml/neural/torch_loader.h"

namespace mliot::neural {
namespace {

const TorchModuleApi& Module() {
  auto module = TorchModule();
  EXPECT_TRUE(module.ok()) << module.status();
  return **module;
}

// Random inputs and labels; a short training run so weights and batch-norm
// statistics are not the initial ones.
struct Trained {
  StateDict state;
  std::vector<float> x;
};

Trained TrainBriefly(const NetSpec& net, int rows = 64) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Trained t;
  t.x.resize(static_cast<size_t>(rows * net.inputs));
  for (float& v : t.x) v = u(rng);
  std::vector<int32_t> y(rows);
  for (int i = 0; i < rows; ++i) y[i] = i % net.classes;
  TrainSpec train{.epochs = 2, .batch_size = 16, .learning_rate = 1e-2};
  const std::string error = Module().train(net, train, {.x = t.x.data(), .y = y.data(), .rows = rows}, &t.state);
  EXPECT_EQ(error, "");
  return t;
}

void ExpectClose(const std::vector<float>& eigen, const std::vector<float>& torch, const std::string& what) {
  ASSERT_EQ(eigen.size(), torch.size());
  double worst = 0;
  for (size_t i = 0; i < eigen.size(); ++i) {
    worst = std::max(worst, std::abs(eigen[i] - torch[i]) / std::max(1.0, std::abs(static_cast<double>(torch[i]))));
  }
  EXPECT_LE(worst, 1e-5) << what;
}

std::vector<float> TorchLogits(const NetSpec& net, const Trained& t, int rows) {
  std::vector<float> out(static_cast<size_t>(rows * net.classes));
  EXPECT_EQ(Module().forward(net, t.state, t.x.data(), rows, out.data()), "");
  return out;
}

TEST(NeuralInference, MlpMatchesLibtorchForEveryDepth) {
  for (int layers : {1, 2, 3}) {
    const NetSpec net{.kind = "mlp", .inputs = 37, .classes = 5, .hidden = 24, .layers = layers, .dropout = 0.3};
    const Trained t = TrainBriefly(net);
    EigenMlp mlp;
    ASSERT_TRUE(mlp.Build(t.state).ok());
    const int rows = 16;
    std::vector<float> batch(rows * net.classes), single(rows * net.classes);
    mlp.ForwardBatch(t.x.data(), rows, batch.data());
    for (int r = 0; r < rows; ++r) mlp.Forward(t.x.data() + r * net.inputs, single.data() + r * net.classes);
    const std::vector<float> reference = TorchLogits(net, t, rows);
    ExpectClose(batch, reference, "mlp batch, layers " + std::to_string(layers));
    ExpectClose(single, reference, "mlp single row, layers " + std::to_string(layers));
  }
}

TEST(NeuralInference, CnnMatchesLibtorchForEveryLayerAndShape) {
  struct Case {
    int h, w;
    bool batch_norm, gap;
  };
  // 28x28 images (dense head), 96x64 log-mel patches (global average pool),
  // odd sizes whose pooling floors, and a map pooled to one position.
  for (const Case c : {Case{28, 28, false, false}, Case{28, 28, true, false}, Case{96, 64, true, true},
                       Case{96, 64, false, true}, Case{30, 22, true, false}, Case{13, 9, false, true},
                       Case{5, 7, false, false}}) {
    const std::string what = std::to_string(c.h) + "x" + std::to_string(c.w) + (c.batch_norm ? " bn" : "") +
                             (c.gap ? " gap" : " dense");
    const NetSpec net{.kind = "cnn", .inputs = c.h * c.w, .height = c.h, .width = c.w, .classes = 4, .hidden = 32,
                      .dropout = 0.5, .channels = 8, .batch_norm = c.batch_norm, .gap = c.gap, .mean = 0.45f,
                      .inv_std = 3.2f};
    const Trained t = TrainBriefly(net, 32);
    EigenCnn cnn;
    ASSERT_TRUE(cnn.Build(t.state, c.h, c.w, net.mean, net.inv_std).ok()) << what;
    const int rows = 8;
    std::vector<float> eigen(rows * net.classes);
    cnn.ForwardBatch(t.x.data(), rows, eigen.data());
    ExpectClose(eigen, TorchLogits(net, t, rows), "cnn " + what);
  }
}

TEST(NeuralInference, BadStateIsAnErrorNamingTheTensor) {
  const NetSpec net{.kind = "cnn", .inputs = 64, .height = 8, .width = 8, .classes = 3, .hidden = 16, .channels = 8};
  Trained t = TrainBriefly(net, 16);
  for (auto& tensor : t.state) {
    if (tensor.name == "conv2.weight") tensor.shape[1] = 5;
  }
  EigenCnn cnn;
  const absl::Status status = cnn.Build(t.state, 8, 8, 0, 1);
  EXPECT_FALSE(status.ok());
  EXPECT_NE(status.message().find("conv2.weight"), std::string::npos) << status;
}

TEST(NeuralInference, TrainsThroughTheRegisteredKind) {
  auto kind = BuiltinModels().Find("mlp");
  ASSERT_TRUE(kind.ok());
  std::vector<float> x(200 * 4);
  std::vector<int32_t> y(200);
  for (int i = 0; i < 200; ++i) {
    y[i] = i % 2;
    for (int j = 0; j < 4; ++j) x[i * 4 + j] = (y[i] == 1 ? 1.0f : -1.0f) + 0.1f * static_cast<float>((i * 7 + j) % 5);
  }
  auto model = (*kind)->create();
  Params params = Params::Defaults((*kind)->params);
  ASSERT_TRUE(model->Fit({.x = x.data(), .rows = 200, .cols = 4, .y = y.data(), .num_classes = 2}, params, {}).ok());
  int correct = 0;
  for (int i = 0; i < 200; ++i) {
    float p[2];
    model->PredictProba(x.data() + i * 4, p);
    correct += ArgMax(p, 2) == y[i];
  }
  EXPECT_GE(correct, 190);
}

}  // namespace
}  // namespace mliot::neural

namespace mliot::neural {
namespace {

// In a fresh process (the death-test child re-runs this binary), so the
// module is not loaded yet.
TEST(TorchModuleDeathTest, MissingModuleIsOneClearError) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        setenv("MLIOT_TORCH_MODULE", "/nonexistent/libmliot_torch.so", 1);
        auto module = TorchModule();
        std::fprintf(stderr, "%s\n", module.status().ToString().c_str());
        std::exit(module.ok() || TorchModuleLoaded() ? 1 : 0);
      },
      testing::ExitedWithCode(0),
      "FAILED_PRECONDITION: mlp and cnn training needs the torch module \\(libmliot_torch.so; set "
      "MLIOT_TORCH_MODULE to its path\\): /nonexistent/libmliot_torch.so: not found");
}

}  // namespace
}  // namespace mliot::neural

namespace mliot::neural {
namespace {

// `ldd build/mliot`: none of libtorch's libraries, nor the training
// libraries opened on demand (issue 19).
TEST(Footprint, MliotBinaryLinksNoLibtorchNorTrainingLibraries) {
  const char* binary = std::getenv("MLIOT_BINARY");
  ASSERT_NE(binary, nullptr);
  FILE* pipe = popen((std::string("ldd ") + binary).c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) out.append(buffer, n);
  ASSERT_EQ(pclose(pipe), 0) << out;
  ASSERT_NE(out.find("libgrpc"), std::string::npos) << out;
  for (const char* lib : {"libtorch", "libc10", "libopencv", "libQt5", "libgdal", "libgdcm", "libxgboost",
                          "liblinear", "libopenblas", "libblas"}) {
    EXPECT_EQ(out.find(lib), std::string::npos) << lib << " in\n" << out;
  }
}

}  // namespace
}  // namespace mliot::neural
