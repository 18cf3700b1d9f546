// Device benchmark (paper §4.1.1): what a node measures about itself when
// it joins, so the coordinator can predict a task's latency and training
// time there.
//
// On synthetic data (no files needed): a small cnn on 28x28 images and an
// xgboost + knn pair on a 20-feature table are fitted; the median
// single-row latency of each is timed; training speed is the time of a
// fixed fit relative to the reference machine (the 2-core development box,
// where `quick` takes ~1.5 s). `quick` uses small sizes (tests, emulated
// nodes); `full` four times more rows, more timing repetitions, and times
// every model kind (`kind_predict_ms`). Either way the benchmark paces
// itself to ~10 % of the machine's CPU (sleeping between steps), so a node
// joining beside running tasks barely disturbs them; `cpu_share` reports
// what it used.
#ifndef MLIOT_NODE_BENCHMARK_H_
#define MLIOT_NODE_BENCHMARK_H_

#include <string>

#include "absl/status/statusor.h"
#include "mliot/v1/node.pb.h"

namespace mliot {

absl::StatusOr<v1::NodeBenchmark> RunDeviceBenchmark(const std::string& mode);  // quick | full

}  // namespace mliot

#endif  // MLIOT_NODE_BENCHMARK_H_
