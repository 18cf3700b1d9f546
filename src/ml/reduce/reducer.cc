#include "ml/reduce/reducer.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_util.h"

namespace mliot {
namespace {

using RowMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// At most this many rows are used to estimate a covariance: enough for
// stable leading components, bounded cost.
constexpr int64_t kMaxFitRows = 20000;

std::vector<int64_t> SampleRows(int64_t rows, int64_t max, uint64_t seed) {
  std::vector<int64_t> idx(static_cast<size_t>(rows));
  std::iota(idx.begin(), idx.end(), 0);
  if (rows > max) {
    std::mt19937_64 rng(seed);
    std::shuffle(idx.begin(), idx.end(), rng);
    idx.resize(static_cast<size_t>(max));
    std::sort(idx.begin(), idx.end());
  }
  return idx;
}

// Top-k principal axes of the rows of `x` (n x d): returns (mean, d x k axes).
std::pair<Eigen::RowVectorXf, RowMatrix> PrincipalAxes(const Eigen::MatrixXd& x, int k) {
  const Eigen::RowVectorXd mean = x.colwise().mean();
  const Eigen::MatrixXd xc = x.rowwise() - mean;
  Eigen::MatrixXd axes;
  if (x.cols() <= x.rows()) {
    const Eigen::MatrixXd cov = (xc.transpose() * xc) / std::max<double>(1, x.rows() - 1);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
    // Eigenvalues ascend; take the last k columns, largest first.
    axes = eig.eigenvectors().rightCols(k).rowwise().reverse();
  } else {  // more columns than rows: eigendecompose the Gram matrix instead
    const Eigen::MatrixXd gram = xc * xc.transpose();
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(gram);
    const Eigen::MatrixXd u = eig.eigenvectors().rightCols(k).rowwise().reverse();
    const Eigen::VectorXd s = eig.eigenvalues().tail(k).reverse().cwiseMax(1e-12).cwiseSqrt();
    axes = xc.transpose() * u * s.cwiseInverse().asDiagonal();
  }
  return {mean.cast<float>(), axes.cast<float>()};
}

class IdentityReducer final : public Reducer {
 public:
  absl::Status Fit(const float*, int64_t, int64_t cols, const FitControl&) override {
    d_ = static_cast<int>(cols);
    return absl::OkStatus();
  }
  int in_dim() const override { return d_; }
  int out_dim() const override { return d_; }
  void Transform(const float* row, float* out) const override { std::copy_n(row, d_, out); }
  void SaveTo(TensorFile& file) const override {
    const float d = static_cast<float>(d_);
    file.Put("identity_dim", {1}, &d);
  }
  absl::Status LoadFrom(const TensorFile& file) override {
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> d, file.Get("identity_dim", {1}));
    d_ = static_cast<int>(d[0]);
    return absl::OkStatus();
  }
  std::string spec() const override { return "none"; }

 private:
  int d_ = 0;
};

class ColumnStatsReducer final : public Reducer {
 public:
  ColumnStatsReducer(int h, int w) : h_(h), w_(w) {}
  absl::Status Fit(const float*, int64_t, int64_t cols, const FitControl&) override {
    if (cols != int64_t{h_} * w_) {
      return absl::InvalidArgumentError(absl::StrCat("colstats:", h_, ":", w_, " needs rows of ", h_ * w_,
                                                     " values, got ", cols));
    }
    return absl::OkStatus();
  }
  int in_dim() const override { return h_ * w_; }
  int out_dim() const override { return 5 * w_; }
  void Transform(const float* row, float* out) const override {
    for (int c = 0; c < w_; ++c) {
      float lo = row[c], hi = row[c];
      double sum = 0, sq = 0, diff = 0;
      for (int r = 0; r < h_; ++r) {
        const float v = row[r * w_ + c];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
        sum += v;
        sq += static_cast<double>(v) * v;
        if (r > 0) diff += std::abs(v - row[(r - 1) * w_ + c]);
      }
      const double mean = sum / h_;
      out[c] = static_cast<float>(mean);
      out[w_ + c] = static_cast<float>(std::sqrt(std::max(0.0, sq / h_ - mean * mean)));
      out[2 * w_ + c] = lo;
      out[3 * w_ + c] = hi;
      out[4 * w_ + c] = static_cast<float>(h_ > 1 ? diff / (h_ - 1) : 0.0);
    }
  }
  void SaveTo(TensorFile& file) const override {
    const float shape[2] = {static_cast<float>(h_), static_cast<float>(w_)};
    file.Put("colstats_shape", {2}, shape);
  }
  absl::Status LoadFrom(const TensorFile& file) override {
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> shape, file.Get("colstats_shape", {2}));
    h_ = static_cast<int>(shape[0]);
    w_ = static_cast<int>(shape[1]);
    return absl::OkStatus();
  }
  std::string spec() const override { return absl::StrCat("colstats:", h_, ":", w_); }

