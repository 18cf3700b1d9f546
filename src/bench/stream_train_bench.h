// bench stream-train: training while a device streams the data set through
// MQTT or Kafka (the device is `mliot device simulate` in its own process,
// the node ingests into a tiered cache and trains from it as samples
// arrive), next to the same training from the data set in RAM.
#ifndef MLIOT_BENCH_STREAM_TRAIN_BENCH_H_
#define MLIOT_BENCH_STREAM_TRAIN_BENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "bench/training_setup.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct StreamTrainBenchOptions {
  std::string broker = "mqtt";  // mqtt | kafka
  std::string data = "fashion-mnist:train";
  int epochs = 2;
  std::string rate = "max";  // device samples per second, or max
  double capacity = 0.25;    // RAM tier, a fraction of the data
  int device_nice = 10;      // the device stands for other machines: below the node
  int ingest_nice = 5;
  int device_batch = 16;  // samples per message
  SgdBenchModel model;
  int repeat = 1;

  StreamTrainBenchOptions() { model.model = "cnn"; }
};

// `make bench-quick`: 2,000 rows, one epoch of the mlp.
void MakeQuick(StreamTrainBenchOptions& options);

// {accuracy, stall_fraction, samples_per_s, epochs, peer: {samples_per_s,
//  accuracy}, fraction_of_peer, broker, model, samples, skipped, train_s,
//  wait_s, trainer_cpu_s, peer_trainer_cpu_s, epoch_s, peer_epoch_s,
//  checkpointed, ingest: {published, ingested, lost, malformed, duplicates,
//  msgs_per_s, put_errors}, cache: {...}, machine, range, repeats}.
// Nothing lost means Largest(report, "ingest.lost") == 0.
absl::StatusOr<nlohmann::json> RunStreamTrainBench(const StreamTrainBenchOptions& options);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_STREAM_TRAIN_BENCH_H_
