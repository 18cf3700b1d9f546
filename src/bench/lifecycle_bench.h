// bench lifecycle: the model lifecycle's targets (issue 21) on a real
// coordinator and node (child processes of this binary) with a Fashion-MNIST
// task (`versions: {keep: K, promote: guarded}`):
//
//   guarded    1,000 feedback rows with permuted labels (y -> y+1 mod 10):
//              is the version retired, never served, accuracy held? Then
//              1,000 correct rows: seconds from the feedback call to the
//              version's promotion
//   rollback   under a closed-loop single-row predict load: failed requests,
//              and ms from the rollback command to the first answer by the
//              copy, as the client sees it (and as the coordinator reports)
//   retention  N adaptations, each promoted: versions left on the node and
//              at the coordinator, and the bytes of the whole data directory
//
//   {"guarded": {...}, "rollback": {...}, "retention": {...}, "machine": {...}}
#ifndef MLIOT_BENCH_LIFECYCLE_BENCH_H_
#define MLIOT_BENCH_LIFECYCLE_BENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct LifecycleBenchOptions {
  int train_rows = 4000;
  double budget_s = 30;
  int feedback_rows = 1000;
  int rollbacks = 5;
  int adaptations = 20;
  int keep = 3;
  std::string work_dir;  // default: a temporary directory
};

void MakeQuick(LifecycleBenchOptions& o);

absl::StatusOr<nlohmann::json> RunLifecycleBench(const LifecycleBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_LIFECYCLE_BENCH_H_