 private:
  int h_, w_;
};

// out = W^T (row - mean): shared by PCA and the folded Nyström projection.
struct LinearProjection {
  Eigen::RowVectorXf mean;  // in_dim
  RowMatrix w;              // in_dim x out_dim

  void Apply(const float* row, float* out) const {
    Eigen::Map<const Eigen::RowVectorXf> x(row, w.rows());
    Eigen::Map<Eigen::RowVectorXf> z(out, w.cols());
    z.noalias() = (x - mean) * w;
  }
  void SaveTo(TensorFile& f, const std::string& prefix) const {
    f.Put(prefix + "mean", {mean.size()}, mean.data());
    f.Put(prefix + "w", {w.rows(), w.cols()}, w.data());
  }
  absl::Status LoadFrom(const TensorFile& f, const std::string& prefix) {
    MLIOT_ASSIGN_OR_RETURN(std::vector<int64_t> shape, f.Shape(prefix + "w"));
    if (shape.size() != 2) return absl::DataLossError("projection must be 2-D");
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> m, f.Get(prefix + "mean", {shape[0]}));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> wv, f.Get(prefix + "w"));
    mean = Eigen::Map<Eigen::RowVectorXf>(m.data(), shape[0]);
    w = Eigen::Map<RowMatrix>(wv.data(), shape[0], shape[1]);
    return absl::OkStatus();
  }
};

class PcaReducer final : public Reducer {
 public:
  explicit PcaReducer(int k) : k_(k) {}
  absl::Status Fit(const float* x, int64_t rows, int64_t cols, const FitControl& control) override {
    const int k = static_cast<int>(std::min<int64_t>({k_, cols, rows}));
    const std::vector<int64_t> idx = SampleRows(rows, kMaxFitRows, control.seed);
    Eigen::MatrixXd sample(static_cast<int64_t>(idx.size()), cols);
    for (size_t i = 0; i < idx.size(); ++i) {
      sample.row(static_cast<int64_t>(i)) =
          Eigen::Map<const Eigen::RowVectorXf>(x + idx[i] * cols, cols).cast<double>();
    }
    auto [mean, axes] = PrincipalAxes(sample, k);
    proj_.mean = std::move(mean);
    proj_.w = std::move(axes);
    return absl::OkStatus();
  }
  int in_dim() const override { return static_cast<int>(proj_.w.rows()); }
  int out_dim() const override { return static_cast<int>(proj_.w.cols()); }
  void Transform(const float* row, float* out) const override { proj_.Apply(row, out); }
  void SaveTo(TensorFile& file) const override { proj_.SaveTo(file, "pca_"); }
  absl::Status LoadFrom(const TensorFile& file) override { return proj_.LoadFrom(file, "pca_"); }
  std::string spec() const override { return absl::StrCat("pca:", k_); }

 private:
  int k_;
  LinearProjection proj_;
};

enum class Kernel { kCosine, kRbf };

class KernelPcaReducer final : public Reducer {
 public:
  KernelPcaReducer(int k, Kernel kernel) : k_(k), kernel_(kernel) {}

