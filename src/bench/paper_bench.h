// bench paper: the MLIoT paper's evaluation (§6), experiment by experiment.
// Each experiment runs alone, states the paper's claims and whether they
// held here, writes its data (DIR/NAME.json) and draws its figure
// (DIR/NAME.png, bench/plot_paper.py with matplotlib):
//
//   {experiment, claims: [{claim, paper, mliot, held}], figure, elapsed_s, ...}
//
// The experiments are in bench/paper/ (one file each, listed in
// bench/paper/experiment.h); docs/PAPER.md has every figure.
#ifndef MLIOT_BENCH_PAPER_BENCH_H_
#define MLIOT_BENCH_PAPER_BENCH_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct PaperBenchOptions {
  std::string experiment;                   // a name of PaperExperiments(), or "all"
  std::string out_dir = "paper-out";        // NAME.json and NAME.png go here
  std::string data_dir = "../shared/data";  // dcase2016-task2/, sp-sw-har/
  std::string work_dir;                     // splits (default: temporary)
  std::string source_dir;                   // where bench/plot_paper.py is (default: looked up)
  bool quick = false;                       // small data, seconds: image only (CI)
  bool plot = true;
};

// The experiments `bench paper` knows, in the paper's order.
std::vector<std::string> PaperExperiments();

// One experiment's report (above); with "all", {experiments: [reports]}.
// The figure's path is empty and `figure_error` says why when matplotlib is
// missing (the JSON is written either way).
absl::StatusOr<nlohmann::json> RunPaperBench(const PaperBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_PAPER_BENCH_H_
