// The streaming trainer: SGD on mini-batches drawn from the tiered cache
// while ingest keeps filling it. A loader thread assembles batches (reading
// the cache, decoding payloads) into a bounded prefetch queue; the training
// thread pops them, steps the model and reports each sample's loss back to
// the cache (for importance-aware caching and sampling).
//
// Epoch 1, when `arrival_order` is set, visits each sample once as it
// arrives (the stream is the data set), drawing at random from a shuffle
// buffer of arrived samples and waiting only when that is empty; later
// epochs visit them in the sampler's order. The trainer's waits on the queue are the
// stall time; the clock starts when the first sample is in the cache (the
// time before a device starts sending is not the trainer's to spend).
// After each epoch the model is checkpointed atomically.
#ifndef MLIOT_STREAM_STREAM_TRAINER_H_
#define MLIOT_STREAM_STREAM_TRAINER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "data/dataset.h"
#include "stream/sgd_model.h"
#include "stream/tiered_cache.h"

namespace mliot::stream {

struct StreamTrainOptions {
  std::vector<std::string> class_names;  // label i of the model = class_names[i]
  int64_t epoch_samples = 0;   // samples per epoch: the data set's size
  int epochs = 2;
  int batch = 64;
  int prefetch_batches = 8;    // the bounded queue between loader and trainer
  bool arrival_order = true;   // epoch 1 trains on samples as they arrive
  int shuffle_window = 4096;   // epoch 1 draws at random from this many arrived samples
  std::string sampler = "uniform";  // later epochs (all epochs when !arrival_order)
  bool hits_first = false;     // cache-hits-first batching over the prefetch window
  int refresh_per_epoch = 10;  // importance refreshes per epoch
  std::string checkpoint;      // written after each epoch when set
  double idle_timeout_s = 30;  // ends an epoch-1 wait for a stream that stopped
  const std::atomic<bool>* cancel = nullptr;  // when set and true: stop (Cancelled)
  uint64_t seed = 1;
};

struct StreamTrainReport {
  int epochs = 0;
  int64_t samples = 0;        // samples trained on
  double train_s = 0;         // first sample in the cache -> last step
  double wait_s = 0;          // the trainer blocked on the prefetch queue
  double trainer_cpu_s = 0;   // CPU time of the training thread (train_s - wait_s - this: preempted)
  double stall_fraction = 0;  // wait_s / train_s
  double samples_per_s = 0;
  std::vector<double> epoch_s;
  std::vector<double> epoch_loss;
  int64_t short_epochs = 0;   // epoch-1 waits that timed out (the stream stopped early)
  int64_t skipped = 0;        // samples with an unknown label or the wrong size, not trained on
};

using TrainProgress = std::function<void(int epoch, int64_t samples, double loss)>;

absl::StatusOr<StreamTrainReport> TrainFromCache(TieredCache& cache, SgdModel& model, const StreamTrainOptions& options,
                                                 const TrainProgress& progress = nullptr);

// The same training from an in-RAM data set (no cache, no loader thread):
// the peer the streaming trainer is compared with. Epoch 1 in row order
// when `arrival_order`, later epochs uniform.
absl::StatusOr<StreamTrainReport> TrainInRam(const Dataset& data, SgdModel& model, const StreamTrainOptions& options);

}  // namespace mliot::stream

#endif  // MLIOT_STREAM_STREAM_TRAINER_H_