  absl::Status Fit(const float* x, int64_t rows, int64_t cols, const FitControl& control) override {
    d_ = static_cast<int>(cols);
    // Landmarks: a random subset of the rows.
    const std::vector<int64_t> lm = SampleRows(rows, 1000, control.seed);
    const int64_t m = static_cast<int64_t>(lm.size());
    landmarks_.resize(m, cols);
    for (int64_t i = 0; i < m; ++i) {
      landmarks_.row(i) = Eigen::Map<const Eigen::RowVectorXf>(x + lm[i] * cols, cols);
    }
    PrepareLandmarks();
    if (kernel_ == Kernel::kRbf) {
      // gamma = 1 / median squared distance between landmarks (median heuristic).
      std::vector<float> d2;
      for (int64_t i = 0; i < std::min<int64_t>(m, 200); ++i) {
        for (int64_t j = i + 1; j < std::min<int64_t>(m, 200); ++j) {
          d2.push_back((landmarks_.row(i) - landmarks_.row(j)).squaredNorm());
        }
      }
      std::nth_element(d2.begin(), d2.begin() + d2.size() / 2, d2.end());
      gamma_ = d2.empty() ? 1.0f : 1.0f / std::max(1e-12f, d2[d2.size() / 2]);
    }
    // Nyström feature map phi(x) = L^-1/2 U^T k_m(x), from K_mm = U L U^T.
    RowMatrix kmm(m, m);
    KernelRows(landmarks_, kmm);
    Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(kmm.cast<double>());
    const Eigen::VectorXd lambda = eig.eigenvalues();
    const double cutoff = std::max(1e-10, lambda.maxCoeff() * 1e-6);
    std::vector<int64_t> keep;
    for (int64_t i = m - 1; i >= 0; --i) {
      if (lambda(i) > cutoff) keep.push_back(i);
    }
    Eigen::MatrixXd map(m, static_cast<int64_t>(keep.size()));  // m x r
    for (size_t j = 0; j < keep.size(); ++j) {
      map.col(static_cast<int64_t>(j)) = eig.eigenvectors().col(keep[j]) / std::sqrt(lambda(keep[j]));
    }
    // Linear PCA of phi over (a sample of) the training rows.
    const std::vector<int64_t> idx = SampleRows(rows, 5000, control.seed + 1);
    RowMatrix sample(static_cast<int64_t>(idx.size()), cols);
    for (size_t i = 0; i < idx.size(); ++i) {
      sample.row(static_cast<int64_t>(i)) = Eigen::Map<const Eigen::RowVectorXf>(x + idx[i] * cols, cols);
    }
    RowMatrix kxm(sample.rows(), m);
    KernelRows(sample, kxm);
    const Eigen::MatrixXd phi = kxm.cast<double>() * map;
    const int k = static_cast<int>(std::min<int64_t>({k_, phi.cols(), phi.rows()}));
    auto [mean, axes] = PrincipalAxes(phi, k);
    // Fold both projections: z = (k_m(x) map - mean) axes = k_m(x) W - b.
    proj_.w = (map.cast<float>() * axes);
    offset_ = mean * axes;
    return absl::OkStatus();
  }

  int in_dim() const override { return d_; }
  int out_dim() const override { return static_cast<int>(proj_.w.cols()); }

  void Transform(const float* row, float* out) const override {
    thread_local Eigen::RowVectorXf kx;
    Eigen::Map<const Eigen::RowVectorXf> x(row, d_);
    kx.noalias() = x * landmarks_.transpose();  // 1 x m dot products
    if (kernel_ == Kernel::kCosine) {
      const float norm = x.norm();
      kx.array() *= landmark_inv_norm_.array() * (norm > 0 ? 1.0f / norm : 0.0f);
    } else {
      kx = ((2.0f * kx.array() - landmark_sq_.array() - x.squaredNorm()) * gamma_).exp().matrix();
    }
    Eigen::Map<Eigen::RowVectorXf> z(out, proj_.w.cols());
    z.noalias() = kx * proj_.w;
    z -= offset_;
  }

  void SaveTo(TensorFile& f) const override {
    f.Put("kpca_landmarks", {landmarks_.rows(), landmarks_.cols()}, landmarks_.data());
    f.Put("kpca_w", {proj_.w.rows(), proj_.w.cols()}, proj_.w.data());
    f.Put("kpca_offset", {offset_.size()}, offset_.data());
    f.Put("kpca_gamma", {1}, &gamma_);
  }

  absl::Status LoadFrom(const TensorFile& f) override {
    MLIOT_ASSIGN_OR_RETURN(std::vector<int64_t> ls, f.Shape("kpca_landmarks"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<int64_t> ws, f.Shape("kpca_w"));
    if (ls.size() != 2 || ws.size() != 2 || ws[0] != ls[0]) {
      return absl::DataLossError("kernel PCA tables do not match");
    }
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> l, f.Get("kpca_landmarks"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> w, f.Get("kpca_w"));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> o, f.Get("kpca_offset", {ws[1]}));
    MLIOT_ASSIGN_OR_RETURN(std::vector<float> g, f.Get("kpca_gamma", {1}));
    d_ = static_cast<int>(ls[1]);
    landmarks_ = Eigen::Map<RowMatrix>(l.data(), ls[0], ls[1]);
    proj_.w = Eigen::Map<RowMatrix>(w.data(), ws[0], ws[1]);
    offset_ = Eigen::Map<Eigen::RowVectorXf>(o.data(), ws[1]);
    gamma_ = g[0];
    PrepareLandmarks();
    return absl::OkStatus();
  }

