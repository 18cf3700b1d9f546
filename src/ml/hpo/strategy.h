// Hyper-parameter search strategies: grid, random and bayes.
//
// A SearchStrategy proposes settings for one model kind (from its declared
// ParamSpecs) and learns from the validation score of each. The trainer's
// scheduler owns one strategy per kind and drives it:
//
//   auto strategy = (*BuiltinStrategies().Find("bayes"))(kind.params, options);
//   while (auto params = strategy->Next()) {
//     strategy->Report(*params, Evaluate(*params));   // higher is better
//   }
//
// Every strategy proposes the declared defaults first, so a kind always has
// a sensible model after one trial. Next() may be called again before the
// previous proposal was reported (trials run in parallel); strategies must
// not propose the same settings twice.
//
// Thread-safety: none; the caller serialises calls.
#ifndef MLIOT_ML_HPO_STRATEGY_H_
#define MLIOT_ML_HPO_STRATEGY_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "ml/params.h"

namespace mliot {

struct SearchOptions {
  int max_trials = 20;   // Next() returns nullopt after this many proposals
  uint64_t seed = 0;
  int grid_points = 3;   // grid: values per numeric parameter
};

class SearchStrategy {
 public:
  virtual ~SearchStrategy() = default;
  // The next settings to try; nullopt when the strategy is exhausted.
  virtual std::optional<Params> Next() = 0;
  // The score (higher is better) of settings previously returned by Next().
  virtual void Report(const Params& params, double score) = 0;
};

using StrategyFactory = std::function<std::unique_ptr<SearchStrategy>(
    const std::vector<ParamSpec>& specs, const SearchOptions& options)>;

// Strategies by name; unknown names answer with the valid ones.
class StrategyRegistry {
 public:
  absl::Status Register(std::string name, StrategyFactory factory);
  absl::StatusOr<StrategyFactory> Find(absl::string_view name) const;
  std::vector<std::string> Names() const;

 private:
  std::vector<std::pair<std::string, StrategyFactory>> strategies_;
};

// Registers "grid", "random" and "bayes".
void RegisterBuiltinStrategies(StrategyRegistry& registry);
const StrategyRegistry& BuiltinStrategies();

}  // namespace mliot

#endif  // MLIOT_ML_HPO_STRATEGY_H_
