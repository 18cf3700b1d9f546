// Flags every `mliot bench ...` subcommand shares (--repeat, --quick,
// --json), the training benchmarks' model flags, and how a report is printed.
#ifndef MLIOT_CLI_BENCH_FLAGS_H_
#define MLIOT_CLI_BENCH_FLAGS_H_

#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "bench/training_setup.h"
#include "nlohmann/json.hpp"

namespace CLI {
class App;
}

namespace mliot::cli {

struct BenchFlags {
  bool quick = false;
  bool json = false;
  // Adds --quick (`quick_means` says what it runs; `make_quick` shrinks the
  // options), --repeat into `*repeat` (the benchmark's options; null: the
  // benchmark has no repeats) and --json to `app`. Call it before adding the
  // benchmark's own options: CLI11 stores options in the order they were
  // added, so flags given with --quick (--data, --repeat ...) still win over it.
  void Add(CLI::App* app, const std::string& quick_means, std::function<void()> make_quick,
           int* repeat);
};

// --model, --test, --hidden, --batch, --learning-rate, --threads, --seed.
void AddSgdModelFlags(CLI::App* app, bench::SgdBenchModel* model);

// Prints the report (one JSON line with --json, else indented) and returns
// the exit code: Fail() for an error, 1 when `held` is false (the report is
// printed first: it says what did not hold), else 0.
int PrintBenchReport(const absl::StatusOr<nlohmann::json>& report, const BenchFlags& flags,
                     bool held = true);

}  // namespace mliot::cli

#endif  // MLIOT_CLI_BENCH_FLAGS_H_
