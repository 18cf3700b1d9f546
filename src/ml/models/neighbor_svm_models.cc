// Instance-based kinds:
//   knn      k nearest neighbours on an HNSW graph (hnswlib)
//   rbf_svm  C-SVC with an RBF kernel (LIBSVM), served by a dense evaluator
// hnswlib's SSE prefetch reads one entry past the end of a neighbour list
// (nmslib/hnswlib#107 and #578; the fixes #459/#628 are unmerged). It is a
// prefetch hint, harmless in practice, but AddressSanitizer reports it;
// upstream's own sanitizer builds disable manual vectorisation, and so do ours.
#if defined(__SANITIZE_ADDRESS__)
#define NO_MANUAL_VECTORIZATION
#endif
#include <hnswlib/hnswlib.h>
#include <libsvm/svm.h>
#include <unistd.h>

#include <Eigen/Dense>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>
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

// ---------------------------------------------------------------- knn

class KnnModel final : public Model {
 public:
  absl::Status Fit(const FitInput& in, const Params& p, const FitControl& control) override {
    d_ = static_cast<int>(in.cols);
    k_classes_ = in.num_classes;
    SetParams(p);
    space_ = std::make_unique<hnswlib::L2Space>(d_);
    try {
      index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
          space_.get(), static_cast<size_t>(in.rows), static_cast<size_t>(p.Int("M")),
          /*ef_construction=*/100, control.seed);
      // Insert in parallel; stop between blocks once the deadline passes.
      const int threads = std::max(1, control.threads);
      std::atomic<int64_t> next{0};
      auto work = [&] {
        while (!control.ShouldStop()) {
          const int64_t begin = next.fetch_add(256);
          if (begin >= in.rows) break;
          for (int64_t i = begin; i < std::min(in.rows, begin + 256); ++i) {
            index_->addPoint(in.x + i * in.cols, static_cast<hnswlib::labeltype>(i));
          }
        }
      };
      std::vector<std::thread> pool;
      for (int t = 1; t < threads; ++t) pool.emplace_back(work);
      work();
      for (std::thread& t : pool) t.join();
    } catch (const std::exception& e) {
      return absl::InternalError(absl::StrCat("hnswlib: ", e.what()));
    }
    labels_.assign(in.y, in.y + in.rows);
    index_->setEf(static_cast<size_t>(std::max<int64_t>(p.Int("ef_search"), k_)));
    return absl::OkStatus();
  }

  int num_classes() const override { return k_classes_; }
  int num_features() const override { return d_; }

  void PredictProba(const float* row, float* proba) const override {
    std::fill(proba, proba + k_classes_, 0.0f);
    // hnswlib returns a priority queue, so this kind allocates per call.
    auto result = index_->searchKnn(row, static_cast<size_t>(k_));
    float total = 0;
    while (!result.empty()) {
      const auto [dist, id] = result.top();
      result.pop();
      const float w = distance_weighted_ ? 1.0f / (std::sqrt(std::max(dist, 0.0f)) + 1e-6f) : 1.0f;
      proba[labels_[id]] += w;
      total += w;
    }
    if (total <= 0) {
      std::fill(proba, proba + k_classes_, 1.0f / k_classes_);
      return;
    }
    // Light smoothing keeps every class possible, which makes the log-loss of
    // the ensemble finite and its certainties less brittle.
    const float alpha = 0.02f;
    for (int c = 0; c < k_classes_; ++c) {
      proba[c] = (proba[c] / total + alpha / k_classes_) / (1.0f + alpha);
    }
  }

  absl::Status SaveWeights(const std::string& path) const override {
    const std::string tmp = absl::StrCat(path, ".hnsw.tmp");
    try {
      index_->saveIndex(tmp);
    } catch (const std::exception& e) {
      return absl::UnavailableError(absl::StrCat(path, ": hnswlib: ", e.what()));
    }
    std::ifstream in(tmp, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    std::remove(tmp.c_str());
    TensorFile f("mliot.knn.v1");
    std::vector<float> labels(labels_.begin(), labels_.end());
    f.Put("labels", {static_cast<int64_t>(labels.size())}, labels.data());
    const float dims[2] = {static_cast<float>(d_), static_cast<float>(k_classes_)};
    f.Put("dims", {2}, dims);
    f.PutText("hnsw", bytes.str());
    return f.Write(path);
  }

  absl::Status LoadWeights(const std::string& path, const Params& p) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, "mliot.knn.v1"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> dims, f.Get("dims", {2}));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> labels, f.Get("labels"));
    MLIOT_ASSIGN_OR_RETURN(std::string hnsw, f.Text("hnsw"));
    d_ = static_cast<int>(dims[0]);
    k_classes_ = static_cast<int>(dims[1]);
    labels_.clear();
    for (float l : labels) {
      if (l < 0 || l >= k_classes_) return absl::DataLossError(absl::StrCat(path, ": bad label"));
      labels_.push_back(static_cast<int32_t>(l));
    }
    SetParams(p);
    const std::string tmp = absl::StrCat(path, ".", getpid(), ".hnsw.tmp");
    {
      std::ofstream out(tmp, std::ios::binary);
      out << hnsw;
    }
    space_ = std::make_unique<hnswlib::L2Space>(d_);
    try {
      index_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), tmp);
    } catch (const std::exception& e) {
      std::remove(tmp.c_str());
      return absl::DataLossError(absl::StrCat(path, ": hnswlib: ", e.what()));
    }
    std::remove(tmp.c_str());
    if (index_->cur_element_count > labels_.size()) {
      return absl::DataLossError(absl::StrCat(path, ": index larger than its label table"));
    }
    index_->setEf(static_cast<size_t>(std::max<int64_t>(p.Int("ef_search"), k_)));
    return absl::OkStatus();
  }

 private:
  void SetParams(const Params& p) {
    k_ = static_cast<int>(p.Int("k"));
    distance_weighted_ = p.Choice("weights") == "distance";
  }

  int d_ = 0;
  int k_classes_ = 0;
  int k_ = 5;
  bool distance_weighted_ = false;
  std::vector<int32_t> labels_;
  std::unique_ptr<hnswlib::L2Space> space_;
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> index_;
};

