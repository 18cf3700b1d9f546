// What the experiments of `bench paper` share: the run's context (options,
// scratch space, the featurized data sets, loaded once), claims, sampling,
// progress; and the experiments themselves, one file each in this folder:
//
//   fig3.cc    device benchmark: training time, CPU, memory per kind per device
//   fig5.cc    dimensionality reduction x HPO
//   fig6.cc    lazy training
//   fig7.cc    stage-1 classifiers
//   fig8.cc    two-stage serving of a background-heavy audio stream
//   fig9.cc    adaptation under noise with corrective feedback
//   placement.cc  fig10-12: traces placed on the testbed under policies
//   colocation.cc fig13: co-located tasks, admission by predicted latency
//   table4.cc  Table 4: mliot against general-purpose baselines
//
// Each returns its report without `experiment`, `elapsed_s`, `figure`,
// `machine` (the runner in paper_bench.cc adds those).
#ifndef MLIOT_BENCH_PAPER_EXPERIMENT_H_
#define MLIOT_BENCH_PAPER_EXPERIMENT_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"
#include "bench/iot_data.h"
#include "bench/paper_bench.h"
#include "data/dataset.h"
#include "nlohmann/json.hpp"

namespace mliot::bench::paper {

struct Context {
  const PaperBenchOptions& options;
  std::string work;                             // scratch space of this run
  std::map<std::string, FeaturizedSplit> data;  // loaded once per run

  // "image" (Fashion-MNIST), "audio" (DCASE), "sensor" (sp-sw-har).
  absl::StatusOr<const FeaturizedSplit*> Data(const std::string& type);
};

// One line of progress on stderr, "[paper] ...".
void Say(const std::string& line);

// {claim, paper, mliot, held}.
nlohmann::json Claim(const std::string& claim, nlohmann::json paper, nlohmann::json mliot,
                     bool held);

// `n` rows of `data` drawn at random (seeded), in their original order.
Dataset Sample(const Dataset& data, int64_t n, uint64_t seed);

// Quick mode's audio: two tone classes ("low", "high"), 1 s clips at 16 kHz.
absl::Status WriteToneClips(const std::string& dir, int per_class, uint64_t seed);

absl::StatusOr<nlohmann::json> Fig3(Context& c);
absl::StatusOr<nlohmann::json> Fig5(Context& c);
absl::StatusOr<nlohmann::json> Fig6(Context& c);
absl::StatusOr<nlohmann::json> Fig7(Context& c);
absl::StatusOr<nlohmann::json> Fig8(Context& c);
absl::StatusOr<nlohmann::json> Fig9(Context& c);
absl::StatusOr<nlohmann::json> Fig10(Context& c);
absl::StatusOr<nlohmann::json> Fig11(Context& c);
absl::StatusOr<nlohmann::json> Fig12(Context& c);
absl::StatusOr<nlohmann::json> Fig13(Context& c);
absl::StatusOr<nlohmann::json> Table4(Context& c);

}  // namespace mliot::bench::paper

#endif  // MLIOT_BENCH_PAPER_EXPERIMENT_H_
