#include "ml/hpo/bayes.h"

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <numbers>
#include <numeric>
#include <utility>

#include "Eigen/Cholesky"
#include "Eigen/Core"

namespace mliot {
namespace {

constexpr int kRandomCandidates = 2000;
constexpr int kLocalCandidates = 500;
constexpr double kLocalSigmas[] = {0.005, 0.02, 0.08};  // perturbation scales, unit-cube units
constexpr int kMaxRandomAttempts = 1000;
// Hyper-parameter grid for the GP, on standardised scores (unit signal variance).
constexpr double kLengthScales[] = {0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.5};
constexpr double kNoiseVariances[] = {1e-6, 1e-4, 1e-3};
// Improvement margin (in standard deviations of the scores) that EI asks for.
constexpr double kExplorationMargin = 0.01;

// Matérn 5/2 covariance between the rows of `a` and the rows of `b`.
Eigen::MatrixXd Matern52(const Eigen::MatrixXd& a, const Eigen::MatrixXd& b, double length) {
  Eigen::MatrixXd k(a.rows(), b.rows());
  for (Eigen::Index i = 0; i < a.rows(); ++i) {
    for (Eigen::Index j = 0; j < b.rows(); ++j) {
      const double s = std::sqrt(5.0) * (a.row(i) - b.row(j)).norm() / length;
      k(i, j) = (1.0 + s + s * s / 3.0) * std::exp(-s);
    }
  }
  return k;
}

// Zero-mean GP regression with unit signal variance on standardised targets.
class GaussianProcess {
 public:
  // Picks length scale and noise from the grid by log marginal likelihood.
  // Returns false if no setting gave a positive-definite covariance.
  bool Fit(const Eigen::MatrixXd& x, const Eigen::VectorXd& y) {
    x_ = x;
    double best_lml = -std::numeric_limits<double>::infinity();
    for (double length : kLengthScales) {
      for (double noise : kNoiseVariances) {
        Eigen::MatrixXd k = Matern52(x, x, length);
        k.diagonal().array() += noise;
        Eigen::LLT<Eigen::MatrixXd> llt(k);
        if (llt.info() != Eigen::Success) continue;
        Eigen::VectorXd alpha = llt.solve(y);
        // log p(y) up to a constant: -y'K^-1y/2 - log|K|/2.
        const double lml = -0.5 * y.dot(alpha) - llt.matrixLLT().diagonal().array().log().sum();
        if (std::isfinite(lml) && lml > best_lml) {
          best_lml = lml;
          length_ = length;
          llt_ = std::move(llt);
          alpha_ = std::move(alpha);
        }
      }
    }
    return std::isfinite(best_lml);
  }

  // Posterior mean and standard deviation of the latent function at the rows of `xs`.
  void Predict(const Eigen::MatrixXd& xs, Eigen::VectorXd* mean, Eigen::VectorXd* sd) const {
    const Eigen::MatrixXd ks = Matern52(x_, xs, length_);  // n x m
    *mean = ks.transpose() * alpha_;
    const Eigen::MatrixXd v = llt_.matrixL().solve(ks);
    *sd = (1.0 - v.colwise().squaredNorm().array()).max(1e-12).sqrt().matrix().transpose();
  }

 private:
  Eigen::MatrixXd x_;
  double length_ = 1.0;
  Eigen::LLT<Eigen::MatrixXd> llt_;
  Eigen::VectorXd alpha_;
};

// Expected amount by which N(mean, sd^2) exceeds `best + margin`.
double ExpectedImprovement(double mean, double sd, double best) {
  const double gain = mean - best - kExplorationMargin;
  const double z = gain / sd;
  const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
  const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2.0 * std::numbers::pi);
  return gain * cdf + sd * pdf;
}

Eigen::MatrixXd ToMatrix(const std::vector<std::vector<double>>& rows, size_t dims) {
  Eigen::MatrixXd m(rows.size(), dims);
  for (size_t i = 0; i < rows.size(); ++i) {
    for (size_t j = 0; j < dims; ++j) m(i, j) = rows[i][j];
  }
  return m;
}

}  // namespace

BayesianSearch::BayesianSearch(std::vector<ParamSpec> specs, const SearchOptions& options)
    : specs_(std::move(specs)),
      options_(options),
      dims_(TunableSpecs(specs_).size()),
      initial_(std::max<int>(3, static_cast<int>(dims_) + 1)),
      rng_(options.seed) {}

std::optional<Params> BayesianSearch::Next() {
  if (proposed_ >= options_.max_trials) return std::nullopt;
  if (proposed_ == 0) return Propose(Params::Defaults(specs_));
  if (dims_ == 0) return std::nullopt;  // the defaults were the only setting
  if (proposed_ >= initial_ && observed_y_.size() >= 2) {
    if (std::optional<Params> p = ModelProposal()) return p;
  }
  return InitialProposal();
}

