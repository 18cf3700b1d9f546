#include "node/benchmark.h"

#include <chrono>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/stats.h"
#include "common/status_util.h"
#include "ml/model.h"

namespace mliot {
namespace {

double Seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Synthetic {
  std::vector<float> x;
  std::vector<int32_t> y;
  int64_t rows = 0, cols = 0;
};

// Class c shifts a block of features; images get a bright quadrant.
Synthetic Make(int64_t rows, int64_t cols, int classes, uint64_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0, 0.5f);
  Synthetic s{{}, {}, rows, cols};
  for (int64_t i = 0; i < rows; ++i) {
    const int c = static_cast<int>(i % classes);
    s.y.push_back(c);
    for (int64_t j = 0; j < cols; ++j) s.x.push_back(g(rng) + ((j * classes / cols) == c ? 1.0f : 0.0f));
  }
  return s;
}

absl::StatusOr<double> FitAndTime(const std::string& kind_name, const Synthetic& s,
                                  std::optional<ImageShape> shape, Params overrides, int reps,
                                  double* fit_s) {
  MLIOT_ASSIGN_OR_RETURN(const ModelKind* kind, BuiltinModels().Find(kind_name));
  Params p = Params::Defaults(kind->params);
  for (const auto& [k, v] : overrides.values()) p.Set(k, v);
  std::unique_ptr<Model> model = kind->create();
  const double start = Seconds();
  FitControl control;
  MLIOT_RETURN_IF_ERROR(model->Fit(FitInput{s.x.data(), s.rows, s.cols, s.y.data(), 4, shape}, p, control));
  *fit_s += Seconds() - start;
  std::vector<float> proba(4);
  std::vector<double> ms;
  for (int r = 0; r < reps; ++r) {
    const auto t = std::chrono::steady_clock::now();
    model->PredictProba(s.x.data() + (r % s.rows) * s.cols, proba.data());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t).count());
  }
  return Percentile(ms, 0.5);
}

}  // namespace

absl::StatusOr<v1::NodeBenchmark> RunDeviceBenchmark(const std::string& mode) {
  if (mode != "quick" && mode != "full") {
    return absl::InvalidArgumentError(absl::StrCat("--benchmark '", mode, "': valid: quick, full"));
  }
  const int scale = mode == "full" ? 4 : 1;
  const int reps = mode == "full" ? 400 : 100;
  const double start = Seconds();
  double fit_s = 0;
  const Synthetic images = Make(256 * scale, 28 * 28, 4, 1);
  Params cnn;
  cnn.Set("epochs", int64_t{1});
  MLIOT_ASSIGN_OR_RETURN(double cnn_ms, FitAndTime("cnn", images, ImageShape{28, 28}, cnn, reps, &fit_s));
  const Synthetic table = Make(1000 * scale, 20, 4, 2);
  Params xgb;
  xgb.Set("n_estimators", int64_t{50});
  MLIOT_ASSIGN_OR_RETURN(double xgb_ms, FitAndTime("xgboost", table, std::nullopt, xgb, reps, &fit_s));
  MLIOT_ASSIGN_OR_RETURN(double knn_ms, FitAndTime("knn", table, std::nullopt, Params(), reps, &fit_s));
  v1::NodeBenchmark b;
  // A representative ensemble: two CNNs for images; three tree/neighbour
  // members for sensor tables.
  b.set_image_predict_ms(2 * cnn_ms + knn_ms);
  b.set_sensor_predict_ms(2 * xgb_ms + knn_ms);
  // Reference: the quick fits take ~1.2 s on the 2-core development box.
  constexpr double kReferenceFitS = 1.2;
  b.set_train_speed(kReferenceFitS * scale / std::max(1e-3, fit_s));
  b.set_seconds(Seconds() - start);
  return b;
}

}  // namespace mliot
