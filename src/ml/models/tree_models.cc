// Tree kinds, trained with the XGBoost C API and served by FlatForest:
//   xgboost        gradient-boosted trees, multi:softprob, hist
//   random_forest  XGBoost's random-forest mode (one round of parallel trees
//                  with row and per-node column subsampling)
// Both are cooperative: boosting checks the deadline every round; the forest
// is grown in chunks of trees and stops between chunks.
#include <xgboost/c_api.h>

#include <cmath>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/lazy_library.h"
#include "common/status_util.h"
#include "ml/calibration.h"
#include "ml/model.h"
#include "ml/models/builtin.h"
#include "ml/models/flat_forest.h"

namespace mliot {
namespace {

// libxgboost is opened on the first fit (common/lazy_library.h): serving
// runs on FlatForest and never needs it.
#define MLIOT_XGB_FUNCTIONS(X)                                                                       \
  X(XGBGetLastError) X(XGDMatrixCreateFromMat) X(XGDMatrixSetFloatInfo) X(XGDMatrixFree)              \
  X(XGBoosterCreate) X(XGBoosterSetParam) X(XGBoosterUpdateOneIter) X(XGBoosterSaveModelToBuffer)     \
  X(XGBoosterFree)

struct XgbApi {
#define MLIOT_XGB_POINTER(f) decltype(&::f) f = nullptr;
  MLIOT_XGB_FUNCTIONS(MLIOT_XGB_POINTER)
#undef MLIOT_XGB_POINTER
};

XgbApi xgb;  // filled by LoadXgb() before any use

absl::Status LoadXgb() {
  static LazyLibrary library("XGBoost (libxgboost)", {"libxgboost.so.0", MLIOT_XGBOOST_LIBRARY});
  static const absl::Status loaded = [] {
    XgbApi api;
#define MLIOT_XGB_RESOLVE(f) MLIOT_RETURN_IF_ERROR(library.Resolve(#f, &api.f));
    MLIOT_XGB_FUNCTIONS(MLIOT_XGB_RESOLVE)
#undef MLIOT_XGB_RESOLVE
    xgb = api;
    return absl::OkStatus();
  }();
  return loaded;
}

absl::Status XgbCheck(int rc, absl::string_view what) {
  if (rc == 0) return absl::OkStatus();
  return absl::InternalError(absl::StrCat("XGBoost ", what, ": ", xgb.XGBGetLastError()));
}

struct DMatrixDeleter {
  void operator()(void* h) const { xgb.XGDMatrixFree(h); }
};
struct BoosterDeleter {
  void operator()(void* h) const { xgb.XGBoosterFree(h); }
};
using DMatrix = std::unique_ptr<void, DMatrixDeleter>;
using Booster = std::unique_ptr<void, BoosterDeleter>;

absl::StatusOr<DMatrix> MakeDMatrix(const FitInput& in) {
  MLIOT_RETURN_IF_ERROR(LoadXgb());
  DMatrixHandle h = nullptr;
  MLIOT_RETURN_IF_ERROR(XgbCheck(
      xgb.XGDMatrixCreateFromMat(in.x, in.rows, in.cols, std::nanf(""), &h), "DMatrix"));
  DMatrix m(h);
  std::vector<float> labels(in.y, in.y + in.rows);
  MLIOT_RETURN_IF_ERROR(
      XgbCheck(xgb.XGDMatrixSetFloatInfo(h, "label", labels.data(), in.rows), "labels"));
  return m;
}

absl::StatusOr<Booster> MakeBooster(const DMatrix& train,
                                    const std::vector<std::pair<std::string, std::string>>& kv) {
  BoosterHandle h = nullptr;
  DMatrixHandle dm = train.get();
  MLIOT_RETURN_IF_ERROR(XgbCheck(xgb.XGBoosterCreate(&dm, 1, &h), "booster"));
  Booster b(h);
  for (const auto& [k, v] : kv) {
    MLIOT_RETURN_IF_ERROR(XgbCheck(xgb.XGBoosterSetParam(h, k.c_str(), v.c_str()), k));
  }
  return b;
}

absl::StatusOr<std::string> BoosterJson(const Booster& b) {
  bst_ulong len = 0;
  const char* data = nullptr;
  MLIOT_RETURN_IF_ERROR(XgbCheck(
      xgb.XGBoosterSaveModelToBuffer(b.get(), R"({"format": "json"})", &len, &data), "save"));
  return std::string(data, len);
}

class TreeModel : public Model {
 public:
  int num_classes() const override { return forest_.num_classes(); }
  int num_features() const override { return forest_.num_features(); }
  void PredictProba(const float* row, float* proba) const override {
    forest_.Margins(row, proba);
    SoftmaxInPlace(proba, forest_.num_classes());
  }
  absl::Status SaveWeights(const std::string& path) const override {
    TensorFile f("mliot.forest.v1");
    forest_.SaveTo(f);
    return f.Write(path);
  }
  absl::Status LoadWeights(const std::string& path, const Params&) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, "mliot.forest.v1"));
    forest_ = FlatForest();
    return Annotate(forest_.LoadFrom(f), path);
  }

 protected:
  static std::vector<std::pair<std::string, std::string>> CommonParams(const FitInput& in,
                                                                       const FitControl& control) {
    return {{"objective", "multi:softprob"},
            {"num_class", absl::StrCat(in.num_classes)},
            {"tree_method", "hist"},
            {"nthread", absl::StrCat(std::max(1, control.threads))},
            {"seed", absl::StrCat(control.seed % 2147483647)},
            {"verbosity", "0"}};
  }
  void ResetForest(const FitInput& in) {
    forest_ = FlatForest();
    forest_.set_num_classes(in.num_classes);
    forest_.set_num_features(static_cast<int>(in.cols));
  }

  FlatForest forest_;
};

