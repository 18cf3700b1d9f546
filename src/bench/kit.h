// The benchmark kit: what every `mliot bench ...` uses to measure the same way.
//
//   * RunInterleaved: mliot and its peer alternate (a, b, a, b, ...), N times
//     each, so that a slow phase of a noisy machine hits both alike;
//   * Summarize: one report from N: every number is the median over the
//     repeats and `range` gives [min, max] per figure (dotted path);
//   * RunPeer: a Python peer from bench/peers/ with a timeout, its one JSON
//     line parsed, a missing Debian package named;
//   * MachineFacts: cpu_model, cores, memory_gib, kernel, build_type, commit.
//
//   std::vector<nlohmann::json> runs;
//   MLIOT_RETURN_IF_ERROR(RunInterleaved(repeat, {ours, peer}, clock, &runs_by_step));
//   nlohmann::json report = Summarize(runs);   // medians + "range"
//   report["machine"] = MachineFacts();
#ifndef MLIOT_BENCH_KIT_H_
#define MLIOT_BENCH_KIT_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

// What `bench list` shows of one benchmark.
struct BenchmarkInfo {
  std::string name;
  std::string measures;
  std::vector<std::string> targets;
};

// Every benchmark `mliot bench` has, in the order `bench list` prints them.
const std::vector<BenchmarkInfo>& Benchmarks();

// One step of an interleaved run: measures once and reports its figures.
using Step = std::function<absl::StatusOr<nlohmann::json>()>;

// Runs the steps in turn, `repeat` rounds (a, b, a, b, ...); the reports of
// step i are (*reports)[i], in round order. Stops at the first error.
absl::Status RunInterleaved(int repeat, const std::vector<Step>& steps,
                            std::vector<std::vector<nlohmann::json>>* reports);

// Merges reports of the same shape: every number becomes the median over
// the reports (the mean of the middle two for an even count), a true/false
// figure is true only when it was true in every report (replicas_identical
// must hold in every round), every other value is the first report's. With more than one report, adds
// "range": {"dotted.path": [min, max]} for each number that varied or not,
// and "repeats": N.
nlohmann::json Summarize(const std::vector<nlohmann::json>& reports);

// Runs `once` `repeat` times (its own peer, when it has one, runs inside
// each round, so the two alternate) and summarizes: the single report for
// one round, else Summarize() of all; `machine` is added either way.
absl::StatusOr<nlohmann::json> RunRepeated(int repeat, const Step& once);

// The largest value a figure took over the repeats: range[path][1] when
// the report has a range for it, else the figure itself (a dotted path);
// 0 when absent. For exit codes: "lost" must be 0 in every round.
double Largest(const nlohmann::json& report, const std::string& path);

// The smallest likewise (range[path][0]).
double Smallest(const nlohmann::json& report, const std::string& path);

// A progress line on stderr: "bench NAME: LINE".
void Progress(const std::string& name, const std::string& line);

// A directory for one run's files: $TMPDIR/mliot-bench-WHAT-PID.
std::string TempDir(const std::string& what);

// A peer script under bench/peers/.
struct PeerRun {
  std::string script;              // e.g. "features_peer.py"
  std::vector<std::string> args;
  std::chrono::seconds timeout{600};
  std::string source_dir;          // where bench/peers/ is; empty: looked up
  std::string python = "/usr/bin/python3";
};

// Runs the peer and parses the JSON object on its last stdout line.
// Errors: NotFound (script or python missing), FailedPrecondition naming the
// Debian package when the peer failed on a missing module
// (`scripts/install-deps --peers` installs them), DeadlineExceeded after the
// timeout (the peer is killed), Internal when it failed or printed no JSON
// (with its last stderr line).
absl::StatusOr<nlohmann::json> RunPeer(const PeerRun& run);

// A file of the source tree (e.g. "testbeds/paper.yaml"), looked up in
// `source_dir`, $MLIOT_SOURCE_DIR, ".", the build's parent and the
// configured source root; "" when none has it.
std::string FindSourceFile(const std::string& relative, const std::string& source_dir = "");

// Runs ARGS (args[0] a path, stdin /dev/null) and parses the JSON object or
// list on its last stdout line; errors as RunPeer's, prefixed by `name`, with the
// last line of its stderr when it exited with a code not in `ok_exits`.
absl::StatusOr<nlohmann::json> RunForJson(const std::vector<std::string>& args,
                                          std::chrono::seconds timeout, const std::string& name,
                                          const std::vector<int>& ok_exits = {0});

// The Debian package that provides Python module `module` ("numpy" ->
// "python3-numpy"), or "" when unknown.
std::string DebianPackageForModule(const std::string& module);

// {cpu_model, cores, memory_gib, kernel, build_type, commit}.
nlohmann::json MachineFacts();

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_KIT_H_
