// bench data-parallel: N worker processes (this binary again) train one
// model with Gloo ring all-reduce over loopback TCP, next to one worker on
// all rows with the same global batch. Shares are split locally, or come
// from a broker as they would to edge nodes in a group (an MQTT shared
// subscription $share/mliot-dp/TOPIC, a Kafka consumer group mliot-dp).
#ifndef MLIOT_BENCH_DATA_PARALLEL_BENCH_H_
#define MLIOT_BENCH_DATA_PARALLEL_BENCH_H_

#include <string>

#include "absl/status/statusor.h"
#include "bench/training_setup.h"
#include "nlohmann/json.hpp"

namespace mliot::bench {

struct DataParallelBenchOptions {
  int workers = 2;
  std::string data = "fashion-mnist:train:20000";
  int epochs = 2;
  std::string broker;   // "": shares split locally; mqtt | kafka: shares from the broker
  SgdBenchModel model;  // model.batch is the global batch, split over the workers
  int repeat = 1;

  DataParallelBenchOptions() { model.batch = 128; }
};

// What a worker process is told (the benchmark's internal flags).
struct DataParallelWorker {
  int rank = -1;
  std::string store;       // rendezvous and result directory
  std::string broker_uri;  // its topic, when shares come from a broker
};

// `make bench-quick`: 4,000 rows, one epoch, 1,000 test rows.
void MakeQuick(DataParallelBenchOptions& options);

// {workers, broker, share_rows, duplicates, accuracy_single,
//  accuracy_parallel, allreduce_ms_per_step, bytes_per_step, steps,
//  replicas_identical, checkpointed, train_s_single, train_s_parallel,
//  wall_s_parallel, model, global_batch, machine, range, repeats}.
absl::StatusOr<nlohmann::json> RunDataParallelBench(const DataParallelBenchOptions& options);

// One worker process: joins the group, trains on its share, writes its
// report to STORE/result-RANK.json.
absl::Status RunDataParallelWorker(const DataParallelBenchOptions& options,
                                   const DataParallelWorker& worker);

}  // namespace mliot::bench

#endif  // MLIOT_BENCH_DATA_PARALLEL_BENCH_H_
