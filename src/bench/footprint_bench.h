// bench footprint: what each mliot process costs to start and to keep.
//
// For every role — the CLI (`--help`, and `nodes` against a running
// coordinator), the coordinator, a node agent, `mliot up` (coordinator and
// node in one process, idle), a serving worker of a task with and without a
// neural member, and a training worker — it starts the process `repeat`
// times and reports medians with [min, max]:
//   rss_mib    resident memory once ready (CLI: its peak, from wait4; train
//              worker: its peak over the whole training)
//   start_ms   start to ready: the CLI to exit; servers to accepting on their
//              port; `up` to having registered its node; a serving worker to
//              writing its address; a training worker to its first status
//   libraries  shared objects it maps once ready (CLI: what the dynamic
//              loader loads for it, LD_TRACE_LOADED_OBJECTS)
//
//   {"roles": [{"role", "rss_mib", "start_ms", "libraries", "range": {...}}], "machine": {...}}
#ifndef MLIOT_BENCH_FOOTPRINT_BENCH_H_
#define MLIOT_BENCH_FOOTPRINT_BENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct FootprintBenchOptions {
  int repeat = 5;
  double train_budget_s = 6;  // the training worker's budget (digits ensemble)
  int image_rows = 2000;      // synthetic 28x28 rows of the cnn task
  std::string work_dir;       // default: a temporary directory
  std::string binary;         // the mliot to measure (default: this one), e.g. an older build
};

void MakeQuick(FootprintBenchOptions& o);

absl::StatusOr<nlohmann::json> RunFootprintBench(const FootprintBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_FOOTPRINT_BENCH_H_
