// Linear kinds: ridge (Eigen closed form), logreg and linear_svm (LIBLINEAR).
//
// All three predict through the same dense path: scores = W x + b with Eigen,
// then probabilities (logreg: LIBLINEAR's one-vs-rest sigmoids, normalised;
// ridge and linear_svm: softmax of calibrated scores, ml/calibration.h).
#include <linear.h>

#include <Eigen/Dense>
#include <cmath>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/lazy_library.h"
#include "common/status_util.h"
#include "ml/calibration.h"
#include "ml/model.h"
#include "ml/models/builtin.h"
#include "ml/tensor_file.h"

namespace mliot {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Dense linear scorer shared by the linear kinds.
struct LinearScorer {
  RowMatrix w;  // k x d
  Eigen::VectorXf b;
  float temperature = 1.0f;
  bool ovr_sigmoid = false;  // logreg: p_c ∝ 1 / (1 + exp(-s_c))

  int k() const { return static_cast<int>(w.rows()); }
  int d() const { return static_cast<int>(w.cols()); }

  void Proba(const float* row, float* proba) const {
    Eigen::Map<const Eigen::VectorXf> x(row, d());
    Eigen::Map<Eigen::VectorXf> out(proba, k());
    out.noalias() = w * x;
    out += b;
    if (!ovr_sigmoid) {
      SoftmaxInPlace(proba, k(), temperature);
      return;
    }
    if (k() == 2) {  // binary logreg: one sigmoid, stored as +s / -s
      const float p0 = 1.0f / (1.0f + std::exp(-proba[0]));
      proba[0] = p0;
      proba[1] = 1.0f - p0;
      return;
    }
    float sum = 0;
    for (int c = 0; c < k(); ++c) {
      proba[c] = 1.0f / (1.0f + std::exp(-proba[c]));
      sum += proba[c];
    }
    for (int c = 0; c < k(); ++c) proba[c] /= sum;
  }

  void ProbaBatch(const float* rows, int64_t n, float* proba) const {
    Eigen::Map<const RowMatrix> x(rows, n, d());
    Eigen::Map<RowMatrix> out(proba, n, k());
    out.noalias() = x * w.transpose();
    out.rowwise() += b.transpose();
    // Re-use the single-row post-processing on the computed scores.
    for (int64_t i = 0; i < n; ++i) {
      float* p = proba + i * k();
      if (!ovr_sigmoid) {
        SoftmaxInPlace(p, k(), temperature);
      } else if (k() == 2) {
        const float p0 = 1.0f / (1.0f + std::exp(-p[0]));
        p[0] = p0;
        p[1] = 1.0f - p0;
      } else {
        float sum = 0;
        for (int c = 0; c < k(); ++c) {
          p[c] = 1.0f / (1.0f + std::exp(-p[c]));
          sum += p[c];
        }
        for (int c = 0; c < k(); ++c) p[c] /= sum;
      }
    }
  }

  void CalibrateOn(const FitInput& in) {
    if (ovr_sigmoid) return;
    std::vector<float> scores(static_cast<size_t>(in.rows * k()));
    Eigen::Map<const RowMatrix> x(in.x, in.rows, in.cols);
    Eigen::Map<RowMatrix> s(scores.data(), in.rows, k());
    s.noalias() = x * w.transpose();
    s.rowwise() += b.transpose();
    temperature = FitSoftmaxTemperature(scores.data(), in.y, in.rows, k());
  }

  void SaveTo(TensorFile& f) const {
    f.Put("W", {w.rows(), w.cols()}, w.data());
    f.Put("b", {b.size()}, b.data());
    f.Put("temperature", {1}, &temperature);
  }

  absl::Status LoadFrom(const TensorFile& f) {
    MLIOT_ASSIGN_OR_RETURN(std::vector<int64_t> shape, f.Shape("W"));
    if (shape.size() != 2) return absl::DataLossError("W must be 2-D");
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> wv, f.Get("W"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> bv, f.Get("b", {shape[0]}));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> tv, f.Get("temperature", {1}));
    w = Eigen::Map<RowMatrix>(wv.data(), shape[0], shape[1]);
    b = Eigen::Map<Eigen::VectorXf>(bv.data(), shape[0]);
    temperature = tv[0];
    return absl::OkStatus();
  }
};

// ---------------------------------------------------------------- ridge

