#include "ml/hpo/grid.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace mliot {
namespace {

// Grids up to this many points are shuffled as a whole; larger ones are sampled.
constexpr uint64_t kMaxShuffledGrid = uint64_t{1} << 20;
constexpr int kMaxSampleAttempts = 1000;

std::vector<ParamValue> AxisValues(const ParamSpec& spec, int grid_points) {
  std::vector<ParamValue> values;
  if (spec.type == ParamType::kChoice) {
    for (const std::string& c : spec.choices) values.emplace_back(c);
    return values;
  }
  if (grid_points <= 1 || !(spec.max > spec.min)) return {spec.default_value};
  for (int i = 0; i < grid_points; ++i) {
    const double u = static_cast<double>(i) / (grid_points - 1);
    double v = spec.log_scale
                   ? std::exp(std::log(spec.min) + u * (std::log(spec.max) - std::log(spec.min)))
                   : spec.min + u * (spec.max - spec.min);
    if (i == 0) v = spec.min;  // exact endpoints, no exp/log round-off
    if (i == grid_points - 1) v = spec.max;
    ParamValue value = v;
    if (spec.type == ParamType::kInt) {
      value = static_cast<int64_t>(
          std::min(std::max(std::round(v), std::ceil(spec.min)), std::floor(spec.max)));
    }
    if (std::find(values.begin(), values.end(), value) == values.end()) values.push_back(value);
  }
  return values;
}

}  // namespace

GridSearch::GridSearch(std::vector<ParamSpec> specs, const SearchOptions& options)
    : specs_(std::move(specs)), options_(options), rng_(options.seed) {
  for (const ParamSpec* spec : TunableSpecs(specs_)) {
    axes_.emplace_back(spec->name, AxisValues(*spec, options_.grid_points));
  }
  for (const auto& axis : axes_) {
    const uint64_t n = axis.second.size();
    if (n == 0) {
      size_ = 0;
      break;
    }
    size_ = size_ > std::numeric_limits<uint64_t>::max() / n ? std::numeric_limits<uint64_t>::max()
                                                             : size_ * n;
  }
  // One slot goes to the defaults; if they lie on the grid, the slot is not lost
  // because a permutation of the whole grid still reaches every point.
  const uint64_t budget = static_cast<uint64_t>(std::max(options_.max_trials, 0));
  if (size_ < budget) return;  // everything fits: lexicographic order
  if (size_ <= kMaxShuffledGrid) {
    order_.resize(size_);
    std::iota(order_.begin(), order_.end(), uint64_t{0});
    std::shuffle(order_.begin(), order_.end(), rng_);
  } else {
    sampled_ = true;
  }
}

Params GridSearch::PointAt(uint64_t index) const {
  Params p = Params::Defaults(specs_);
  // Mixed radix, last axis fastest.
  for (size_t d = axes_.size(); d-- > 0;) {
    const std::vector<ParamValue>& values = axes_[d].second;
    p.Set(axes_[d].first, values[index % values.size()]);
    index /= values.size();
  }
  return p;
}

std::optional<uint64_t> GridSearch::NextIndex() {
  if (sampled_) {
    std::uniform_int_distribution<uint64_t> pick(0, size_ - 1);
    for (int attempt = 0; attempt < kMaxSampleAttempts; ++attempt) {
      const uint64_t index = pick(rng_);
      if (sampled_indices_.insert(index).second) return index;
    }
    return std::nullopt;
  }
  if (cursor_ >= size_) return std::nullopt;
  const uint64_t at = cursor_++;
  return order_.empty() ? at : order_[at];
}

std::optional<Params> GridSearch::Next() {
  if (proposed_ >= options_.max_trials) return std::nullopt;
  std::optional<Params> proposal;
  if (proposed_ == 0) {
    proposal = Params::Defaults(specs_);
  } else {
    while (!proposal) {
      const std::optional<uint64_t> index = NextIndex();
      if (!index) return std::nullopt;
      Params p = PointAt(*index);
      if (seen_.count(p.ToString()) == 0) proposal = std::move(p);
    }
  }
  seen_.insert(proposal->ToString());
  ++proposed_;
  return proposal;
}

}  // namespace mliot
