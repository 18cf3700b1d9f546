// bench iot: the paper's Table 4 on real IoT data, with peers on the same
// features in the same run.
//
//   dcase2016-task2  office sound events (audio); split by clip: of each
//                    class's clips in name order, every fourth (the 4th,
//                    8th, ...) is a test clip, the rest train (165 / 55)
//   sp-sw-har        phone + watch inertial recordings (sensors); split by
//                    subject: s01-s16 train, s17-s23 test
//
// Systems: `mliot` (default selection policy), `mliot lowest_latency(3)`,
// `sklearn <kind>` for each default scikit-learn model, `pytorch cnn` (a
// small CNN, same budget), and on sp-sw-har `mliot phone only` and `mliot
// watch only` (`mliot` uses both devices). Peers get the features mliot
// computed (the same rows); their latency is the model's alone, mliot's
// includes featurizing the raw window.
#ifndef MLIOT_BENCH_IOT_BENCH_H_
#define MLIOT_BENCH_IOT_BENCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct IotBenchOptions {
  std::string data_dir = "../shared/data";  // holds dcase2016-task2/ and sp-sw-har/
  std::vector<std::string> datasets = {"dcase2016-task2", "sp-sw-har"};
  double budget_s = 60;
  bool peer = true;
  bool two_stage = true;   // DCASE + room noise as `background`, a mostly-background stream
  std::string source_dir;  // where bench/peers/ is
  std::string work_dir;    // splits, bundles and feature files (default: temporary)
  int repeat = 1;
};

// `make bench-quick`: DCASE only, an 8 s budget, no two-stage stream.
void MakeQuick(IotBenchOptions& options);

// {rows: [{dataset, system, accuracy, latency_ms_p50, train_s}], two_stage:
// {windows, background_windows, stage1_answers, background_answered_by_stage1,
// stage1_ms_p50, stage2_ms_p50, mean_ms, stage2_only_mean_ms, accuracy},
// peer_errors, machine, and with repeats range, repeats}. NotFound when data_dir lacks the data sets.
absl::StatusOr<nlohmann::json> RunIotBench(const IotBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_IOT_BENCH_H_