std::optional<Params> BayesianSearch::InitialProposal() {
  // The initial design stays near the declared defaults, which are good
  // settings: with a small budget a random corner of the space (a huge
  // network, a tiny learning rate) costs a whole trial and teaches little.
  std::normal_distribution<double> step(0.0, 0.08);
  const std::vector<double> center = EncodeUnit(specs_, Params::Defaults(specs_));
  for (int attempt = 0; attempt < kMaxRandomAttempts; ++attempt) {
    std::vector<double> unit = center;
    for (double& u : unit) u = std::clamp(u + step(rng_), 0.0, 1.0);
    Params p = DecodeUnit(specs_, unit);
    if (seen_.count(p.ToString()) == 0) return Propose(std::move(p));
  }
  return RandomProposal();
}

void BayesianSearch::Report(const Params& params, double score) {
  const std::string key = params.ToString();
  auto it = pending_.find(key);
  if (it != pending_.end()) {
    observed_x_.push_back(std::move(it->second));
    pending_.erase(it);
  } else {
    observed_x_.push_back(EncodeUnit(specs_, params));
    seen_.insert(key);  // evaluated elsewhere; not worth proposing again
  }
  observed_y_.push_back(score);
}

Params BayesianSearch::Propose(Params params) {
  const std::string key = params.ToString();
  seen_.insert(key);
  pending_[key] = EncodeUnit(specs_, params);
  ++proposed_;
  return params;
}

std::vector<double> BayesianSearch::RandomUnit() {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> unit(dims_);
  for (double& u : unit) u = uniform(rng_);
  return unit;
}

std::optional<Params> BayesianSearch::RandomProposal() {
  for (int attempt = 0; attempt < kMaxRandomAttempts; ++attempt) {
    Params p = DecodeUnit(specs_, RandomUnit());
    if (seen_.count(p.ToString()) == 0) return Propose(std::move(p));
  }
  return std::nullopt;
}

std::optional<Params> BayesianSearch::ModelProposal() {
  // Standardise the reported scores; failed trials count as the worst one.
  std::vector<double> y = observed_y_;
  double worst = std::numeric_limits<double>::infinity();
  for (double v : y) {
    if (std::isfinite(v)) worst = std::min(worst, v);
  }
  if (!std::isfinite(worst)) return std::nullopt;
  for (double& v : y) {
    if (!std::isfinite(v)) v = worst;
  }
  const double mean = std::accumulate(y.begin(), y.end(), 0.0) / y.size();
  double var = 0;
  for (double v : y) var += (v - mean) * (v - mean);
  const double sd = std::sqrt(var / y.size());
  const double scale = sd > 1e-12 ? sd : 1.0;

  // Training set: observations, then pending proposals as liars at the mean (0).
  std::vector<std::vector<double>> rows = observed_x_;
  Eigen::VectorXd targets = Eigen::VectorXd::Zero(observed_x_.size() + pending_.size());
  size_t best_index = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    targets(i) = (y[i] - mean) / scale;
    if (y[i] > y[best_index]) best_index = i;
  }
  for (const auto& entry : pending_) rows.push_back(entry.second);
  GaussianProcess gp;
  if (!gp.Fit(ToMatrix(rows, dims_), targets)) return std::nullopt;
  const double best = targets(best_index);

  // Candidates, snapped to the settings they decode to (ints, choices) so EI is
  // judged where the trial would actually run.
  std::vector<Params> candidates;
  std::vector<std::vector<double>> points;
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int c = 0; c < kRandomCandidates + kLocalCandidates; ++c) {
    std::vector<double> unit;
    if (c < kRandomCandidates) {
      unit = RandomUnit();
    } else {
      unit = observed_x_[best_index];
      const double sigma = kLocalSigmas[c % std::size(kLocalSigmas)];
      for (double& u : unit) u = std::clamp(u + sigma * normal(rng_), 0.0, 1.0);
    }
    Params p = DecodeUnit(specs_, unit);
    if (seen_.count(p.ToString()) > 0) continue;
    points.push_back(EncodeUnit(specs_, p));
    candidates.push_back(std::move(p));
  }
  if (candidates.empty()) return std::nullopt;

  Eigen::VectorXd mu, sigma;
  gp.Predict(ToMatrix(points, dims_), &mu, &sigma);
  size_t chosen = 0;
  double chosen_ei = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < candidates.size(); ++i) {
    const double ei = ExpectedImprovement(mu(i), sigma(i), best);
    if (ei > chosen_ei) {
      chosen_ei = ei;
      chosen = i;
    }
  }
  return Propose(std::move(candidates[chosen]));
}

}  // namespace mliot
