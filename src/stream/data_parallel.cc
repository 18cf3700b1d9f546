#include "stream/data_parallel.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/clock.h"
#include "common/status_util.h"

namespace mliot::stream {
namespace {

double Now() { return RealClock()->NowSeconds(); }

}  // namespace

absl::StatusOr<std::vector<int64_t>> GatherCounts(AllReduceGroup& group, int64_t rows) {
  // An all-gather as a mean: each rank fills its own slot; counts stay exact
  // (well below 2^24 per share).
  std::vector<float> slots(static_cast<size_t>(group.size()), 0.0f);
  slots[static_cast<size_t>(group.rank())] = static_cast<float>(rows);
  MLIOT_RETURN_IF_ERROR(group.AverageInPlace(slots));
  std::vector<int64_t> out;
  for (float v : slots) out.push_back(std::llround(static_cast<double>(v) * group.size()));
  return out;
}

Dataset ShareOf(const Dataset& data, int rank, int workers) {
  std::vector<int64_t> rows;
  for (int64_t i = rank; i < data.rows; i += workers) rows.push_back(i);
  return data.Subset(rows);
}

absl::StatusOr<DataParallelReport> TrainDataParallel(const Dataset& share, SgdModel& model, AllReduceGroup* group,
                                                     const DataParallelOptions& o) {
  const int workers = group == nullptr ? 1 : group->size();
  const int rank = group == nullptr ? 0 : group->rank();
  if (o.global_batch < workers || o.global_batch % workers != 0) {
    return absl::InvalidArgumentError(absl::StrCat("data-parallel: global batch ", o.global_batch,
                                                   " is not a multiple of ", workers, " workers"));
  }
  const int64_t local_batch = o.global_batch / workers;
  DataParallelReport r;
  if (group != nullptr) {
    MLIOT_ASSIGN_OR_RETURN(r.share_rows, GatherCounts(*group, share.rows));
  } else {
    r.share_rows = {share.rows};
  }
  const int64_t total = o.total_rows > 0 ? o.total_rows : std::accumulate(r.share_rows.begin(), r.share_rows.end(), int64_t{0});
  const int64_t smallest = *std::min_element(r.share_rows.begin(), r.share_rows.end());
  const int64_t steps_per_epoch = std::min(total / o.global_batch, smallest / local_batch);
  if (steps_per_epoch < 1) {
    return absl::InvalidArgumentError(absl::StrCat("data-parallel: the smallest share holds ", smallest,
                                                   " rows, not one step of ", local_batch, " (rank ", rank, ")"));
  }
  const std::span<float> grads = model.GradientBuffer();
  r.bytes_per_step = static_cast<int64_t>(grads.size() * sizeof(float));
  // Same seed, same initial weights; the broadcast makes sure of it.
  if (group != nullptr) MLIOT_RETURN_IF_ERROR(group->Broadcast(model.ParameterBuffer(), 0));
  // Each rank shuffles its own share with its own stream.
  std::mt19937_64 rng(o.seed * 1000003u + static_cast<uint64_t>(rank));
  std::vector<int64_t> order(static_cast<size_t>(share.rows));
  std::vector<float> x(static_cast<size_t>(local_batch * share.cols));
  std::vector<int32_t> y(static_cast<size_t>(local_batch));
  const double start = Now();
  for (int epoch = 0; epoch < o.epochs; ++epoch) {
    std::iota(order.begin(), order.end(), 0);
    std::shuffle(order.begin(), order.end(), rng);
    for (int64_t step = 0; step < steps_per_epoch; ++step) {
      for (int64_t i = 0; i < local_batch; ++i) {
        const int64_t row = order[static_cast<size_t>(step * local_batch + i)];
        std::copy_n(share.row(row), share.cols, x.data() + i * share.cols);
        y[static_cast<size_t>(i)] = share.labels[static_cast<size_t>(row)];
      }
      model.SetLearningRateScale(CosineScale(r.steps, steps_per_epoch * o.epochs));
      model.Backward(x.data(), y.data(), local_batch, nullptr);
      if (group != nullptr) {
        const double t0 = Now();
        MLIOT_RETURN_IF_ERROR(group->AverageInPlace(grads));
        r.allreduce_s += Now() - t0;
      }
      model.Apply();
      ++r.steps;
    }
    if (rank == 0 && !o.checkpoint.empty()) MLIOT_RETURN_IF_ERROR(model.SaveCheckpoint(o.checkpoint));
  }
  r.train_s = Now() - start;
  const std::span<float> params = model.ParameterBuffer();
  r.parameter_sum = std::accumulate(params.begin(), params.end(), 0.0);
  return r;
}

}  // namespace mliot::stream
