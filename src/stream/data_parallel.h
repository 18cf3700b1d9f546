// Data-parallel SGD: every worker holds the same model and its own share of
// the data (from a shared subscription or consumer group in a deployment);
// each step it computes gradients on global_batch / workers of its rows,
// the group averages them (Gloo all-reduce, stream/allreduce.h) and every
// worker applies the same update, so the replicas stay identical. One
// worker with the whole data and the global batch is the reference run.
#ifndef MLIOT_STREAM_DATA_PARALLEL_H_
#define MLIOT_STREAM_DATA_PARALLEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "stream/allreduce.h"
#include "stream/sgd_model.h"

namespace mliot::stream {

struct DataParallelOptions {
  int epochs = 2;
  int global_batch = 128;  // rows per step over all workers
  // Rows over all shares (sets the steps per epoch); 0: the sum of the
  // shares, exchanged through the group (shares fed by a broker are uneven).
  // Steps per epoch never exceed what the smallest share holds.
  int64_t total_rows = 0;
  uint64_t seed = 1;
  std::string checkpoint;  // rank 0 writes it after each epoch when set
};

struct DataParallelReport {
  int64_t steps = 0;
  double train_s = 0;
  double allreduce_s = 0;     // time in the gradient all-reduce
  int64_t bytes_per_step = 0; // gradient bytes each worker contributes per step
  double parameter_sum = 0;   // a fingerprint to check the replicas agree
  std::vector<int64_t> share_rows;  // every rank's share, rank order
};

// `group` null: one worker. Errors name the rank.
absl::StatusOr<DataParallelReport> TrainDataParallel(const Dataset& share, SgdModel& model, AllReduceGroup* group,
                                                     const DataParallelOptions& options);

// Every rank's `rows`, in rank order, exchanged through the group.
absl::StatusOr<std::vector<int64_t>> GatherCounts(AllReduceGroup& group, int64_t rows);

// Rows of `data` whose index is congruent to `rank` modulo `workers`.
Dataset ShareOf(const Dataset& data, int rank, int workers);

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_DATA_PARALLEL_H_
