// A running emulated testbed for the experiments that place tasks (fig10-12,
// fig13): `mliot up --testbed FILE` as a child process, and the client
// commands (submit, wait, predict, cancel, nodes) run as children of their
// own, as a user would run them, each answering one JSON line.
#ifndef MLIOT_BENCH_PAPER_TESTBED_RUN_H_
#define MLIOT_BENCH_PAPER_TESTBED_RUN_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "nlohmann/json.hpp"

namespace mliot::bench::paper {

class TestbedRun {
 public:
  // Starts the testbed of `file` with its state under `dir` and waits until
  // `devices` nodes are alive (each benchmarks itself first).
  static absl::StatusOr<std::unique_ptr<TestbedRun>> Start(const std::string& file,
                                                           const std::string& dir, int devices);
  ~TestbedRun();  // Ctrl-C to `mliot up`; SIGKILL after 20 s

  // `mliot ARGS --coordinator ADDR --json`: the JSON of its last line.
  // Exit code 3 (a refused submit) still answers its JSON.
  absl::StatusOr<nlohmann::json> Cli(std::vector<std::string> args,
                                     std::chrono::seconds timeout = std::chrono::seconds(120));

  // Submits a task: `data` is a CSV file (label column `label`), training
  // budget `budget_s`, with the policy's require / prefer.
  absl::StatusOr<nlohmann::json> Submit(const std::string& task, const std::string& data,
                                        double budget_s, const std::string& require,
                                        const std::string& prefer);

  // The nodes, as `mliot nodes --json` lists them.
  absl::StatusOr<nlohmann::json> Nodes() { return Cli({"nodes"}); }

  // Waits until `task`'s training has ended (lazy training serves before
  // it has spent its budget).
  absl::Status WaitTrained(const std::string& task, std::chrono::seconds timeout);

  const std::string& dir() const { return dir_; }

 private:
  // Until every device's CPU (percent of its quota) is under
  // kIdleCpuPercent, at most kIdleTimeoutS: start-up work has faded.
  static constexpr double kIdleCpuPercent = 25;
  static constexpr int kIdleTimeoutS = 40;
  void WaitIdle();

  TestbedRun() = default;
  std::string dir_, address_;
  pid_t up_ = -1;
};

// The application traces' data (paper §6.1): the training rows every trace
// trains on and T1-T6, six disjoint parts of the test rows, as CSV files in
// `dir`. The sensor data set's featurized rows (1,000 training rows: the
// small devices train several traces at once); quick mode: synthetic rows.
struct TraceFiles {
  std::string train;
  std::vector<std::string> parts;  // T1..T6
};
struct Context;
absl::StatusOr<TraceFiles> WriteTraceFiles(Context& c, const std::string& dir);

// `d` as a CSV file (f0..fN, label); the label column holds class names.
absl::Status WriteCsvRows(const Dataset& d, const std::string& path);

// Two well-separated classes of 4 features (quick mode's trace data).
Dataset SyntheticRows(int64_t rows, uint64_t seed);

}  // namespace mliot::bench::paper

#endif  // MLIOT_BENCH_PAPER_TESTBED_RUN_H_
