// Evaluation of a Servable on labelled data (feature rows or raw
// recordings), shared by `eval` and the benchmarks.
#ifndef MLIOT_SERVE_EVALUATE_H_
#define MLIOT_SERVE_EVALUATE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "features/raw_source.h"
#include "nlohmann/json.hpp"
#include "serve/servable.h"

namespace mliot {

struct Evaluation {
  int64_t n = 0;
  double accuracy = 0;
  double p50_ms = 0;  // single-row Predict, the full serving path
  double p99_ms = 0;
  double throughput_rows_per_s = 0;  // PredictBatch in batches of 256
  int64_t version = 0;
  int64_t stage1_answers = 0;
  int64_t unknown_labels = 0;  // labels the bundle has no class for (counted wrong)
};

// `data` labels are matched to the bundle's classes by name. Errors: the
// feature count differs from the bundle's.
absl::StatusOr<Evaluation> Evaluate(const Servable& servable, Dataset data);

// Raw data through the full serving path: every row is one raw window
// (audio at its recorded rate, or an aligned sensor window) that the
// servable featurizes and predicts, so latency includes featurization.
// Errors: the bundle has no featurizer, or a window does not fit it.
absl::StatusOr<Evaluation> EvaluateRaw(const Servable& servable, RawDataset raw);

nlohmann::json EvaluationJson(const Evaluation& e);

}  // namespace mliot

#endif  // MLIOT_SERVE_EVALUATE_H_
