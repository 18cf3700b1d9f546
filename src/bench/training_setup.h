// What the data path's training benchmarks (cache, stream-train,
// data-parallel) share: the model they train and how they load and measure.
#ifndef MLIOT_BENCH_TRAINING_SETUP_H_
#define MLIOT_BENCH_TRAINING_SETUP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "nlohmann/json.hpp"
#include "stream/sgd_model.h"
#include "stream/stream_trainer.h"
#include "stream/tiered_cache.h"

namespace mliot::bench {

// The model a training benchmark trains (--model, --hidden, ...).
struct SgdBenchModel {
  std::string model = "mlp";  // mlp | cnn
  std::string test = "fashion-mnist:test";
  int hidden = 256;
  int batch = 64;
  double learning_rate = 1e-3;
  int threads = 1;
  uint64_t seed = 1;

  absl::StatusOr<std::unique_ptr<stream::SgdModel>> Make(const Dataset& data) const;
  // The trainer options every training benchmark starts from.
  stream::StreamTrainOptions TrainOptions(const Dataset& train, int epochs) const;
};

// `spec` loaded for evaluation, its labels mapped onto `train`'s classes;
// an error when its width differs.
absl::StatusOr<Dataset> LoadTestLike(const std::string& spec, const Dataset& train);

// Loads `data` and `model.test` (LoadTestLike), then runs `once` on them
// `repeat` times (RunRepeated: medians, ranges, machine facts).
absl::StatusOr<nlohmann::json> RunOnTrainAndTest(
    const std::string& data, const SgdBenchModel& model, int repeat,
    const std::function<absl::StatusOr<nlohmann::json>(const Dataset& train, const Dataset& test)>&
        once);

// Bytes of one serialized sample of `data` (row 0).
int64_t SampleBytes(const Dataset& data);

// {requests, substituted, ram: {hits, misses, bytes, read_us_per_hit}, disk, archive}.
nlohmann::json CacheJson(const stream::CacheStats& stats);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_TRAINING_SETUP_H_
