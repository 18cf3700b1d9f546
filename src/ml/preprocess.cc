#include "ml/preprocess.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "common/status_util.h"

namespace mliot {

absl::StatusOr<std::unique_ptr<Preprocessor>> Preprocessor::Fit(const float* x, int64_t rows,
                                                                int64_t cols, bool global_scale,
                                                                const std::string& reducer_spec,
                                                                const FitControl& control) {
  auto p = std::unique_ptr<Preprocessor>(new Preprocessor());
  MLIOT_ASSIGN_OR_RETURN(p->reducer_, MakeReducer(reducer_spec));
  std::vector<double> sum(static_cast<size_t>(cols), 0), sq(static_cast<size_t>(cols), 0);
  std::vector<int64_t> count(static_cast<size_t>(cols), 0);
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) {
      const float v = x[i * cols + j];
      if (std::isnan(v)) continue;
      sum[j] += v;
      sq[j] += static_cast<double>(v) * v;
      ++count[j];
    }
  }
  p->mean_.resize(static_cast<size_t>(cols));
  p->inv_std_.resize(static_cast<size_t>(cols));
  if (global_scale) {
    double s = 0, q = 0;
    int64_t c = 0;
    for (int64_t j = 0; j < cols; ++j) {
      s += sum[j];
      q += sq[j];
      c += count[j];
    }
    const double mean = c > 0 ? s / c : 0;
    const double sd = c > 0 ? std::sqrt(std::max(0.0, q / c - mean * mean)) : 1;
    for (int64_t j = 0; j < cols; ++j) {
      p->mean_[j] = static_cast<float>(mean);
      p->inv_std_[j] = static_cast<float>(sd > 1e-12 ? 1.0 / sd : 1.0);
    }
  } else {
    for (int64_t j = 0; j < cols; ++j) {
      const double mean = count[j] > 0 ? sum[j] / count[j] : 0;
      const double sd = count[j] > 0 ? std::sqrt(std::max(0.0, sq[j] / count[j] - mean * mean)) : 0;
      p->mean_[j] = static_cast<float>(mean);
      p->inv_std_[j] = static_cast<float>(sd > 1e-12 ? 1.0 / sd : 1.0);  // constant: centre only
    }
  }
  std::vector<float> scaled(static_cast<size_t>(rows * cols));
  for (int64_t i = 0; i < rows; ++i) p->Standardize(x + i * cols, scaled.data() + i * cols);
  MLIOT_RETURN_IF_ERROR(p->reducer_->Fit(scaled.data(), rows, cols, control));
  return p;
}

void Preprocessor::Standardize(const float* raw, float* out) const {
  const size_t n = mean_.size();
  for (size_t j = 0; j < n; ++j) {
    const float v = raw[j];
    out[j] = std::isnan(v) ? 0.0f : (v - mean_[j]) * inv_std_[j];
  }
}

void Preprocessor::Transform(const float* raw, float* out) const {
  thread_local std::vector<float> scaled;
  scaled.resize(mean_.size());
  Standardize(raw, scaled.data());
  reducer_->Transform(scaled.data(), out);
}

void Preprocessor::TransformBatch(const float* raw, int64_t n, float* out) const {
  const int64_t d = in_dim();
  std::vector<float> scaled(static_cast<size_t>(n * d));
  for (int64_t i = 0; i < n; ++i) Standardize(raw + i * d, scaled.data() + i * d);
  reducer_->TransformBatch(scaled.data(), n, out);
}

absl::Status Preprocessor::Save(const std::string& path) const {
  TensorFile f("mliot.preprocess.v1");
  f.Put("mean", {static_cast<int64_t>(mean_.size())}, mean_.data());
  f.Put("inv_std", {static_cast<int64_t>(inv_std_.size())}, inv_std_.data());
  f.PutText("reducer", reducer_->spec());
  reducer_->SaveTo(f);
  return f.Write(path);
}

absl::StatusOr<std::unique_ptr<Preprocessor>> Preprocessor::Load(const std::string& path) {
  MLIOT_ASSIGN_OR_RETURN(TensorFile f, TensorFile::Read(path, "mliot.preprocess.v1"));
  auto p = std::unique_ptr<Preprocessor>(new Preprocessor());
  MLIOT_ASSIGN_OR_RETURN(p->mean_, f.Get("mean"));
  MLIOT_ASSIGN_OR_RETURN(p->inv_std_, f.Get("inv_std", {static_cast<int64_t>(p->mean_.size())}));
  MLIOT_ASSIGN_OR_RETURN(std::string spec, f.Text("reducer"));
  MLIOT_ASSIGN_OR_RETURN(p->reducer_, MakeReducer(spec));
  MLIOT_RETURN_IF_ERROR(Annotate(p->reducer_->LoadFrom(f), path));
  if (p->reducer_->in_dim() != p->in_dim()) {
    return absl::DataLossError(absl::StrCat(path, ": reducer expects ", p->reducer_->in_dim(),
                                            " features, scaler has ", p->in_dim()));
  }
  return p;
}

}  // namespace mliot
