// Bayesian optimisation: a Gaussian process over the unit hypercube with
// Expected Improvement.
//
// Proposals, in order:
//   1. the declared defaults;
//   2. points near the defaults (Gaussian steps of 0.08 in the unit cube)
//      until max(3, d + 1) proposals were made (d = number of tunable
//      parameters), and whenever fewer than two scores have been reported:
//      the defaults are good settings, and with a few trials per kind a
//      random corner of the space (a huge network) costs a whole trial;
//   3. the maximiser of Expected Improvement under a Gaussian process fitted
//      to the reported scores (Matérn 5/2 kernel on EncodeUnit coordinates,
//      scores standardised, length scale and noise chosen by log marginal
//      likelihood over a small grid), searched over random candidates plus
//      Gaussian perturbations of the best point so far.
// Proposals not yet reported (trials running in parallel) enter the fit as
// "constant liars" observed at the mean score, so a batch of Next() calls
// spreads out instead of piling onto one point. The same settings (by
// Params::ToString()) are never proposed twice; Next() returns nullopt after
// `options.max_trials` proposals, or when nothing new can be found. The
// sequence is a function of `options.seed` and the reported scores.
//
// Report() accepts settings returned by Next() (others are still used as
// observations). A non-finite score (a failed trial) counts as the worst
// finite score seen.
//
// Thread-safety: none; the caller serialises calls.
#ifndef MLIOT_ML_HPO_BAYES_H_
#define MLIOT_ML_HPO_BAYES_H_

#include <map>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "ml/hpo/strategy.h"
#include "ml/params.h"

namespace mliot {

class BayesianSearch final : public SearchStrategy {
 public:
  BayesianSearch(std::vector<ParamSpec> specs, const SearchOptions& options);

  std::optional<Params> Next() override;
  void Report(const Params& params, double score) override;

 private:
  std::vector<double> RandomUnit();
  std::optional<Params> RandomProposal();
  std::optional<Params> InitialProposal();
  std::optional<Params> ModelProposal();
  // Marks `params` as proposed and pending; returns it.
  Params Propose(Params params);

  std::vector<ParamSpec> specs_;
  SearchOptions options_;
  size_t dims_;
  int initial_;  // proposals made before the model is used
  std::mt19937_64 rng_;
  int proposed_ = 0;
  std::unordered_set<std::string> seen_;
  std::map<std::string, std::vector<double>> pending_;  // by ToString(): unit point
  std::vector<std::vector<double>> observed_x_;         // unit points
  std::vector<double> observed_y_;                      // raw scores, may be non-finite
};

}  // namespace mliot

#endif  // MLIOT_ML_HPO_BAYES_H_
