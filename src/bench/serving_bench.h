// `mliot bench serving`: one task (Fashion-MNIST, a fixed small ensemble of
// logistic regressions) on a real coordinator and node, closed-loop
// clients at several concurrencies over the node's v2 REST, v2 gRPC and
// mliot's own gRPC (straight to the serving worker), and the peer: a Flask
// server wrapping scikit-learn's LogisticRegression on the same rows
// (bench/peers/serving_peer.py).
//
//   {rows: [{protocol, concurrency, requests_per_s, p50_ms, p99_ms, cpu_s_per_1k}], peer: [...]}
//
// cpu_s_per_1k: CPU seconds the server side spent per 1,000 requests (the
// node agent, which runs the front end, and the serving worker; the peer's
// one process).
#ifndef MLIOT_BENCH_SERVING_BENCH_H_
#define MLIOT_BENCH_SERVING_BENCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct ServingBenchOptions {
  int train_rows = 2000;
  double budget_s = 10;
  std::vector<int> concurrency = {1, 4, 16};
  double seconds = 3;  // per cell
  int repeats = 3;     // interleaved rounds; the report has the median and range
  bool peer = true;
  std::string work_dir;
};

void MakeQuick(ServingBenchOptions& o);

absl::StatusOr<nlohmann::json> RunServingBench(const ServingBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_SERVING_BENCH_H_
