#include "ml/hpo/strategy.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ml/hpo/bayes.h"
#include "ml/hpo/grid.h"
#include "ml/hpo/random.h"

namespace mliot {

absl::Status StrategyRegistry::Register(std::string name, StrategyFactory factory) {
  if (name.empty()) return absl::InvalidArgumentError("HPO strategy name is empty");
  if (!factory) {
    return absl::InvalidArgumentError(absl::StrCat("HPO strategy '", name, "': empty factory"));
  }
  for (const auto& entry : strategies_) {
    if (entry.first == name) {
      return absl::AlreadyExistsError(
          absl::StrCat("HPO strategy '", name, "' is already registered"));
    }
  }
  strategies_.emplace_back(std::move(name), std::move(factory));
  return absl::OkStatus();
}

absl::StatusOr<StrategyFactory> StrategyRegistry::Find(absl::string_view name) const {
  for (const auto& entry : strategies_) {
    if (entry.first == name) return entry.second;
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown HPO strategy '", name, "'; valid strategies: ", absl::StrJoin(Names(), ", ")));
}

std::vector<std::string> StrategyRegistry::Names() const {
  std::vector<std::string> names;
  names.reserve(strategies_.size());
  for (const auto& entry : strategies_) names.push_back(entry.first);
  return names;
}

void RegisterBuiltinStrategies(StrategyRegistry& registry) {
  // A name that is already registered keeps its factory (AlreadyExists is ignored),
  // so calling this twice is harmless.
  registry
      .Register("grid",
                [](const std::vector<ParamSpec>& specs, const SearchOptions& options) {
                  return std::make_unique<GridSearch>(specs, options);
                })
      .IgnoreError();
  registry
      .Register("random",
                [](const std::vector<ParamSpec>& specs, const SearchOptions& options) {
                  return std::make_unique<RandomSearch>(specs, options);
                })
      .IgnoreError();
  registry
      .Register("bayes",
                [](const std::vector<ParamSpec>& specs, const SearchOptions& options) {
                  return std::make_unique<BayesianSearch>(specs, options);
                })
      .IgnoreError();
}

const StrategyRegistry& BuiltinStrategies() {
  // Built on first use (thread-safe static initialisation), read-only afterwards.
  static const StrategyRegistry registry = [] {
    StrategyRegistry r;
    RegisterBuiltinStrategies(r);
    return r;
  }();
  return registry;
}

}  // namespace mliot
