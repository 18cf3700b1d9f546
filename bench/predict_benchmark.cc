// Single-row PredictProba per model kind and the full serving path
// (Servable::Predict), on the first 2,000 Fashion-MNIST images reduced to 64
// PCA components (the cnn gets raw 28x28 images). Run:
//   build/bench/predict_benchmark --benchmark_min_time=0.2
#include <benchmark/benchmark.h>

#include <memory>
#include <vector>

#include "common/blas_threads.h"
#include "data/source.h"
#include "ml/model.h"
#include "ml/preprocess.h"

namespace mliot {
namespace {

struct Fixture {
  Dataset raw;
  std::unique_ptr<Preprocessor> pre;
  std::vector<float> reduced;
};

const Fixture& Data() {
  static Fixture* f = [] {
    auto* fx = new Fixture();
    fx->raw = *LoadDataset("fashion-mnist:train:2000");
    fx->pre = *Preprocessor::Fit(fx->raw.features.data(), fx->raw.rows, fx->raw.cols, true, "pca:64",
                                 FitControl{});
    fx->reduced.resize(static_cast<size_t>(fx->raw.rows * fx->pre->out_dim()));
    fx->pre->TransformBatch(fx->raw.features.data(), fx->raw.rows, fx->reduced.data());
    return fx;
  }();
  return *f;
}

void BM_PredictProba(benchmark::State& state, const std::string& kind_name) {
  const Fixture& f = Data();
  const ModelKind* kind = *BuiltinModels().Find(kind_name);
  std::unique_ptr<Model> model = kind->create();
  const bool raw = kind->needs_image;
  const int64_t cols = raw ? f.raw.cols : f.pre->out_dim();
  const float* x = raw ? f.raw.features.data() : f.reduced.data();
  FitInput in{x, f.raw.rows, cols, f.raw.labels.data(), f.raw.num_classes(), f.raw.shape};
  Params p = Params::Defaults(kind->params);
  if (kind_name == "cnn" || kind_name == "mlp") p.Set("epochs", int64_t{2});
  if (!model->Fit(in, p, FitControl{}).ok()) {
    state.SkipWithError("fit failed");
    return;
  }
  std::vector<float> proba(static_cast<size_t>(model->num_classes()));
  int64_t i = 0;
  for (auto _ : state) {
    model->PredictProba(x + (i++ % f.raw.rows) * cols, proba.data());
    benchmark::DoNotOptimize(proba.data());
  }
}

void BM_Preprocess(benchmark::State& state) {
  const Fixture& f = Data();
  std::vector<float> out(static_cast<size_t>(f.pre->out_dim()));
  int64_t i = 0;
  for (auto _ : state) {
    f.pre->Transform(f.raw.row(i++ % f.raw.rows), out.data());
    benchmark::DoNotOptimize(out.data());
  }
}

BENCHMARK(BM_Preprocess)->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PredictProba, knn, std::string("knn"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PredictProba, ridge, std::string("ridge"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PredictProba, logreg, std::string("logreg"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PredictProba, linear_svm, std::string("linear_svm"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PredictProba, rbf_svm, std::string("rbf_svm"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PredictProba, random_forest, std::string("random_forest"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PredictProba, xgboost, std::string("xgboost"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PredictProba, mlp, std::string("mlp"))->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_PredictProba, cnn, std::string("cnn"))->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace mliot

int main(int argc, char** argv) {
  mliot::LimitBlasToOneThread();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  return 0;
}