class RidgeModel final : public Model {
 public:
  absl::Status Fit(const FitInput& in, const Params& params, const FitControl&) override {
    const double alpha = params.Double("alpha");
    Eigen::Map<const RowMatrix> xf(in.x, in.rows, in.cols);
    const Eigen::MatrixXd x = xf.cast<double>();
    const Eigen::RowVectorXd mean = x.colwise().mean();
    const Eigen::MatrixXd xc = x.rowwise() - mean;
    // Targets in {-1, +1} per class, as scikit-learn's RidgeClassifier.
    Eigen::MatrixXd y = Eigen::MatrixXd::Constant(in.rows, in.num_classes, -1.0);
    for (int64_t i = 0; i < in.rows; ++i) y(i, in.y[i]) = 1.0;
    const Eigen::RowVectorXd y_mean = y.colwise().mean();
    const Eigen::MatrixXd yc = y.rowwise() - y_mean;
    Eigen::MatrixXd coef;  // d x k
    if (in.cols <= in.rows) {
      Eigen::MatrixXd gram = xc.transpose() * xc;
      gram.diagonal().array() += alpha;
      coef = gram.ldlt().solve(xc.transpose() * yc);
    } else {  // dual form when there are more features than rows
      Eigen::MatrixXd gram = xc * xc.transpose();
      gram.diagonal().array() += alpha;
      coef = xc.transpose() * gram.ldlt().solve(yc);
    }
    scorer_.w = coef.transpose().cast<float>();
    scorer_.b = (y_mean - mean * coef).transpose().cast<float>();
    scorer_.CalibrateOn(in);
    return absl::OkStatus();
  }
  int num_classes() const override { return scorer_.k(); }
  int num_features() const override { return scorer_.d(); }
  void PredictProba(const float* row, float* proba) const override { scorer_.Proba(row, proba); }
  void PredictProbaBatch(const float* rows, int64_t n, float* proba) const override {
    scorer_.ProbaBatch(rows, n, proba);
  }
  absl::Status SaveWeights(const std::string& path) const override {
    TensorFile f("mliot.ridge.v1");
    scorer_.SaveTo(f);
    return f.Write(path);
  }
  absl::Status LoadWeights(const std::string& path, const Params&) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, "mliot.ridge.v1"));
    return Annotate(scorer_.LoadFrom(f), path);
  }

 private:
  LinearScorer scorer_;
};

// ---------------------------------------------------------------- LIBLINEAR

void Silent(const char*) {}

// liblinear (and the OpenBLAS it links) is opened on the first fit
// (common/lazy_library.h); serving runs on Eigen and never needs it.
#define MLIOT_LIBLINEAR_FUNCTIONS(X)                                                              \
  X(train) X(free_and_destroy_model) X(check_parameter) X(set_print_string_function) X(get_nr_class) \
  X(get_labels) X(get_decfun_coef) X(get_decfun_bias)

struct LiblinearApi {
#define MLIOT_LIBLINEAR_POINTER(f) decltype(&::f) f = nullptr;
  MLIOT_LIBLINEAR_FUNCTIONS(MLIOT_LIBLINEAR_POINTER)
#undef MLIOT_LIBLINEAR_POINTER
};

LiblinearApi liblinear;  // filled by LoadLiblinear() before any use

absl::Status LoadLiblinear() {
  static LazyLibrary library("LIBLINEAR (liblinear)", {"liblinear.so.4", MLIOT_LIBLINEAR_LIBRARY});
  static const absl::Status loaded = [] {
    LiblinearApi api;
#define MLIOT_LIBLINEAR_RESOLVE(f) MLIOT_RETURN_IF_ERROR(library.Resolve(#f, &api.f));
    MLIOT_LIBLINEAR_FUNCTIONS(MLIOT_LIBLINEAR_RESOLVE)
#undef MLIOT_LIBLINEAR_RESOLVE
    liblinear = api;
    return absl::OkStatus();
  }();
  return loaded;
}

struct LinearModelDeleter {
  void operator()(model* m) const { liblinear.free_and_destroy_model(&m); }
};

class LiblinearModel final : public Model {
 public:
  explicit LiblinearModel(bool logistic) : logistic_(logistic) {}

  absl::Status Fit(const FitInput& in, const Params& params, const FitControl&) override {
    MLIOT_RETURN_IF_ERROR(LoadLiblinear());
    liblinear.set_print_string_function(&Silent);
    // Sparse rows with a trailing bias feature and the -1 terminator.
    std::vector<feature_node> nodes;
    std::vector<feature_node*> rows(static_cast<size_t>(in.rows));
    std::vector<size_t> offsets(static_cast<size_t>(in.rows));
    std::vector<double> y(static_cast<size_t>(in.rows));
    nodes.reserve(static_cast<size_t>(in.rows * (in.cols / 2 + 2)));
    for (int64_t i = 0; i < in.rows; ++i) {
      offsets[i] = nodes.size();
      const float* r = in.x + i * in.cols;
      for (int64_t j = 0; j < in.cols; ++j) {
        if (r[j] != 0.0f) nodes.push_back({static_cast<int>(j + 1), r[j]});
      }
      nodes.push_back({static_cast<int>(in.cols + 1), 1.0});  // bias
      nodes.push_back({-1, 0.0});
      y[i] = in.y[i];
    }
    for (int64_t i = 0; i < in.rows; ++i) rows[i] = nodes.data() + offsets[i];
    problem prob{};
    prob.l = static_cast<int>(in.rows);
    prob.n = static_cast<int>(in.cols + 1);
    prob.y = y.data();
    prob.x = rows.data();
    prob.bias = 1.0;
    parameter param{};
    param.solver_type = logistic_ ? L2R_LR : L2R_L2LOSS_SVC_DUAL;
    param.C = params.Double("C");
    param.eps = logistic_ ? 0.01 : 0.1;
    if (const char* err = liblinear.check_parameter(&prob, &param)) {
      return absl::InvalidArgumentError(absl::StrCat("LIBLINEAR: ", err));
    }
    std::unique_ptr<model, LinearModelDeleter> trained(liblinear.train(&prob, &param));
    if (!trained) return absl::InternalError("LIBLINEAR training failed");
    FromLibrary(trained.get(), static_cast<int>(in.cols), in.num_classes);
    scorer_.CalibrateOn(in);
    return absl::OkStatus();
  }