class XGBoostModel final : public TreeModel {
 public:
  absl::Status Fit(const FitInput& in, const Params& p, const FitControl& control) override {
    MLIOT_ASSIGN_OR_RETURN(DMatrix train, MakeDMatrix(in));
    auto kv = CommonParams(in, control);
    kv.insert(kv.end(), {{"eta", absl::StrCat(p.Double("learning_rate"))},
                         {"max_depth", absl::StrCat(p.Int("max_depth"))},
                         {"subsample", absl::StrCat(p.Double("subsample"))},
                         {"colsample_bytree", absl::StrCat(p.Double("colsample_bytree"))},
                         {"min_child_weight", absl::StrCat(p.Double("min_child_weight"))},
                         {"lambda", absl::StrCat(p.Double("reg_lambda"))},
                         {"max_bin", "128"}});
    MLIOT_ASSIGN_OR_RETURN(Booster booster, MakeBooster(train, kv));
    const int64_t rounds = p.Int("n_estimators");
    for (int64_t r = 0; r < rounds; ++r) {
      MLIOT_RETURN_IF_ERROR(
          XgbCheck(xgb.XGBoosterUpdateOneIter(booster.get(), static_cast<int>(r), train.get()), "round"));
      if (control.ShouldStop()) break;  // anytime: keep the rounds done so far
    }
    MLIOT_ASSIGN_OR_RETURN(std::string json, BoosterJson(booster));
    ResetForest(in);
    // multi:softprob starts every class at the same base score; it cancels in
    // the softmax, so the base margin is left at 0.
    return forest_.AppendXGBoostJson(json);
  }
};

