// bench engine: the Fashion-MNIST case end to end (train under a budget,
// then evaluate the bundle on the test set: accuracy, single-row latency,
// throughput, peak RSS), with the scikit-learn ensemble peer
// (bench/peers/sklearn_peer.py) on the same data in the same run.
#ifndef MLIOT_BENCH_ENGINE_BENCH_H_
#define MLIOT_BENCH_ENGINE_BENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct EngineBenchOptions {
  std::string train = "fashion-mnist:train:10000";
  std::string test = "fashion-mnist:test";
  std::string label = "label";  // CSV data
  double budget_s = 120;
  std::string out;  // bundle directory (default: a temporary one)
  bool peer = true;
  std::string source_dir;  // where bench/peers/ is (default: looked up)
  int repeat = 1;
};

// `make bench-quick`: 2,000 training rows, 1,000 test rows, a 10 s budget.
void MakeQuick(EngineBenchOptions& options);

// {case, train, test, budget_s, train_elapsed_s, val_accuracy, accuracy,
//  latency_ms: {p50, p99}, throughput_rows_per_s, peak_rss_mib, members,
//  reduce, version, peer: {...} (or peer_error), machine, range, repeats}.
absl::StatusOr<nlohmann::json> RunEngineBench(const EngineBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_ENGINE_BENCH_H_
