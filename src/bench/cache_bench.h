// bench cache: importance-aware caching. Trains on a data set held in a
// tiered cache (RAM at `capacity` of the data, then disk, then archive) with
// a cache policy (lru, shade, icache) and reports the RAM hit ratio and the
// accuracy, next to the same training sampling uniformly from RAM.
#ifndef MLIOT_BENCH_CACHE_BENCH_H_
#define MLIOT_BENCH_CACHE_BENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "bench/training_setup.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct CacheBenchOptions {
  std::string policy = "shade";  // lru | shade | icache
  double capacity = 0.1;         // RAM tier, a fraction of the data
  std::string data = "fashion-mnist:train:20000";
  int epochs = 5;
  std::string sampler;  // uniform | importance; default: uniform for lru, else importance
  double disk_capacity = 0.3;
  SgdBenchModel model;
  int repeat = 1;
};

// `make bench-quick`: 2,000 rows, 2 epochs, 1,000 test rows.
void MakeQuick(CacheBenchOptions& options);

// {policy, capacity, hit_ratio, accuracy, epoch_s, sampler, accuracy_uniform,
//  model, samples, epochs, cache: {...}, machine, and with --repeat range, repeats}.
absl::StatusOr<nlohmann::json> RunCacheBench(const CacheBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_CACHE_BENCH_H_