// ---------------------------------------------------------------- rbf_svm

void SilentSvm(const char*) {}

struct SvmModelDeleter {
  void operator()(svm_model* m) const { svm_free_and_destroy_model(&m); }
};

// The one-vs-one RBF decision functions of a trained LIBSVM model, densely.
class RbfSvmModel final : public Model {
 public:
  absl::Status Fit(const FitInput& in, const Params& p, const FitControl&) override {
    svm_set_print_string_function(&SilentSvm);
    d_ = static_cast<int>(in.cols);
    k_ = in.num_classes;
    // gamma = gamma_scale / (d * var(X)), scikit-learn's "scale" times a factor.
    double mean = 0, sq = 0;
    const int64_t n = in.rows * in.cols;
    for (int64_t i = 0; i < n; ++i) {
      mean += in.x[i];
      sq += static_cast<double>(in.x[i]) * in.x[i];
    }
    mean /= static_cast<double>(n);
    const double var = std::max(1e-12, sq / static_cast<double>(n) - mean * mean);
    gamma_ = static_cast<float>(p.Double("gamma_scale") / (in.cols * var));

    std::vector<svm_node> nodes;
    std::vector<size_t> offsets(static_cast<size_t>(in.rows));
    nodes.reserve(static_cast<size_t>(in.rows * (in.cols / 2 + 1)));
    std::vector<double> y(static_cast<size_t>(in.rows));
    for (int64_t i = 0; i < in.rows; ++i) {
      offsets[i] = nodes.size();
      for (int64_t j = 0; j < in.cols; ++j) {
        const float v = in.x[i * in.cols + j];
        if (v != 0.0f) nodes.push_back({static_cast<int>(j + 1), v});
      }
      nodes.push_back({-1, 0.0});
      y[i] = in.y[i];
    }
    std::vector<svm_node*> rows(static_cast<size_t>(in.rows));
    for (int64_t i = 0; i < in.rows; ++i) rows[i] = nodes.data() + offsets[i];
    svm_problem prob{static_cast<int>(in.rows), y.data(), rows.data()};
    svm_parameter param{};
    param.svm_type = C_SVC;
    param.kernel_type = RBF;
    param.gamma = gamma_;
    param.C = p.Double("C");
    param.cache_size = 256;
    param.eps = 1e-3;
    param.shrinking = 1;
    if (const char* err = svm_check_parameter(&prob, &param)) {
      return absl::InvalidArgumentError(absl::StrCat("LIBSVM: ", err));
    }
    std::unique_ptr<svm_model, SvmModelDeleter> trained(svm_train(&prob, &param));
    if (!trained) return absl::InternalError("LIBSVM training failed");
    FromLibrary(*trained);
    // Calibrate on (a sample of) the training rows.
    const int64_t m = std::min<int64_t>(in.rows, 3000);
    std::vector<float> scores(static_cast<size_t>(m * k_));
    std::vector<int32_t> labels(in.y, in.y + m);
    temperature_ = 1.0f;
    for (int64_t i = 0; i < m; ++i) Scores(in.x + i * in.cols, scores.data() + i * k_);
    temperature_ = FitSoftmaxTemperature(scores.data(), labels.data(), m, k_);
    return absl::OkStatus();
  }