class RandomForestModel final : public TreeModel {
 public:
  absl::Status Fit(const FitInput& in, const Params& p, const FitControl& control) override {
    MLIOT_ASSIGN_OR_RETURN(DMatrix train, MakeDMatrix(in));
    const int64_t total = p.Int("n_estimators");
    const int64_t chunk = std::min<int64_t>(total, 10);
    const double colsample = std::min(
        1.0, p.Double("max_features") * std::sqrt(static_cast<double>(in.cols)) / in.cols);
    std::vector<std::string> chunks;
    for (int64_t built = 0; built < total; built += chunk) {
      FitControl chunk_control = control;
      chunk_control.seed = control.seed + static_cast<uint64_t>(built);
      auto kv = CommonParams(in, chunk_control);
      kv.insert(kv.end(), {{"eta", "1"},
                           {"num_parallel_tree", absl::StrCat(std::min(chunk, total - built))},
                           {"max_depth", absl::StrCat(p.Int("max_depth"))},
                           {"subsample", "0.632"},
                           {"colsample_bynode", absl::StrCat(colsample)},
                           {"min_child_weight", absl::StrCat(p.Double("min_child_weight"))},
                           {"lambda", "1e-5"},
                           {"max_bin", "128"}});
      MLIOT_ASSIGN_OR_RETURN(Booster booster, MakeBooster(train, kv));
      MLIOT_RETURN_IF_ERROR(XgbCheck(xgb.XGBoosterUpdateOneIter(booster.get(), 0, train.get()), "forest"));
      MLIOT_ASSIGN_OR_RETURN(std::string json, BoosterJson(booster));
      chunks.push_back(std::move(json));
      if (control.ShouldStop()) break;
    }
    ResetForest(in);
    // Each chunk's margin is a forest of its own; the whole forest's margin
    // is their average.
    for (const std::string& json : chunks) {
      MLIOT_RETURN_IF_ERROR(forest_.AppendXGBoostJson(json, 1.0f / static_cast<float>(chunks.size())));
    }
    return absl::OkStatus();
  }
};

}  // namespace

void RegisterTreeModels(ModelRegistry& registry) {
  (void)registry.Register(ModelKind{
      .name = "xgboost",
      .description = "gradient-boosted trees (XGBoost hist, multi:softprob)",
      .probabilities = "softmax of the summed tree margins (XGBoost's multi:softprob)",
      .params =
          {{.name = "n_estimators", .type = ParamType::kInt, .default_value = int64_t{150},
            .min = 20, .max = 1000, .log_scale = true, .help = "boosting rounds"},
           {.name = "learning_rate", .type = ParamType::kDouble, .default_value = 0.15,
            .min = 0.01, .max = 0.5, .log_scale = true, .help = "shrinkage per round (eta)"},
           {.name = "max_depth", .type = ParamType::kInt, .default_value = int64_t{6}, .min = 2,
            .max = 12, .help = "maximum tree depth"},
           {.name = "subsample", .type = ParamType::kDouble, .default_value = 0.8, .min = 0.5,
            .max = 1.0, .help = "row subsample per tree"},
           {.name = "colsample_bytree", .type = ParamType::kDouble, .default_value = 0.8,
            .min = 0.3, .max = 1.0, .help = "column subsample per tree"},
           {.name = "min_child_weight", .type = ParamType::kDouble, .default_value = 1.0,
            .min = 0.1, .max = 20.0, .log_scale = true, .help = "minimum hessian per leaf"},
           {.name = "reg_lambda", .type = ParamType::kDouble, .default_value = 1.0, .min = 1e-3,
            .max = 10.0, .log_scale = true, .help = "L2 regularisation of leaf weights"}},
      .cost_rank = 3.0,
      .create = [] { return std::make_unique<XGBoostModel>(); }});
  (void)registry.Register(ModelKind{
      .name = "random_forest",
      .description = "random forest (XGBoost random-forest mode: bagged rows, per-node column sampling)",
      .probabilities = "softmax of the averaged tree margins",
      .params =
          {{.name = "n_estimators", .type = ParamType::kInt, .default_value = int64_t{100},
            .min = 20, .max = 500, .log_scale = true, .help = "number of trees"},
           {.name = "max_depth", .type = ParamType::kInt, .default_value = int64_t{14}, .min = 4,
            .max = 20, .help = "maximum tree depth"},
           {.name = "max_features", .type = ParamType::kDouble, .default_value = 1.0, .min = 0.5,
            .max = 4.0, .log_scale = true, .help = "columns per split, in multiples of sqrt(d)"},
           {.name = "min_child_weight", .type = ParamType::kDouble, .default_value = 0.05,
            .min = 0.01, .max = 2.0, .log_scale = true, .help = "minimum hessian per leaf"}},
      .cost_rank = 2.0,
      .create = [] { return std::make_unique<RandomForestModel>(); }});
}

}  // namespace mliot