  std::string spec() const override {
    return absl::StrCat("kpca:", k_, kernel_ == Kernel::kCosine ? ":cosine" : ":rbf");
  }

 private:
  void PrepareLandmarks() {
    landmark_sq_ = landmarks_.rowwise().squaredNorm().transpose();
    landmark_inv_norm_ = landmark_sq_.cwiseSqrt().unaryExpr([](float v) { return v > 0 ? 1.0f / v : 0.0f; });
  }

  // out(i, j) = kernel(rows.row(i), landmark j).
  void KernelRows(const RowMatrix& rows, RowMatrix& out) const {
    out.noalias() = rows * landmarks_.transpose();
    if (kernel_ == Kernel::kCosine) {
      const Eigen::VectorXf inv = rows.rowwise().norm().unaryExpr([](float v) { return v > 0 ? 1.0f / v : 0.0f; });
      out = inv.asDiagonal() * out * landmark_inv_norm_.asDiagonal();
    } else {
      const Eigen::VectorXf sq = rows.rowwise().squaredNorm();
      out = ((2.0f * out).rowwise() - landmark_sq_).colwise() - sq;
      out = (out.array() * gamma_).exp().matrix();
    }
  }

  int k_;
  Kernel kernel_;
  int d_ = 0;
  float gamma_ = 1.0f;
  RowMatrix landmarks_;                   // m x d
  Eigen::RowVectorXf landmark_sq_;        // 1 x m
  Eigen::RowVectorXf landmark_inv_norm_;  // 1 x m
  LinearProjection proj_;                 // w: m x k (mean unused)
  Eigen::RowVectorXf offset_;             // 1 x k
};

}  // namespace

void Reducer::TransformBatch(const float* rows, int64_t n, float* out) const {
  for (int64_t i = 0; i < n; ++i) Transform(rows + i * in_dim(), out + i * out_dim());
}

std::string ReducerForms() {
  return "none, pca:K, kpca:K, kpca:K:cosine, kpca:K:rbf (K >= 1), colstats:H:W (2-D rows)";
}

absl::StatusOr<std::unique_ptr<Reducer>> MakeReducer(absl::string_view spec) {
  const std::vector<std::string> parts = absl::StrSplit(spec, ':');
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat("reducer '", std::string(spec), "': ", why,
                                                   "; valid reducers: ", ReducerForms(), ", auto"));
  };
  if (parts[0] == "none" && parts.size() == 1) return std::make_unique<IdentityReducer>();
  if (parts[0] == "colstats") {
    int h = 0, w = 0;
    if (parts.size() != 3 || !absl::SimpleAtoi(parts[1], &h) || !absl::SimpleAtoi(parts[2], &w) || h < 1 || w < 1) {
      return bad("colstats takes H:W, two positive integers");
    }
    return std::make_unique<ColumnStatsReducer>(h, w);
  }
  if (parts[0] != "pca" && parts[0] != "kpca") {
    return absl::InvalidArgumentError(absl::StrCat("unknown reducer '", std::string(spec),
                                                   "'; valid reducers: ", ReducerForms(), ", auto"));
  }
  int k = 0;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[1], &k) || k < 1) {
    return bad("K must be a positive integer");
  }
  if (parts[0] == "pca") {
    if (parts.size() != 2) return bad("pca takes one argument");
    return std::make_unique<PcaReducer>(k);
  }
  Kernel kernel = Kernel::kCosine;
  if (parts.size() == 3) {
    if (parts[2] == "rbf") kernel = Kernel::kRbf;
    else if (parts[2] != "cosine") return bad(absl::StrCat("unknown kernel '", parts[2], "'"));
  } else if (parts.size() > 3) {
    return bad("too many arguments");
  }
  return std::make_unique<KernelPcaReducer>(k, kernel);
}

}  // namespace mliot