  int num_classes() const override { return k_; }
  int num_features() const override { return d_; }

  void PredictProba(const float* row, float* proba) const override {
    Scores(row, proba);
    SoftmaxInPlace(proba, k_, temperature_);
  }

  absl::Status SaveWeights(const std::string& path) const override {
    TensorFile f("mliot.rbf_svm.v1");
    f.Put("sv", {sv_.rows(), sv_.cols()}, sv_.data());
    f.Put("coef", {coef_.rows(), coef_.cols()}, coef_.data());
    f.Put("rho", {static_cast<int64_t>(rho_.size())}, rho_.data());
    std::vector<float> start(sv_start_.begin(), sv_start_.end());
    f.Put("sv_start", {static_cast<int64_t>(start.size())}, start.data());
    std::vector<float> cls(svm_class_.begin(), svm_class_.end());
    f.Put("classes", {static_cast<int64_t>(cls.size())}, cls.data());
    const float meta[4] = {static_cast<float>(d_), static_cast<float>(k_), gamma_, temperature_};
    f.Put("meta", {4}, meta);
    return f.Write(path);
  }

  absl::Status LoadWeights(const std::string& path, const Params&) override {
    MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, "mliot.rbf_svm.v1"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> meta, f.Get("meta", {4}));
    d_ = static_cast<int>(meta[0]);
    k_ = static_cast<int>(meta[1]);
    gamma_ = meta[2];
    temperature_ = meta[3];
    MLIOT_ASSIGN_OR_RETURN(std::vector<int64_t> sv_shape, f.Shape("sv"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> sv, f.Get("sv", {-1, d_}));
    MLIOT_ASSIGN_OR_RETURN(std::vector<int64_t> coef_shape, f.Shape("coef"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> coef, f.Get("coef", {-1, sv_shape[0]}));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> cls, f.Get("classes"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> start,
                           f.Get("sv_start", {static_cast<int64_t>(cls.size()) + 1}));
    MLIOT_ASSIGN_OR_RETURN(rho_, f.Get("rho"));
    const int64_t l = sv_shape[0];
    sv_ = Eigen::Map<RowMatrix>(sv.data(), l, d_);
    coef_ = Eigen::Map<RowMatrix>(coef.data(), coef_shape[0], l);
    svm_class_.assign(cls.begin(), cls.end());
    sv_start_.assign(start.begin(), start.end());
    const size_t m = svm_class_.size();
    if (rho_.size() != m * (m - 1) / 2 || coef_.rows() != static_cast<int64_t>(m) - 1 ||
        sv_start_.back() != l) {
      return absl::DataLossError(absl::StrCat(path, ": inconsistent SVM tables"));
    }
    for (int c : svm_class_) {
      if (c < 0 || c >= k_) return absl::DataLossError(absl::StrCat(path, ": bad class"));
    }
    sv_sq_ = sv_.rowwise().squaredNorm();
    return absl::OkStatus();
  }

 private:
  void FromLibrary(const svm_model& m) {
    const int l = m.l;
    const int nr = m.nr_class;
    sv_ = RowMatrix::Zero(l, d_);
    for (int i = 0; i < l; ++i) {
      for (const svm_node* node = m.SV[i]; node->index != -1; ++node) {
        sv_(i, node->index - 1) = static_cast<float>(node->value);
      }
    }
    coef_ = RowMatrix(std::max(1, nr - 1), l);
    for (int r = 0; r < nr - 1; ++r) {
      for (int i = 0; i < l; ++i) coef_(r, i) = static_cast<float>(m.sv_coef[r][i]);
    }
    rho_.assign(m.rho, m.rho + nr * (nr - 1) / 2);
    svm_class_.assign(m.label, m.label + nr);
    sv_start_.assign(1, 0);
    for (int c = 0; c < nr; ++c) sv_start_.push_back(sv_start_.back() + m.nSV[c]);
    sv_sq_ = sv_.rowwise().squaredNorm();
  }

  // Per-class scores: one-vs-one votes plus a bounded confidence term
  // (scikit-learn's ovr decision shape), -inf-like for unseen classes.
  void Scores(const float* row, float* scores) const {
    thread_local Eigen::VectorXf kernel;
    thread_local std::vector<float> conf;        // summed signed decision values
    thread_local std::vector<float> vote_count;  // one-vs-one wins
    const int64_t l = sv_.rows();
    if (kernel.size() != l) kernel.resize(l);
    Eigen::Map<const Eigen::VectorXf> x(row, d_);
    kernel.noalias() = sv_ * x;
    const float xx = x.squaredNorm();
    kernel = ((2.0f * kernel.array() - sv_sq_.array() - xx) * gamma_).exp().matrix();
    const int nr = static_cast<int>(svm_class_.size());
    conf.assign(static_cast<size_t>(nr), 0.0f);
    std::fill(scores, scores + k_, -1e3f);
    vote_count.assign(static_cast<size_t>(nr), 0.0f);
    int p = 0;
    for (int i = 0; i < nr; ++i) {
      for (int j = i + 1; j < nr; ++j, ++p) {
        float sum = 0;
        const int si = sv_start_[i], ci = sv_start_[i + 1] - si;
        const int sj = sv_start_[j], cj = sv_start_[j + 1] - sj;
        sum += coef_.row(j - 1).segment(si, ci).dot(kernel.segment(si, ci));
        sum += coef_.row(i).segment(sj, cj).dot(kernel.segment(sj, cj));
        sum -= rho_[p];
            vote_count[sum > 0 ? i : j] += 1.0f;
        conf[i] += sum;
        conf[j] -= sum;
      }
    }
    float max_abs = 0;
    for (int i = 0; i < nr; ++i) max_abs = std::max(max_abs, std::abs(conf[i]));
    for (int i = 0; i < nr; ++i) {
      scores[svm_class_[i]] = vote_count[i] + conf[i] / (3.0f * (max_abs + 1.0f));
    }
  }

  int d_ = 0;
  int k_ = 0;
  float gamma_ = 0;
  float temperature_ = 1.0f;
  RowMatrix sv_;                // l x d support vectors, grouped by class
  Eigen::VectorXf sv_sq_;       // |sv|^2
  RowMatrix coef_;              // (nr-1) x l, LIBSVM's sv_coef layout
  std::vector<float> rho_;      // nr(nr-1)/2
  std::vector<int> svm_class_;  // LIBSVM class order -> our class index
  std::vector<int> sv_start_;   // nr+1 offsets into sv_
};

}  // namespace