  int num_classes() const override { return scorer_.k(); }
  int num_features() const override { return scorer_.d(); }
  void PredictProba(const float* row, float* proba) const override { scorer_.Proba(row, proba); }
  void PredictProbaBatch(const float* rows, int64_t n, float* proba) const override {
    scorer_.ProbaBatch(rows, n, proba);
  }

  // The dense scorer is the whole predictive state; LIBLINEAR's model is
  // not kept after Fit.
  absl::Status SaveWeights(const std::string& path) const override {
    TensorFile f(Format());
    scorer_.SaveTo(f);
    return f.Write(path);
  }
  absl::Status LoadWeights(const std::string& path, const Params&) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, Format()));
    scorer_.ovr_sigmoid = logistic_;
    return Annotate(scorer_.LoadFrom(f), path);
  }

 private:
  // Dense W, b in our class order; classes LIBLINEAR never saw score -inf.
  void FromLibrary(const model* trained, int d, int k) {
    scorer_.ovr_sigmoid = logistic_;
    scorer_.w = RowMatrix::Zero(k, d);
    scorer_.b = Eigen::VectorXf::Constant(k, -1e9f);
    const int nr_class = liblinear.get_nr_class(trained);
    std::vector<int> labels(static_cast<size_t>(nr_class));
    liblinear.get_labels(trained, labels.data());
    for (int li = 0; li < nr_class; ++li) {
      const int c = labels[li];
      if (c < 0 || c >= k) continue;
      // get_decfun_coef handles LIBLINEAR's binary layout (one w, +/-).
      for (int j = 0; j < d; ++j) scorer_.w(c, j) = static_cast<float>(liblinear.get_decfun_coef(trained, j + 1, li));
      scorer_.b(c) = static_cast<float>(liblinear.get_decfun_bias(trained, li));
    }
  }

  std::string Format() const { return logistic_ ? "mliot.logreg.v1" : "mliot.linear_svm.v1"; }

  bool logistic_;
  LinearScorer scorer_;
};

}  // namespace

void RegisterLinearModels(ModelRegistry& registry) {
  (void)registry.Register(ModelKind{
      .name = "ridge",
      .description = "ridge regression on {-1,+1} class targets, closed form (Eigen)",
      .probabilities = "softmax of the class scores with a temperature fitted on training log-loss",
      .params = {{.name = "alpha", .type = ParamType::kDouble, .default_value = 1.0, .min = 1e-3,
                  .max = 1e4, .log_scale = true, .help = "L2 regularisation strength"}},
      .cost_rank = 0.1,
      .create = [] { return std::make_unique<RidgeModel>(); }});
  (void)registry.Register(ModelKind{
      .name = "logreg",
      .description = "L2-regularised logistic regression, one-vs-rest (LIBLINEAR, trust-region Newton)",
      .probabilities = "LIBLINEAR's one-vs-rest sigmoids, normalised to sum to 1",
      .params = {{.name = "C", .type = ParamType::kDouble, .default_value = 1.0, .min = 1e-3,
                  .max = 1e2, .log_scale = true, .help = "inverse regularisation strength"}},
      .cooperative = false,
      .cost_rank = 0.4,
      .create = [] { return std::make_unique<LiblinearModel>(true); },
      .prepare = LoadLiblinear});
  (void)registry.Register(ModelKind{
      .name = "linear_svm",
      .description = "L2-regularised squared-hinge linear SVM, one-vs-rest (LIBLINEAR, dual CD)",
      .probabilities = "softmax of the decision values with a temperature fitted on training log-loss",
      .params = {{.name = "C", .type = ParamType::kDouble, .default_value = 0.1, .min = 1e-4,
                  .max = 1e1, .log_scale = true, .help = "inverse regularisation strength"}},
      .cooperative = false,
      .cost_rank = 0.3,
      .create = [] { return std::make_unique<LiblinearModel>(false); },
      .prepare = LoadLiblinear});
}

}  // namespace mliot
