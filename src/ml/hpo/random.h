// Random search: independent uniform points of the unit hypercube.
//
// The declared defaults first, then points drawn uniformly from [0, 1]^d
// (d = number of tunable parameters) and mapped with DecodeUnit, so
// log-scale parameters are sampled log-uniformly and choices uniformly. The
// sequence is a function of `options.seed`. The same settings (by
// Params::ToString()) are never proposed twice; Next() returns nullopt after
// `options.max_trials` proposals, or when repeated draws find nothing new (a
// small discrete space is used up). Scores are not used.
//
// Thread-safety: none; the caller serialises calls.
#ifndef MLIOT_ML_HPO_RANDOM_H_
#define MLIOT_ML_HPO_RANDOM_H_

#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <vector>

#include "ml/hpo/strategy.h"
#include "ml/params.h"

namespace mliot {

class RandomSearch final : public SearchStrategy {
 public:
  RandomSearch(std::vector<ParamSpec> specs, const SearchOptions& options);

  std::optional<Params> Next() override;
  void Report(const Params& /*params*/, double /*score*/) override {}

 private:
  std::vector<ParamSpec> specs_;
  SearchOptions options_;
  size_t dims_;
  std::mt19937_64 rng_;
  int proposed_ = 0;
  std::unordered_set<std::string> seen_;
};

}  // namespace mliot

#endif  // MLIOT_ML_HPO_RANDOM_H_