void RegisterNeighborSvmModels(ModelRegistry& registry) {
  (void)registry.Register(ModelKind{
      .name = "knn",
      .description = "k nearest neighbours on an HNSW graph (hnswlib, L2)",
      .probabilities = "(distance-)weighted share of the k neighbours per class, lightly smoothed",
      .params = {{.name = "k", .type = ParamType::kInt, .default_value = int64_t{5}, .min = 1,
                  .max = 50, .log_scale = true, .help = "neighbours consulted"},
                 {.name = "weights", .type = ParamType::kChoice, .default_value = std::string("distance"),
                  .choices = {"uniform", "distance"}, .help = "vote weighting"},
                 {.name = "M", .type = ParamType::kInt, .default_value = int64_t{16}, .min = 8,
                  .max = 48, .help = "HNSW graph degree", .tunable = false},
                 {.name = "ef_search", .type = ParamType::kInt, .default_value = int64_t{64},
                  .min = 16, .max = 512, .help = "HNSW search breadth", .tunable = false}},
      .cost_rank = 0.5,
      .create = [] { return std::make_unique<KnnModel>(); }});
  (void)registry.Register(ModelKind{
      .name = "rbf_svm",
      .description = "C-SVC with an RBF kernel, one-vs-one (LIBSVM, SMO)",
      .probabilities = "softmax of one-vs-one votes plus bounded decision values, temperature "
                       "fitted on training log-loss (no Platt cross-validation)",
      .params = {{.name = "C", .type = ParamType::kDouble, .default_value = 5.0, .min = 0.05,
                  .max = 500.0, .log_scale = true, .help = "penalty of margin violations"},
                 {.name = "gamma_scale", .type = ParamType::kDouble, .default_value = 1.0,
                  .min = 0.05, .max = 20.0, .log_scale = true,
                  .help = "kernel width as a multiple of 1/(d*var(X))"}},
      .cooperative = false,
      .cost_rank = 2.5,
      .create = [] { return std::make_unique<RbfSvmModel>(); }});
}

}  // namespace mliot
