// Grid search: the cartesian product of a few values per tunable parameter.
//
// Axes: a numeric parameter gets `options.grid_points` values evenly spaced
// over [min, max] (log-spaced when log_scale; integers rounded and
// de-duplicated; grid_points <= 1 keeps just the default); a choice parameter
// gets every choice. Non-tunable parameters stay at their defaults.
//
// Order: the declared defaults first, then grid points in lexicographic order
// (the first declared parameter varies slowest). When the grid has more points
// than `options.max_trials` can cover, a shuffle seeded by `options.seed`
// picks a spread, deterministic subset instead. The same settings (by
// Params::ToString()) are never proposed twice; Next() returns nullopt after
// max_trials proposals or when the grid is exhausted. Scores are not used.
//
// Thread-safety: none; the caller serialises calls.
#ifndef MLIOT_ML_HPO_GRID_H_
#define MLIOT_ML_HPO_GRID_H_

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ml/hpo/strategy.h"
#include "ml/params.h"

namespace mliot {

class GridSearch final : public SearchStrategy {
 public:
  GridSearch(std::vector<ParamSpec> specs, const SearchOptions& options);

  std::optional<Params> Next() override;
  void Report(const Params& /*params*/, double /*score*/) override {}

  // Number of points in the full grid (excluding the defaults unless they lie
  // on it); saturates at UINT64_MAX.
  uint64_t GridSize() const { return size_; }

 private:
  Params PointAt(uint64_t index) const;
  // The grid index to try next, or nullopt when none is left.
  std::optional<uint64_t> NextIndex();

  std::vector<ParamSpec> specs_;
  SearchOptions options_;
  std::vector<std::pair<std::string, std::vector<ParamValue>>> axes_;  // tunable name, values
  uint64_t size_ = 1;
  // Visiting order: in order (order_ empty, sampled_ false), a precomputed
  // shuffle (order_), or, for huge grids, distinct random indices (sampled_).
  std::vector<uint64_t> order_;
  bool sampled_ = false;
  uint64_t cursor_ = 0;
  std::unordered_set<uint64_t> sampled_indices_;
  std::mt19937_64 rng_;
  int proposed_ = 0;
  std::unordered_set<std::string> seen_;
};

}  // namespace mliot

#endif  // MLIOT_ML_HPO_GRID_H_
