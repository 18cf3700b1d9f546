#include "ml/hpo/random.h"

#include <utility>

namespace mliot {
namespace {

// Draws per Next() before concluding that the space holds nothing new.
constexpr int kMaxAttempts = 1000;

}  // namespace

RandomSearch::RandomSearch(std::vector<ParamSpec> specs, const SearchOptions& options)
    : specs_(std::move(specs)),
      options_(options),
      dims_(TunableSpecs(specs_).size()),
      rng_(options.seed) {}

std::optional<Params> RandomSearch::Next() {
  if (proposed_ >= options_.max_trials) return std::nullopt;
  std::optional<Params> proposal;
  if (proposed_ == 0) {
    proposal = Params::Defaults(specs_);
  } else {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<double> unit(dims_);
    for (int attempt = 0; attempt < kMaxAttempts && !proposal && dims_ > 0; ++attempt) {
      for (double& u : unit) u = uniform(rng_);
      Params p = DecodeUnit(specs_, unit);
      if (seen_.count(p.ToString()) == 0) proposal = std::move(p);
    }
    if (!proposal) return std::nullopt;
  }
  seen_.insert(proposal->ToString());
  ++proposed_;
  return proposal;
}

}  // namespace mliot
